"""Where a batched relaxation spends its time: ase_rm's engine and torch-sim's FIRE.

    python benchmarks/profile_relax.py --threads 1 --case crystals [--n 16] [--engine ours|torchsim|both]

Runs one case of bench_torchsim.py (same starts, criteria and model) under
cProfile and prints the cumulative time of the parts of a step: the model
(energy and autograd forces/stress), neighbour lists, the optimiser step and
cell algebra, as fractions of the whole relaxation.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_torchsim import CASES, CountingPotential, starts_for  # noqa: E402

from ase_rm import load_potential  # noqa: E402
from ase_rm.relaxation import relax  # noqa: E402

PARTS = {
    "model forward (Denoiser)": ("ase_rm/model", "forward"),
    "autograd (forces, stress)": ("torch/autograd/__init__.py", "grad"),
    "neighbour lists (vesin + filtering)": ("vesin", "compute"),
    "ase_rm skin lists: refresh": ("ase_rm/relaxation/neighbours.py", "refresh"),
    "ase_rm skin lists: within (filter to rc)": ("ase_rm/relaxation/neighbours.py", "within"),
    "ase_rm FIRE step": ("ase_rm/relaxation/fire.py", "fire_step"),
    "ase_rm cell filter (generalized forces)": ("ase_rm/relaxation/cell.py", "generalized_forces"),
    "ase_rm bookkeeping: select / put": ("ase_rm/relaxation/engine.py", "select"),
    "torch-sim ase_fire step (incl. model)": ("torch_sim/optimizers.py", "_ase_fire_step"),
    "torch-sim RMModel.forward": ("ase_rm_torchsim/model.py", "forward"),
    "torch-sim RMModel: build_graph (vesin)": ("ase_rm/graph.py", "build_graph"),
    "torch-sim autobatcher next_batch": ("torch_sim/autobatching.py", "next_batch"),
    "torch-sim convergence (generalized fmax)": ("ase_rm_torchsim/relax.py", "generalized_fmax"),
}


def profile(fn: object, label: str) -> None:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(fn)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    cumulative: dict[str, float] = {}
    for (file, _, name), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        for part, (where, func) in PARTS.items():
            if where in file and name == func:
                cumulative[part] = cumulative.get(part, 0.0) + ct
    print(f"\n{label}: {wall:.2f} s under cProfile")
    print("| part | s | share |")
    print("|---|---|---|")
    for part, t in sorted(cumulative.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {t:.2f} | {t / wall:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=tuple(CASES), default="crystals")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--engine", choices=("ours", "torchsim", "both"), default="both")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    case = CASES[args.case]
    compositions = []
    if args.case == "crystals":
        import csv

        with open(Path(args.data) / "diffcsp_15_compositions.csv") as f:
            compositions = [row["composition"] for row in csv.DictReader(f)][:4]
    loaded, meta = load_potential(case.model, dtype=torch.float64)
    potential = CountingPotential(loaded.model).eval()
    starts = starts_for(case, args.n, 0, compositions,
                        {int(k): v for k, v in (meta.get("volume_fit") or {}).items()})
    kw = dict(fmax=case.fmax, steps=case.steps, cell=case.cell, maxstep=case.maxstep)
    if args.engine in ("ours", "both"):
        relax(potential, starts[:2], **kw)
        profile(lambda: relax(potential, starts, **kw), f"ase_rm.relaxation, {case.label}, {args.n} starts")
    if args.engine in ("torchsim", "both"):
        from ase_rm_torchsim import RMModel, torchsim_relax

        model = RMModel(potential, dtype=torch.float64)
        torchsim_relax(model, starts[:2], **kw)
        profile(lambda: torchsim_relax(model, starts, **kw), f"torch-sim FIRE, {case.label}, {args.n} starts")


if __name__ == "__main__":
    main()
