"""``ase-rm generate MODEL --composition ... --protocol ...``: random structure search.

Under torchrun the attempts are shared out over the ranks (every world-th
attempt per rank, each into its own part file); rank 0 merges the parts into
``--out`` at the end. ``--resume`` works per rank and on a merged file.
``--workers N`` launches that itself: N one-thread ranks on this machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate structures by random structure search on E~")
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("--composition", "-c", action="append", required=True,
                   help="formula, e.g. C5H9NO or KZnF3 (repeat for several)")
    p.add_argument("--n", "--attempts", dest="n", type=int,
                   help="attempts per composition (default: the protocol's; under torchrun spell it --attempts)")
    p.add_argument("--protocol", default="molecule",
                   help="a preset (molecule, molecule-hop, diamond, crystal) or a protocol file (.toml/.yaml)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--best-of", type=int, default=1, metavar="K",
                   help="relax K random starts per attempt and keep the lowest-E~ one, converged first "
                        "(K times the work; every relaxation also goes to OUT's .restarts file)")
    p.add_argument("--rank-by", choices=("energy", "bonds", "valence"), default="energy",
                   help="with --best-of: how an attempt's relaxation is picked: energy (converged, then lowest "
                        "E~ per atom), bonds (converged, then passing the covalent-radius bond screen of "
                        "ase_rm.rss.screen, then lowest E~) or valence (as bonds, then having a neutral Lewis "
                        "structure); bonds and valence for molecules only")
    p.add_argument("--out", required=True, help="output extxyz (results are appended as they finish)")
    p.add_argument("--resume", action="store_true", help="keep results already in --out, make the rest")
    p.add_argument("--enumerate-h", action="store_true",
                   help="the formula lists heavy atoms: add hydrogens as docs/method.md section 4")
    p.add_argument("--formula-units", type=int, default=1, help="multiply the composition")
    p.add_argument("--volume-per-atom", help="crystal start volume per atom, Å^3: V or LOW:HIGH")
    p.add_argument("--max-atoms", type=int, default=4096, help="atoms per relaxation batch (memory bound)")
    p.add_argument("--engine", choices=("batched", "ase"), default="batched")
    p.add_argument("--optimizer", default="FIRE", help="ASE optimizer for --engine ase (FIRE, BFGS, LBFGS)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="model precision (float64: bit-for-bit reproducible across batch layouts)")
    p.add_argument("--compile", action="store_true",
                   help="batched engine through torch.compile (about 1.6x faster steps; the first run on a "
                        "machine spends minutes compiling, later runs about 20 s)")
    p.add_argument("--workers", type=int, default=1,
                   help="share the attempts over N one-thread processes on this machine (launches torchrun; "
                        "with --compile the fastest path on a multi-core CPU)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run, subparser=p)


def parse_volume(text: str | None) -> dict[str, Any]:
    """'4.4' -> volume_per_atom; '3.8:5.6' -> volume_range."""
    if text is None:
        return {}
    try:
        if ":" in text:
            low, high = (float(x) for x in text.split(":"))
            return {"volume_per_atom": None, "volume_range": (low, high)}
        return {"volume_per_atom": float(text), "volume_range": None}
    except ValueError:
        raise ConfigError(f"--volume-per-atom must be V or LOW:HIGH in Å^3, not {text!r}") from None


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
        else:
            options += [flag, str(value)]
    head = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.workers}",
            "-m", "ase_rm.cli.main", "--threads", "1"]
    head += ["--traceback"] * bool(args.traceback) + ["--verbose"] * bool(args.verbose)
    head += ["--system-malloc"] * bool(getattr(args, "system_malloc", False))
    return [*head, "generate", *positionals, *options]


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, not {args.workers}")
    if args.best_of < 1:
        raise ConfigError(f"--best-of must be >= 1, not {args.best_of}")
    if args.rank_by != "energy" and args.best_of == 1:
        raise ConfigError("--rank-by picks among the relaxations of --best-of K (K > 1)")
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
    import torch

    from .. import keys
    from ..calculator import RMCalculator
    from ..checkpoint import load_potential
    from ..potential import Potential
    from ..rss import attempts_for, expand_compositions, get_protocol, search
    from ..rss.output import merge_parts
    from ..rss.search import restarts_path
    from ..train.distributed import Dist

    protocol = get_protocol(args.protocol)
    volume = parse_volume(args.volume_per_atom)
    if volume:
        protocol = replace(protocol, start=replace(protocol.start, **volume))
    compositions = [
        comp for formula in args.composition
        for comp in expand_compositions(formula, enumerate_h=args.enumerate_h, formula_units=args.formula_units)
    ]
    dist = Dist.from_env()  # under torchrun: every rank makes its share of the attempts
    device = args.device
    if dist.world > 1 and device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    dtype = getattr(torch, args.dtype)
    potential, meta = load_potential(args.model, device=device, dtype=dtype)
    if args.compile:
        if args.engine == "ase":
            raise ConfigError("--compile applies to the batched engine, not --engine ase")
        potential = Potential(potential.model, compiled=True, static_degree=True).eval()
    model: object = potential
    if args.engine == "ase":
        model = RMCalculator.from_checkpoint(args.model, device=device, dtype=dtype)
    attempts = attempts_for(compositions, protocol, args.n)
    out = Path(args.out)
    if dist.world > 1 and dist.is_main and not args.resume:  # a merged file of an earlier run
        out.unlink(missing_ok=True)
        restarts_path(out).unlink(missing_ok=True)
    results = search(
        model, attempts, protocol, seed=args.seed, element_volumes=meta.get("volume_fit") or None,
        out=out, resume=args.resume, max_atoms_per_batch=args.max_atoms,
        progress=not args.no_progress and dist.is_main, engine=args.engine, optimizer=args.optimizer,
        shard=(dist.rank, dist.world), best_of=args.best_of, rank_by=args.rank_by,
    )
    if dist.world > 1:
        import torch.distributed

        torch.distributed.barrier()
        if not dist.is_main:
            return 0
        results = merge_parts(out, dist.world, keys.RM_ATTEMPT)
        if args.best_of > 1:
            merge_parts(restarts_path(out), dist.world, keys.RM_ATTEMPT)
    converged = sum(bool(a.info["rm_converged"]) for a in results)
    print(f"{len(results)} structures ({converged} converged) written to {args.out}")
    return 0
