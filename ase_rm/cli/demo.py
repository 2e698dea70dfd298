"""``ase-rm demo --out DIR``: the one-shot diamond experiment, end to end."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from .args import repulsion

if TYPE_CHECKING:
    from ..demo.run import DemoConfig, DemoResult

EXAMPLES = """examples:
  ase-rm demo --checkpoint diamond --starts random --attempts 4 --repulsion 1.1,5 --out published_search_pushed
  ase-rm demo --quick --volume-per-atom 4.5 --seed 1 --core-radius 1.1 --core-energy 2 --energy-weight 1000 --out quick
  ase-rm demo --lattice 3.3 --sizes 4,8,16 --attempts 4,8,16 --max-steps 2000 --epochs 50 --label-repulsion-rc 1.2 \\
      --volumes 3.8:5.6:10 --no-progress --out big
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train on one diamond cell, search 2-12 C atoms, classify, plot",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out", help="output folder")
    p.add_argument("--quick", action="store_true", help="a small smoke run (CI): the pipeline, not Fig. 5")
    p.add_argument("--volume-per-atom", type=float, help="training cell density, Å^3/atom (default 4.41)")
    p.add_argument("--lattice", type=float, help="lattice constant of the cubic 8-atom training cell, Å")
    p.add_argument("--volumes", help="searched volume range per atom LOW:HIGH[:N], Å^3 (default 3.8:5.6:10)")
    p.add_argument("--sizes", help="numbers of C atoms searched, comma-separated (default 2,4,6,8,12)")
    p.add_argument("--epochs", type=int, help="training epochs (default 80)")
    p.add_argument("--attempts", help="starts per (size, volume): one number, or one per size, comma-separated "
                                      "(default 32 for 8 atoms, 4 for 2, 4, 6 and 12, 8 for other sizes)")
    p.add_argument("--max-steps", type=int, help="FIRE steps per relaxation (default 2000)")
    p.add_argument("--starts",
                   help="symmetric (default: random space groups, from the pymatgen plugin with pyxtal), "
                        "random (the published start; --starts random --attempts 4 is the published search), "
                        "mixed (half and half)")
    p.add_argument("--core-radius", type=float,
                   help="fixed core repulsion of the trained model below this C-C distance, Å (default 0: none)")
    p.add_argument("--core-energy", type=float, help="its strength A in A (r_c/r - 1)^2, eV (default 1)")
    p.add_argument("--label-repulsion-rc", type=float,
                   help="cutoff of the noise labels' pair repulsion, Å (default 0.75, the published crystal "
                        "recipe): noisy pairs closer than this are pushed apart in the labels")
    p.add_argument("--energy-weight", type=float,
                   help="train with the energy-difference loss at this weight (TrainConfig.energy_weight; "
                        "default 0: forces and stress only)")
    p.add_argument("--repulsion", type=repulsion, default=argparse.SUPPRESS, metavar="R,A|off",
                   help="fixed core repulsion A (R/r - 1)^2 eV added to the trained E~ for the search, "
                        "pairs closer than R Å; off: the model alone")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="skip training: use this model (path or shipped name)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _integers(text: str, message: str) -> tuple[int, ...]:
    """Comma-separated integers, or a ConfigError with ``message`` and the text."""
    from ..errors import ConfigError

    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"{message}, not {text!r}") from None


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import numpy as np

    from ..demo.run import QUICK, DemoConfig
    from ..errors import ConfigError

    cfg = QUICK if args.quick else DemoConfig()
    changes: dict[str, object] = {"seed": args.seed}
    for name in ("volume_per_atom", "lattice", "epochs", "max_steps", "starts", "core_radius", "core_energy",
                 "label_repulsion_rc", "energy_weight"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if "repulsion" in vars(args):
        changes["repulsion"] = args.repulsion
    if args.attempts:
        counts = _integers(args.attempts, "--attempts must be an integer or comma-separated integers")
        changes["attempts"] = counts[0] if len(counts) == 1 else counts
    if args.sizes:
        changes["sizes"] = _integers(args.sizes, "--sizes must be comma-separated integers")
    if args.volumes:
        try:
            parts = [float(x) for x in args.volumes.split(":")]
            low, high, n = parts[0], parts[1], int(parts[2]) if len(parts) > 2 else 10
        except (ValueError, IndexError):
            raise ConfigError(f"--volumes must be LOW:HIGH[:N], not {args.volumes!r}") from None
        changes["volumes"] = tuple(np.round(np.linspace(low, high, n), 3))
    return cfg.replace(**changes)


QUICK_NOTE = ("quick mode: a small smoke run ({atoms}-atom training cell, {epochs} epochs, {n} attempts) that "
              "checks the pipeline runs end to end; it is not expected to pass the Fig. 5 checks")
FULL_CHECKS = ("the full run (`ase-rm demo`) checks: cubic diamond lowest E~/atom at every volume, its minimum at "
               "the training density (4.4 +/- 0.15 Å^3/atom), and hexagonal diamond, stacking-faulted diamond and "
               "graphite each found; it exits 1 when a check fails")


def _report(result: DemoResult, cfg: DemoConfig, quick: bool) -> bool:
    """Print the summary; True when the run did what its mode promises."""
    from ..demo.run import training_cell

    c = result.checks
    print(f"ase-rm demo: {len(result.structures)} structures, {c['converged']} converged "
          f"(train {result.seconds['train']:.0f} s, search {result.seconds['search']:.0f} s, "
          f"total {result.seconds['total']:.0f} s)")
    print("classes (converged): " + ", ".join(f"{k} {v}" for k, v in c["counts"].items())
          + f"; unconverged {c['unconverged']}")
    where = c["volumes_where_cubic_is_not_lowest"]
    print(f"cubic diamond lowest E~/atom at every sampled volume: {'yes' if not where else 'no, not at ' + str(where)}")
    fit = c["cubic_minimum_fit"]
    print(f"cubic diamond minimum at {c['cubic_minimum_volume']} Å^3/atom"
          + (f" (parabola vertex {fit:.3f})" if fit else "") + f"; training cell {cfg.lattice_constant**3 / 8:.3f}"
          + f": {'ok' if c['cubic_minimum_ok'] else 'MISSED'} (target within 0.15)")
    print("found: " + ", ".join(f"{name} {'yes' if c[key] else 'no'}" for name, key in (
        ("hexagonal diamond", "found_hexagonal"), ("stacking-faulted diamond", "found_stacking_faulted"),
        ("graphite", "found_graphite"))))
    print(f"wrote {result.out}/structures.extxyz, summary.csv, energy_vs_volume.png, structures.png, checks.json; "
          f"model {result.checkpoint}")
    if quick:
        ok = c["converged"] > 0
        print(QUICK_NOTE.format(atoms=len(training_cell(cfg)), epochs=cfg.epochs, n=len(result.structures)))
        print(FULL_CHECKS)
        print(f"quick smoke run: {'ok' if ok else 'FAILED'} ({c['converged']} of {len(result.structures)} "
              "relaxations converged, all outputs written)")
        return ok
    print(f"all Fig. 5 checks passed: {'yes' if c['passed'] else 'NO'}")
    return bool(c["passed"])


def run(args: argparse.Namespace) -> int:
    from ..demo.run import run_demo

    cfg = _config(args)
    result = run_demo(args.out, cfg, progress=False if args.no_progress else None, checkpoint=args.checkpoint)
    (result.out / "checks.json").write_text(json.dumps(result.checks, indent=2, default=str))
    return 0 if _report(result, cfg, args.quick) else 1
