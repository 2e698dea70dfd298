"""The QM7b all-pass table per heavy-atom composition, as in the paper's Fig. 2.

    python experiments/qm7b/paper_table.py OUTDIR [OUTDIR ...] [--column all_pass]

Each OUTDIR is an ``experiments/qm7b/run.sh`` output (eval_in/summary.csv and
eval_ood/summary.csv from ``ase-rm evaluate molecules``). A heavy-atom
composition's rate is the mean over its formulas (the hydrogen counts that
``--enumerate-h`` made), each formula counted over all of its attempts. Prints
one markdown row per OUTDIR: the ten compositions of docs/method.md section 5 and
their mean, with the paper's row first.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ase_rm.training.signal import heavy_atoms as heavy_key  # C5H9NO and C5O1N1 give the same key

COMPOSITIONS = ("C5O1N1", "C4O1N2", "C6O1", "C5O2Cl1", "C6O1N1", "C6O1S1", "C7Cl1", "C7O1Cl1", "C7O1N1",
                "C6O1N1Cl1")
PAPER = (77, 79, 75, 69, 67, 58, 67, 72, 57, 60)
"""The paper's all-pass % per composition (docs/method.md section 5); mean 68.1."""


def rates(outdir: Path, column: str) -> dict[tuple[tuple[str, int], ...], float]:
    """Mean of ``column`` over the formulas of each heavy-atom composition."""
    per: dict[tuple[tuple[str, int], ...], list[float]] = defaultdict(list)
    for part in ("in", "ood"):
        path = outdir / f"eval_{part}" / "summary.csv"
        if not path.exists():
            raise SystemExit(f"{path} is missing (run experiments/qm7b/run.sh first)")
        with open(path) as fh:
            for row in csv.DictReader(fh):
                if row["composition"] in ("all",) or row["composition"].startswith("QM7b"):
                    continue
                per[heavy_key(row["composition"])].append(float(row[column]))
    return {k: sum(v) / len(v) for k, v in per.items()}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--column", default="all_pass", help="summary.csv column (default all_pass; e.g. all_pass_neutral)")
    args = ap.parse_args(argv)
    print("| run | " + " | ".join(COMPOSITIONS) + " | mean |")
    print("|---" * (len(COMPOSITIONS) + 2) + "|")
    print("| paper | " + " | ".join(str(x) for x in PAPER) + f" | {sum(PAPER) / len(PAPER):.1f} |")
    for outdir in args.dirs:
        got = rates(outdir, args.column)
        missing = [c for c in COMPOSITIONS if heavy_key(c) not in got]
        if missing:
            raise SystemExit(f"{outdir}: no formulas of {', '.join(missing)}")
        row = [got[heavy_key(c)] for c in COMPOSITIONS]
        print(f"| {outdir} | " + " | ".join(f"{x:.1f}" for x in row) + f" | **{sum(row) / len(row):.1f}** |")


if __name__ == "__main__":
    main()
