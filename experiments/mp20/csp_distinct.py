"""CSP keeping the n lowest-E~ *distinct* structures of a larger pool of attempts.

    python experiments/mp20/csp_distinct.py DIR [--n 30] [--pools 30 60 150] [--reps 20] [--rule energy]

DIR is an ``ase-rm csp ... --n M --out DIR`` output (generated.extxyz and
attempts.csv, M attempts per composition). A user who relaxes P random starts
per composition and keeps n structures would drop duplicates first: walk the
attempts from the lowest E~ per atom up (converged first) and keep one unless
pymatgen's StructureMatcher (the evaluation's tolerances: stol 0.5, ltol 0.3,
angle_tol 10) finds it equal to one already kept, until n are kept (``--rule
energy``). ``--rule frequency`` instead groups all P attempts into distinct
structures (each joins the first group, in E~ order, whose lowest-E~ member it
matches) and keeps the lowest-E~ member of the n groups found most often (ties:
lower E~ first): in random structure search the basins hit most often are the
wide ones. The ground truth plays no part in the choice; attempts.csv says
afterwards whether a kept structure matched it.

For each pool size P (<= M), ``--reps`` random subsets of P attempts per
composition (P = M: the whole pool, once) give the mean number of compositions
matched by any of the n kept structures, and by the lowest 1, 3 and 5 of them.
P = n is the plain protocol (nothing to drop); a pool of P costs P / n times its
relaxations.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase_rm_pymatgen.campaign import attempt_number
from ase_rm_pymatgen.csp import distinct_ranks
from csp_seeds import truthy  # this folder's script: the csv booleans are read one way
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ase_rm import keys

TOP = (1, 3, 5)


@dataclass(frozen=True)
class Item:
    """One relaxed attempt of the pool."""

    structure: Structure
    matched: bool
    converged: bool
    energy_per_atom: float


def read_pool(folder: Path) -> dict[str, list[Item]]:
    """Attempts per composition, in attempt order, joined by (composition, attempt number)."""
    with open(folder / "attempts.csv") as fh:
        rows = {(r["composition"], int(r["attempt"])): r for r in csv.DictReader(fh)}
    out: dict[str, list[Item]] = defaultdict(list)
    for atoms in ase.io.iread(folder / "generated.extxyz", index=":"):
        row = rows.pop((str(atoms.info[keys.RM_FORMULA]), attempt_number(atoms)))
        out[row["composition"]].append(Item(AseAtomsAdaptor.get_structure(atoms), truthy(row["matched"]),
                                            truthy(row["converged"]), float(row["energy_per_atom"])))
    if rows:
        raise SystemExit(f"{folder}: {len(rows)} rows of attempts.csv have no structure in generated.extxyz")
    return out


def keep_distinct(items: Sequence[Item], n: int, matcher: StructureMatcher) -> list[Item]:
    """The n lowest-E~ (converged first) attempts that no lower one duplicates."""
    kept: list[Item] = []
    for item in sorted(items, key=lambda x: (not x.converged, x.energy_per_atom)):
        if not any(matcher.fit(k.structure, item.structure) for k in kept):
            kept.append(item)
            if len(kept) == n:
                break
    return kept


def keep_frequent(items: Sequence[Item], n: int, matcher: StructureMatcher) -> list[Item]:
    """The lowest-E~ member of each of the n most often found distinct structures,
    most often first (ties: the lower E~ first). The grouping is the CSP table's
    (:func:`ase_rm_pymatgen.csp.distinct_ranks`), in this script's order: converged
    first, then by E~."""
    order = sorted(range(len(items)), key=lambda i: (not items[i].converged, items[i].energy_per_atom))
    ranks = [0] * len(items)
    for r, i in enumerate(order, start=1):
        ranks[i] = r
    groups = distinct_ranks([x.structure for x in items], ranks, matcher)
    size = Counter(g for g, _ in groups)
    firsts = sorted((g, i) for i, (g, first) in enumerate(groups) if first)  # distinct rank = E~ order
    firsts.sort(key=lambda gi: -size[gi[0]])  # stable: equal counts stay in E~ order
    return [items[i] for _, i in firsts[:n]]


RULES = {"energy": keep_distinct, "frequency": keep_frequent}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--n", type=int, default=30, help="structures kept per composition (default 30)")
    ap.add_argument("--pools", type=int, nargs="+", default=[30, 60, 150], help="pool sizes P (default 30 60 150)")
    ap.add_argument("--reps", type=int, default=20, help="random subsets per pool size below M (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rule", choices=sorted(RULES), default="energy", help="which distinct structures to keep")
    args = ap.parse_args(argv)
    keep = RULES[args.rule]
    matcher = StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)
    pools = read_pool(args.dir)
    rng = np.random.default_rng(args.seed)
    columns = [f"P={p} {what}" for p in args.pools for what in ("any", *(f"top-{t}" for t in TOP))]
    print("| composition | attempts | matched | " + " | ".join(columns) + " |")
    print("|---" * (3 + len(columns)) + "|")
    totals = np.zeros(len(columns))
    for comp, items in pools.items():
        row: list[float] = []
        for p in args.pools:
            if p > len(items):
                raise SystemExit(f"{comp}: pool {p} exceeds its {len(items)} attempts")
            reps = 1 if p == len(items) else args.reps
            hits = np.zeros(1 + len(TOP))
            for _ in range(reps):
                subset = [items[i] for i in sorted(rng.choice(len(items), p, replace=False))]
                kept = keep(subset, args.n, matcher)
                hits += [any(x.matched for x in kept), *(any(x.matched for x in kept[:t]) for t in TOP)]
            row += list(hits / reps)
        totals += row
        print(f"| {comp} | {len(items)} | {sum(x.matched for x in items)} | "
              + " | ".join(f"{v:.2f}" for v in row) + " |", flush=True)
    print("| **compositions matched (expected)** | | | " + " | ".join(f"**{v:.1f}**" for v in totals) + " |")


if __name__ == "__main__":
    main()
