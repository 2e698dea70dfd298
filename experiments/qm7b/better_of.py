"""Best of 2K from two best-of-K selections of pools made with different seeds.

Each attempt of a best-of-K selection kept the relaxation its ranking puts first
among K independent ones. Two selections of the same attempts from pools with
different seeds (``ase-rm generate --seed``) hold, per attempt, the first of two
disjoint sets of K; the ranking is a total order, so the first of the two is
the first of all 2K: exactly best of 2K, without a third run of 2K per attempt.

    python experiments/qm7b/better_of.py A.extxyz B.extxyz OUT.extxyz

A and B are ``ase-rm select --best-of K --rank-by R`` outputs (same K, same R, the same
attempts and compositions). OUT keeps, per attempt, A's frame unless B's ranks first
(ties: A), with ``rm_best_of = 2K`` and ``rm_pool`` 0 (A) or 1 (B).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import ase.io
from ase import Atoms

from ase_rm import keys
from ase_rm.rss.select import group_of, ranking
from ase_rm.structures import read_structures


def better_of(a: Sequence[Atoms], b: Sequence[Atoms]) -> list[Atoms]:
    """Per attempt, the frame of ``a`` or ``b`` that their ranking puts first (ties: ``a``)."""
    if len(a) != len(b):
        raise ValueError(f"the selections differ in length: {len(a)} and {len(b)} attempts")
    out = []
    for x, y in zip(a, b, strict=True):
        for what in (keys.RM_ATTEMPT, keys.RM_BEST_OF, keys.RM_RANK_BY):
            if what not in x.info or x.info[what] != y.info.get(what):
                raise ValueError(f"frames differ in (or lack) {what}: {x.info.get(what)!r}, {y.info.get(what)!r}")
        if group_of(x) != group_of(y):
            number = x.info[keys.RM_ATTEMPT]
            raise ValueError(f"attempt {number} is {group_of(x)} in one and {group_of(y)} in the other")
        key = ranking(str(x.info[keys.RM_RANK_BY]))
        pool, best = (1, y) if key(y) < key(x) else (0, x)
        best = best.copy()
        best.info[keys.RM_BEST_OF] = 2 * int(x.info[keys.RM_BEST_OF])
        best.info["rm_pool"] = pool
        out.append(best)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("out")
    args = ap.parse_args(argv)
    kept = better_of(read_structures(args.a), read_structures(args.b))
    ase.io.write(args.out, kept, format="extxyz")
    from_b = sum(atoms.info["rm_pool"] for atoms in kept)
    print(f"kept {len(kept)} attempts ({from_b} from {args.b}) -> {args.out}")


if __name__ == "__main__":
    main()
