"""ase_rm's batched engine against torch-sim's batched FIRE, on the same model and starts.

    python benchmarks/bench_torchsim.py --threads 1 [--n 32] [--cases molecules,crystals,carbon]

Both engines relax the same random starts (ase_rm.rss.random_start with the
protocol's start spec and seed) with the same model object (an ase_rm
Potential; torch-sim gets it through ase_rm_torchsim.RMModel), the same dtype,
and the same criteria: ASE's FIRE (torch-sim ``md_flavor="ase_fire"``),
maxstep, largest generalized-force row < fmax checked after every step, a
per-structure step limit, ASE's Frechet cell filter for crystals (torch-sim's
``frechet_cell_fire``), converged structures leaving the batch. Cases (the
first stage of each generation protocol):

(a) molecules C5H9NO, shipped qm7b model, molecule start, FIRE to fmax 1e-3, 500 steps;
(b) MP-20 crystals, shipped mp20 model, the first --compositions of
    diffcsp_15_compositions.csv, crystal start (fitted volume, sheared cell),
    full Frechet cell filter to fmax 0.05, 500 steps;
(c) 8-atom carbon, shipped diamond model, diamond start (3.8-5.6 Å^3/atom),
    constant-volume cell filter, maxstep 0.01, to fmax 5e-4, 500 steps.

Prints per case: structures/s of each engine and their ratio (one run, so
both were timed on the same machine state), force calls (structure
evaluations) per structure, FIRE steps per structure, converged counts, and
the agreement of the minima (|E_ours - E_torchsim| per atom, per structure).
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from ase_rm import Potential, load_potential
from ase_rm.relaxation import relax
from ase_rm.rss import PROTOCOLS, random_start

try:
    from ase_rm_torchsim import RMModel, torchsim_relax
except ImportError as exc:  # pragma: no cover - a clear line for a script
    raise SystemExit(f"bench_torchsim needs torch-sim-atomistic (pip install ase-rm[torchsim]): {exc}") from exc



@dataclass(frozen=True)
class Case:
    label: str
    model: str
    protocol: str
    fmax: float
    steps: int
    cell: str | None
    maxstep: float = 0.2


CASES = {
    "molecules": Case("(a) C5H9NO molecules, qm7b", "qm7b", "molecule", 1e-3, 500, None),
    "crystals": Case("(b) MP-20 crystals, mp20", "mp20", "crystal", 0.05, 500, "full"),
    "carbon": Case("(c) 8-atom carbon, diamond", "diamond", "diamond", 5e-4, 500, "constant_volume", 0.01),
}


SAME_MINIMUM = 1e-4
"""eV/atom: two results of the same start closer than this in E~ count as the same minimum."""


class CountingPotential(Potential):
    """A Potential that counts the structures it evaluates (force calls)."""

    calls = 0

    def forward(self, graph: Any, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        self.calls += graph.n_structures
        return super().forward(graph, *args, **kwargs)


def starts_for(case: Case, n: int, seed: int, compositions: list[str], volumes: dict[int, float]) -> list[Atoms]:
    spec = PROTOCOLS[case.protocol].start
    formulas = {"molecule": ["C5H9NO"], "diamond": ["C8"]}.get(case.protocol, compositions)
    return [random_start(spec, formulas[k % len(formulas)], np.random.default_rng([seed, k]), volumes or None)
            for k in range(n)]


def timed(fn: Any, potential: CountingPotential) -> tuple[list[Atoms], float, int]:
    potential.calls = 0
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, potential.calls


def run_case(case: Case, n: int, seed: int, compositions: list[str], dtype: torch.dtype,
             max_atoms: int) -> dict[str, Any]:
    """Relax the same ``n`` starts with both engines; their rates, force calls and minima."""
    loaded, meta = load_potential(case.model, dtype=dtype)
    potential = CountingPotential(loaded.model).eval()
    model = RMModel(potential, dtype=dtype)
    starts = starts_for(case, n, seed, compositions, {int(k): v for k, v in (meta.get("volume_fit") or {}).items()})
    kw = dict(fmax=case.fmax, steps=case.steps, cell=case.cell, maxstep=case.maxstep, max_atoms_per_batch=max_atoms)
    relax(potential, starts[:2], **kw)  # warm-up: first-call costs out of the timings
    torchsim_relax(model, starts[:2], **kw)
    ours, t_ours, calls_ours = timed(lambda: relax(potential, starts, **kw), potential)
    theirs, t_ts, calls_ts = timed(lambda: torchsim_relax(model, starts, **kw), potential)
    de = np.array([abs(a.info["rm_energy"] - b.info["rm_energy"]) / len(a) for a, b in zip(ours, theirs, strict=True)])
    both = np.array([a.info["rm_converged"] and b.info["rm_converged"] for a, b in zip(ours, theirs, strict=True)])
    return dict(
        case=case.label, n=n, atoms=sum(map(len, starts)),
        ours=(n / t_ours, calls_ours / n, np.mean([a.info["rm_steps"] for a in ours]),
              sum(a.info["rm_converged"] for a in ours)),
        torchsim=(n / t_ts, calls_ts / n, np.mean([a.info["rm_steps"] for a in theirs]),
                  sum(a.info["rm_converged"] for a in theirs)),
        ratio=t_ts / t_ours, same=int((de[both] < SAME_MINIMUM).sum()), both=int(both.sum()),
        median_de=float(np.median(de)), max_de=float(de.max()),
    )


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| case | engine | structures/s | force calls / structure | FIRE steps / structure | converged "
          "| ours / torch-sim (structures/s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        for engine in ("ours", "torchsim"):
            rate, calls, steps, conv = r[engine]
            name = "ase_rm.relaxation" if engine == "ours" else "torch-sim FIRE (RMModel)"
            ratio = f"**{r['ratio']:.2f}x**" if engine == "ours" else ""
            print(f"| {r['case']} | {name} | {rate:.2f} | {calls:.1f} | {steps:.1f} | {conv}/{r['n']} | {ratio} |")
    print(f"\n| case | structures | same minimum (|dE| < {SAME_MINIMUM:g} eV/atom, both converged) "
          "| median |dE| eV/atom | max |dE| eV/atom |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['n']} ({r['atoms']} atoms) | {r['same']}/{r['both']} | {r['median_de']:.1e} "
              f"| {r['max_de']:.1e} |")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="starts per case")
    parser.add_argument("--cases", default="molecules,crystals,carbon")
    parser.add_argument("--compositions", type=int, default=4,
                        help="case (b): the first N compositions of diffcsp_15_compositions.csv")
    parser.add_argument("--data", default="../shared/data", help="folder of diffcsp_15_compositions.csv")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--batch-atoms", type=int, default=4096, help="batch bound of both engines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not set(cases) <= set(CASES):
        parser.error(f"--cases takes {', '.join(CASES)}, not {args.cases!r}")
    compositions: list[str] = []
    if "crystals" in cases:
        with open(Path(args.data) / "diffcsp_15_compositions.csv") as f:
            compositions = [row["composition"] for row in csv.DictReader(f)][: args.compositions]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.dtype}; "
          f"crystal compositions: {', '.join(compositions) or '-'}")
    rows = [run_case(CASES[c], args.n, args.seed, compositions, getattr(torch, args.dtype), args.batch_atoms)
            for c in cases]
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
