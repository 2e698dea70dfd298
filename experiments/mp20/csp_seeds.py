"""CSP over several seeds: how much one run of 30 attempts per composition varies.

    python experiments/mp20/csp_seeds.py DIR [DIR ...] [--n 30]

Each DIR is an ``ase-rm csp ... --seed S --out DIR`` output (csp.csv and
attempts.csv). Prints, as markdown: each run's counts (any of n, top-1, top-5, and
top-1/3/5 among distinct structures when csp.csv has those columns);
per composition, in how many runs and in how many attempts it was matched;
and the expected any-of-n count of one run of n attempts (default: the runs'
own), sum over compositions of 1 - (1 - p)^n with p the composition's matched
fraction over all attempts of all runs (attempts are independently seeded, so
p pools them, and one run of 150 attempts estimates a run of 30).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

COLUMNS = {"matched": "any of n", "top_1": "top-1", "top_5": "top-5", "top_1_distinct": "top-1 distinct",
           "top_3_distinct": "top-3 distinct", "top_5_distinct": "top-5 distinct"}
"""csp.csv columns counted per run (those every run has), with their headings."""


def truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "yes", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--n", type=int, help="attempts of the run whose expected count is printed")
    args = ap.parse_args()
    runs_matched: dict[str, int] = defaultdict(int)
    attempts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # matched, total
    per_run = []
    n_per_run = 0
    tables = []
    for folder in args.dirs:
        with open(folder / "csp.csv") as fh:
            tables.append((folder, list(csv.DictReader(fh))))
    columns = [k for k in COLUMNS if all(k in rows[0] for _, rows in tables)]
    for folder, rows in tables:
        n_per_run = int(rows[0]["n_attempts"])
        count = {k: sum(truthy(r[k]) for r in rows) for k in columns}
        per_run.append((folder, len(rows), count))
        for r in rows:
            runs_matched[r["composition"]] += truthy(r["matched"])
        with open(folder / "attempts.csv") as fh:
            for r in csv.DictReader(fh):
                attempts[r["composition"]][0] += truthy(r["matched"])
                attempts[r["composition"]][1] += 1
    print("| run | " + " | ".join(COLUMNS[k] for k in columns) + " |\n" + "|---" * (1 + len(columns)) + "|")
    for folder, n_comp, c in per_run:
        print(f"| {folder} | " + " | ".join(f"{c[k]}/{n_comp}" for k in columns) + " |")
    print("| mean | " + " | ".join(f"{sum(c[k] for *_, c in per_run) / len(per_run):.1f}" for k in columns) + " |\n")
    n_per_run = args.n or n_per_run
    print("| composition | runs matched | attempts matched | expected P(matched in one run) |\n|---|---|---|---|")
    expected = 0.0
    for comp, (hit, total) in attempts.items():
        p_run = 1 - (1 - hit / total) ** n_per_run
        expected += p_run
        print(f"| {comp} | {runs_matched[comp]}/{len(per_run)} | {hit}/{total} | {p_run:.2f} |")
    print(f"\nexpected any-of-{n_per_run} count of one run: {expected:.1f}/{len(attempts)}; "
          f"matched in at least one run: {sum(v > 0 for v in runs_matched.values())}/{len(attempts)}")


if __name__ == "__main__":
    main()
