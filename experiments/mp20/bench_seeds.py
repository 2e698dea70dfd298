"""Benchmark runs over several seeds: counts per run, their mean, and per composition.

    python experiments/mp20/bench_seeds.py DIR [DIR ...]

Each DIR is an ``ase-rm csp MODEL --ground-truths CSV --seed S --out DIR`` output
(its ``benchmark.csv``: one row per ground truth with ``match_at_1`` and
``match_at_k``). Prints, as markdown, each run's matched counts at 1 and at k
with their mean over the runs, then per composition in how many runs it was
matched at k and at 1.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read(run: Path) -> list[dict[str, str]]:
    with open(run / "benchmark.csv") as fh:
        return list(csv.DictReader(fh))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args(argv)
    tables = {run: read(run) for run in args.runs}
    print("| run | truths | matched at k | matched at 1 |\n|---|---:|---:|---:|")
    at_k, at_1 = [], []
    for run, rows in tables.items():
        at_k.append(sum(r["match_at_k"] == "True" for r in rows))
        at_1.append(sum(r["match_at_1"] == "True" for r in rows))
        print(f"| {run} | {len(rows)} | {at_k[-1]} | {at_1[-1]} |")
    print(f"| mean | | {sum(at_k) / len(at_k):.1f} | {sum(at_1) / len(at_1):.1f} |\n")
    print("| composition | runs matched at k | runs matched at 1 |\n|---|---:|---:|")
    for i, row in enumerate(next(iter(tables.values()))):
        k = sum(rows[i]["match_at_k"] == "True" for rows in tables.values())
        one = sum(rows[i]["match_at_1"] == "True" for rows in tables.values())
        print(f"| {row['composition']} | {k}/{len(tables)} | {one}/{len(tables)} |")


if __name__ == "__main__":
    main()
