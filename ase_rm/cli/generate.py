"""``ase-rm generate MODEL --composition ... --protocol ...``: random structure search.

Under torchrun the attempts are shared out over the ranks (every world-th
attempt per rank, each into its own part file); rank 0 merges the parts into
``--out`` at the end. ``--resume`` works per rank and on a merged file.
``--workers N`` launches that itself: N one-thread ranks on this machine.
``--best-of K`` is K times the attempts (all kept in OUT's ``.restarts``
file), then :func:`ase_rm.rss.select.best_of_blocks`, the selection of
``ase-rm select --best-of K``.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .args import box_lengths, non_negative_int, positive_int
from .removed import removed

EXAMPLES = """examples:
  ase-rm generate qm7b -c C5H9NO --n 64 --seed 1 --box 12,6,6 --out gen.extxyz --overwrite
  ase-rm generate qm7b -c C5NO --enumerate-h --n 32 --best-of 8 --workers 2 --protocol fast.toml \\
      --out best.extxyz --resume --no-progress
  ase-rm generate mp20 -c KZnF3 --formula-units 2 --protocol crystal --volume-per-atom 14:20 \\
      --batch-atoms 2048 --device cuda --out kznf3.extxyz

A protocol file changes a preset: fast.toml with
  extends = "molecule"
  [engine]
  compile = true     # torch.compile: ~1.6x faster steps (dtype = "float64": reproducible bits)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate structures by random structure search on E~",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("--composition", "-c", action="append", required=True,
                   help="formula, e.g. C5H9NO or KZnF3 (repeat for several)")
    p.add_argument("--n", "--attempts", dest="n", type=positive_int,
                   help="attempts per composition (default: the protocol's; under torchrun spell it --attempts)")
    p.add_argument("--protocol", default="molecule",
                   help="a preset (molecule, molecule-hop, diamond, crystal) or a protocol file (.toml/.yaml; "
                        "its [engine] table sets dtype and compile)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--best-of", type=positive_int, default=1, metavar="K",
                   help="relax K random starts per attempt and keep the lowest-E~ one, converged first: "
                        "K times the attempts, all kept in OUT's .restarts file, then the selection of "
                        "`ase-rm select --best-of K` (which also ranks by other rules, --rank-by)")
    p.add_argument("--out", required=True, help="output extxyz (results are appended as they finish; with "
                                                "--best-of, the selection is written at the end)")
    p.add_argument("--resume", action="store_true", help="keep results already in --out, make the rest")
    p.add_argument("--overwrite", action="store_true",
                   help="replace what --out already holds (without --resume or --overwrite an --out with "
                        "results in it is refused)")
    p.add_argument("--enumerate-h", action="store_true",
                   help="the formula lists heavy atoms: add hydrogens as docs/method.md section 4")
    p.add_argument("--formula-units", type=positive_int, default=1, help="multiply the composition")
    p.add_argument("--volume-per-atom", type=volume_text, metavar="V|LOW:HIGH",
                   help="crystal start volume per atom, Å^3: V or LOW:HIGH")
    p.add_argument("--box", type=box_lengths, metavar="L|LX,LY,LZ",
                   help="molecule start box edge lengths, Å (default: the protocol's, 10,5,5 for molecule)")
    p.add_argument("--batch-atoms", type=positive_int, default=4096, help="atoms per relaxation batch (memory bound)")
    removed(p, "--max-atoms", "the batch memory bound is --batch-atoms, as in every command")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="share the attempts over N one-thread processes on this machine (launches torchrun; "
                        "the fastest path on a multi-core CPU)")
    p.add_argument("--no-progress", action="store_true")
    engine = "put it in a protocol file's [engine] table (see the end of ase-rm generate --help)"
    removed(p, "--engine", "the batched engine is the one engine; the serial ASE path is "
                           "ase_rm.testing.search_with_ase")
    removed(p, "--optimizer", "ASE optimizers run through ase_rm.testing.search_with_ase(..., optimizer=...)")
    removed(p, "--dtype", f"{engine}: dtype = \"float64\"")
    removed(p, "--compile", f"{engine}: compile = true", takes_value=False)
    removed(p, "--rank-by", "generate --best-of K keeps every relaxation beside OUT (gen.extxyz: "
                            "gen.restarts.extxyz); select from it: ase-rm select gen.restarts.extxyz best.extxyz "
                            "--best-of K --rank-by RULE")
    p.set_defaults(func=run, subparser=p)


def parse_volume(text: str | None) -> dict[str, Any]:
    """'4.4' -> volume_per_atom; '3.8:5.6' -> volume_range."""
    if text is None:
        return {}
    try:
        values = [float(x) for x in text.split(":")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(math.isfinite(v) and v > 0 for v in values) or values != sorted(values):
        raise ConfigError(f"--volume-per-atom must be V or LOW:HIGH in Å^3 (positive, LOW <= HIGH), not {text!r}")
    if len(values) == 2:
        return {"volume_per_atom": None, "volume_range": (values[0], values[1])}
    return {"volume_per_atom": values[0], "volume_range": None}


def volume_text(text: str) -> str:
    """argparse type of --volume-per-atom: checked at parse time, kept as text."""
    try:
        parse_volume(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--volume-per-atom ")) from None
    return text


def worker_command(args: argparse.Namespace) -> list[str]:
    """The torchrun command that runs this ``generate`` on ``args.workers`` one-thread ranks.

    The options are written back from the parsed values (each under its
    longest spelling: ``--attempts``, which torchrun does not swallow as it
    does ``--n``), so every option of the subcommand is forwarded.
    """
    options: list[str] = []
    positionals: list[str] = []
    for action in args.subparser._actions:
        value = getattr(args, action.dest, None)
        if action.dest in ("help", "workers") or value is None:
            continue
        if not action.option_strings:
            positionals.append(str(value))
            continue
        flag = max(action.option_strings, key=len)
        if isinstance(action, argparse._StoreTrueAction):
            options += [flag] if value else []
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                options += [flag, str(item)]
        elif isinstance(value, tuple):
            options += [flag, ",".join(str(x) for x in value)]
        else:
            options += [flag, str(value)]
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.workers}",
            "-m", "ase_rm.cli.main", "--threads", "1"]
    head += ["--traceback"] * bool(args.traceback) + ["--verbose"] * bool(args.verbose)
    return [*head, "generate", *positionals, *options]


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, not {args.workers}")
    if args.best_of < 1:
        raise ConfigError(f"--best-of must be >= 1, not {args.best_of}")
    if args.workers > 1:
        if "WORLD_SIZE" in os.environ:
            raise ConfigError("--workers launches its own ranks; under torchrun leave it out")
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return run_forwarding(worker_command(args), env)
    return _generate(args)


def run_forwarding(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` and wait for it, passing SIGTERM and SIGHUP on to it: a
    ``kill`` of ``ase-rm generate --workers N`` stops its torchrun and ranks too
    (they would otherwise run on, orphaned). On Ctrl-C (which the terminal sends
    to all of them) it waits for the ranks to stop before raising."""
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, frame: Any) -> None:
        child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.wait()
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _generate(args: argparse.Namespace) -> int:
    from .. import keys
    from ..outputs import claim_output, discard
    from ..rss import attempts_for, expand_compositions, search
    from ..rss.output import merge_parts, restarts_path
    from ..rss.preflight import check_request
    from ..rss.select import best_of_blocks
    from ..training.distributed import Dist

    protocol = _protocol(args)
    if args.box is not None:
        if protocol.start.kind != "molecule":
            raise ConfigError(f"--box sets a molecule start box; protocol {protocol.name!r} makes crystals "
                              "(use --volume-per-atom)")
        protocol = replace(protocol, start=replace(protocol.start, box=args.box))
    compositions = [
        comp for formula in args.composition
        for comp in expand_compositions(formula, enumerate_h=args.enumerate_h, formula_units=args.formula_units)
    ]
    out = Path(args.out)
    claim_output(out, args.resume, args.overwrite, related=[restarts_path(out)] if args.best_of > 1 else [])
    dist = Dist.from_env()  # under torchrun: every rank makes its share of the attempts
    out = Path(args.out)
    claim_output(out, args.resume, args.overwrite, related=[restarts_path(out)] if args.best_of > 1 else [])
    potential, meta = _potential(args.model, protocol, args.device, dist.world)
    check_request(compositions, protocol.start, meta["species"], meta.get("volume_fit") or None)
    n = protocol.attempts if args.n is None else args.n
    target = restarts_path(out) if args.best_of > 1 else out  # best-of: every relaxation, then the selection
    if dist.world > 1 and dist.is_main and args.overwrite:  # a merged file of an earlier run
        discard(out, restarts_path(out))
    results = search(
        potential, attempts_for(compositions, protocol, n * args.best_of), protocol, seed=args.seed,
        element_volumes=meta.get("volume_fit") or None, out=target, resume=args.resume,
        max_atoms_per_batch=args.batch_atoms, progress=not args.no_progress and dist.is_main,
        shard=(dist.rank, dist.world), overwrite=args.overwrite,
    )
    if dist.world > 1:
        import torch.distributed

        torch.distributed.barrier()
        if not dist.is_main:
            return 0
        results = merge_parts(target, dist.world, keys.RM_ATTEMPT)
    if args.best_of > 1:
        import ase.io

        results = best_of_blocks(results, args.best_of)
        ase.io.write(out, results, format="extxyz")
    converged = sum(bool(a.info[keys.RM_CONVERGED]) for a in results)
    print(f"{len(results)} structures ({converged} converged) written to {args.out}")
    return 0


def _protocol(args: argparse.Namespace) -> Any:
    """The protocol asked for, with --volume-per-atom applied to its start."""
    from ..rss import get_protocol

    protocol = get_protocol(args.protocol)
    volume = parse_volume(args.volume_per_atom)
    if volume:
        protocol = replace(protocol, start=replace(protocol.start, **volume))
    return protocol


def _potential(model: str, protocol: Any, device: str, world: int) -> tuple[Any, dict[str, Any]]:
    """The model on this rank's device, as the protocol's [engine] table asks (dtype, compile)."""
    import torch

    from ..checkpoint import load_potential
    from ..potential import Potential

    if world > 1 and device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    potential, meta = load_potential(model, device=device, dtype=getattr(torch, protocol.engine.dtype))
    if protocol.engine.compile:
        potential = Potential(potential.model, compiled=True, static_degree=True).eval()
    return potential, meta
