"""CSP with k starts per attempt, one kept: expected any-of-n counts, estimated from pooled runs.

    python experiments/mp20/csp_selection.py DIR [DIR ...] [--n 30] [--k 1 2 5] [--symprec 0.01]

Each DIR is an ``ase-rm csp ... --seed S --out DIR`` output (generated.extxyz and
attempts.csv). Every composition's attempts are pooled over the runs (attempts
are independently seeded). Each of n attempts then relaxes k starts, drawn from
the pool without replacement, and keeps one of them by a rule:

- energy: converged first, then the lowest E~ per atom (``ase-rm generate --best-of k``);
- symmetry: converged first, then the highest space-group number (spglib at
  ``--symprec``), then the lowest E~ per atom.

The script prints, per rule and k, the expected number of compositions matched
by any of the n kept structures. Monte Carlo over ``--reps`` random draws of n
disjoint blocks of k gives it (needs n*k <= the pool). For k = 1 the exact value
is printed too: 1 - C(N - m, n) / C(N, n) for a pool of N with m matched. The
figure is an estimate from the pool, and it costs k times the relaxations of a
plain run.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
import spglib
from ase import Atoms
from ase_rm_pymatgen.campaign import attempt_number
from csp_seeds import truthy  # this folder's script: the csv booleans are read one way

from ase_rm import keys


@dataclass(frozen=True)
class Item:
    """One relaxed attempt of the pool."""

    matched: bool
    converged: bool
    energy_per_atom: float
    space_group: int


def space_group(atoms: Atoms, symprec: float) -> int:
    """International space-group number (1 when spglib finds none)."""
    name = spglib.get_spacegroup((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=symprec)
    found = re.search(r"\((\d+)\)", name or "")
    return int(found.group(1)) if found else 1


def pool(dirs: Sequence[Path], symprec: float) -> dict[str, list[Item]]:
    """Attempts per composition over all runs, joined by (composition, attempt number)."""
    out: dict[str, list[Item]] = defaultdict(list)
    for folder in dirs:
        with open(folder / "attempts.csv") as fh:
            rows = {(r["composition"], int(r["attempt"])): r for r in csv.DictReader(fh)}
        for atoms in ase.io.iread(folder / "generated.extxyz", index=":"):
            row = rows.pop((str(atoms.info[keys.RM_FORMULA]), attempt_number(atoms)))
            energy = float(atoms.info[keys.RM_ENERGY]) / len(atoms)
            if not math.isclose(energy, float(row["energy_per_atom"]), rel_tol=1e-6, abs_tol=1e-6):
                raise SystemExit(f"{folder}: generated.extxyz and attempts.csv disagree on {row['composition']} "
                                 f"attempt {row['attempt']}")
            out[row["composition"]].append(
                Item(truthy(row["matched"]), truthy(row["converged"]), energy, space_group(atoms, symprec)))
        if rows:
            raise SystemExit(f"{folder}: {len(rows)} rows of attempts.csv have no structure in generated.extxyz")
    return out


RULES: dict[str, Callable[[Item], tuple[bool, float, float]]] = {
    "energy": lambda x: (not x.converged, 0.0, x.energy_per_atom),
    "symmetry": lambda x: (not x.converged, -float(x.space_group), x.energy_per_atom),
}


def exact_any_of(items: Sequence[Item], n: int) -> float:
    """P(at least one of n attempts drawn without replacement matched), k = 1."""
    m = sum(x.matched for x in items)
    return 1.0 - math.comb(len(items) - m, n) / math.comb(len(items), n)


def estimate_any_of(items: Sequence[Item], n: int, k: int, rule: Callable[[Item], tuple[bool, float, float]],
                    reps: int, rng: np.random.Generator) -> float:
    """Monte Carlo P(any of n best-of-k attempts matched), blocks drawn without replacement."""
    if n * k > len(items):
        raise ValueError(f"n * k = {n * k} exceeds the pool of {len(items)}")
    keys_ = [rule(x) for x in items]
    hits = 0
    for _ in range(reps):
        blocks = rng.permutation(len(items))[: n * k].reshape(n, k)
        hits += any(items[min(block, key=lambda i: (keys_[i], i))].matched for block in blocks)
    return hits / reps


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=30, help="attempts per composition (default 30)")
    ap.add_argument("--k", type=int, nargs="+", default=[1, 2, 5], help="starts per attempt (default 1 2 5)")
    ap.add_argument("--symprec", type=float, default=0.01, help="spglib tolerance, Å (default 0.01)")
    ap.add_argument("--reps", type=int, default=2000, help="Monte Carlo draws (default 2000)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    items = pool(args.dirs, args.symprec)
    rng = np.random.default_rng(args.seed)
    columns = [(rule, k) for rule in RULES for k in args.k if args.n * k <= min(len(v) for v in items.values())]
    print("| composition | pool | matched | exact k=1 | " + " | ".join(f"{r} k={k}" for r, k in columns) + " |")
    print("|---" * (4 + len(columns)) + "|")
    totals = np.zeros(len(columns) + 1)
    for comp, pooled in items.items():
        row = [exact_any_of(pooled, args.n)]
        row += [estimate_any_of(pooled, args.n, k, RULES[rule], args.reps, rng) for rule, k in columns]
        totals += row
        print(f"| {comp} | {len(pooled)} | {sum(x.matched for x in pooled)} | "
              + " | ".join(f"{v:.2f}" for v in row) + " |")
    print(f"| **expected any-of-{args.n}** | | | " + " | ".join(f"**{v:.1f}**" for v in totals) + " |")
    print(f"\n{len(items)} compositions; Monte Carlo over {args.reps} draws; space groups at symprec {args.symprec}")


if __name__ == "__main__":
    main()
