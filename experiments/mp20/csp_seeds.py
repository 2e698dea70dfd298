"""CSP over several seeds: how much one run of 30 attempts per composition varies.

    python experiments/mp20/csp_seeds.py DIR [DIR ...] [--n 30]

Each DIR is an ``ase-rm csp ... --seed S --out DIR`` output (csp.csv and
attempts.csv). Prints, as markdown: each run's counts (any of n, top-1, top-5);
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
    for folder in args.dirs:
        with open(folder / "csp.csv") as fh:
            rows = list(csv.DictReader(fh))
        n_per_run = int(rows[0]["n_attempts"])
        count = {k: sum(truthy(r[k]) for r in rows) for k in ("matched", "top_1", "top_5")}
        per_run.append((folder, len(rows), count))
        for r in rows:
            runs_matched[r["composition"]] += truthy(r["matched"])
        with open(folder / "attempts.csv") as fh:
            for r in csv.DictReader(fh):
                attempts[r["composition"]][0] += truthy(r["matched"])
                attempts[r["composition"]][1] += 1
    print("| run | any of n | top-1 | top-5 |\n|---|---|---|---|")
    for folder, n_comp, c in per_run:
        print(f"| {folder} | {c['matched']}/{n_comp} | {c['top_1']}/{n_comp} | {c['top_5']}/{n_comp} |")
    mean = sum(c["matched"] for *_, c in per_run) / len(per_run)
    print(f"| mean | {mean:.1f} | {sum(c['top_1'] for *_, c in per_run) / len(per_run):.1f} "
          f"| {sum(c['top_5'] for *_, c in per_run) / len(per_run):.1f} |\n")
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
