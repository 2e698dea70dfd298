"""What "k restarts per attempt, keep the lowest E~" would score, from single attempts.

An attempt that makes k independent random starts (each the whole protocol) and
keeps the converged one with the lowest E~ (the lowest E~ overall if none
converged) passes PoseBusters when that kept structure passes. Over the n
independent attempts of one formula, the chance that the kept one of a random
k-subset is the j-th best (0-based, ranked converged first, then by E~) is
C(n-1-j, k-1) / C(n, k), so the expected all-pass rate of the k-restart
protocol is exact from the single-start results, with no resampling
(a U-statistic over all k-subsets).

    python experiments/qm7b/restarts_by_energy.py GEN.extxyz EVAL/molecules.csv [--k 1,2,3,4,6,8]

GEN.extxyz is ``ase-rm generate`` output (rm_energy, rm_converged);
molecules.csv is ``ase-rm evaluate molecules`` output for it, whose ``index`` is
a frame's position in GEN.extxyz (not its attempt number). Prints a
markdown table: expected all-pass (%) per formula for each k, and the mean.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict

from ase.io import iread

from ase_rm.rss.select import rank_key


def kept_rate(passes: list[bool], k: int) -> float:
    """Expected pass rate of the best of k random attempts; ``passes`` is ranked best first."""
    n = len(passes)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, not {k}")
    return sum(math.comb(n - 1 - j, k - 1) for j in range(n) if passes[j]) / math.comb(n, k)


def ranked_passes(gen: str, molecules_csv: str) -> dict[str, list[bool]]:
    """Per formula, all-pass of each attempt, best first (as ``ase-rm select --lowest``
    ranks: converged, then lowest E~)."""
    key = [rank_key(atoms) for atoms in iread(gen, ":")]  # molecules.csv's index: position in GEN
    by_formula: dict[str, list[tuple[tuple[bool, float], bool]]] = defaultdict(list)
    with open(molecules_csv) as fh:
        for row in csv.DictReader(fh):
            by_formula[row["composition"]].append((key[int(row["index"])], row["all_pass"] == "True"))
    return {f: [p for _, p in sorted(rows, key=lambda t: t[0])] for f, rows in by_formula.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gen")
    ap.add_argument("molecules_csv")
    ap.add_argument("--k", default="1,2,3,4,6,8")
    args = ap.parse_args()
    ks = [int(x) for x in args.k.split(",")]
    ranked = ranked_passes(args.gen, args.molecules_csv)
    print("| formula | attempts | " + " | ".join(f"k = {k}" for k in ks) + " |")
    print("|---|---|" + "---|" * len(ks))
    means = [0.0] * len(ks)
    for formula, passes in ranked.items():
        rates = [100 * kept_rate(passes, k) for k in ks]
        means = [m + r / len(ranked) for m, r in zip(means, rates, strict=True)]
        print(f"| {formula} | {len(passes)} | " + " | ".join(f"{r:.1f}" for r in rates) + " |")
    print("| mean | | " + " | ".join(f"**{m:.1f}**" for m in means) + " |")


if __name__ == "__main__":
    main()
