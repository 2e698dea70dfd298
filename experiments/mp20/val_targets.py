"""CSP targets drawn from the MP-20 val split, for checks held out from the 15 test compositions.

    python experiments/mp20/val_targets.py VAL.csv.gz TRAIN.csv.gz OUT.csv [--n 60] [--seed 0]

Draws (seeded) val structures of 2-3 elements and 4-20 atoms whose reduced
formula does not occur in the train file (like the 15 DiffCSP compositions, none
of which does), one per reduced formula, and writes them as an ``ase-rm csp
--compositions`` file (columns composition, material_id, cif). The shipped
``mp20`` model did not train on the val split.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:  # type: ignore[operator]
        return list(csv.DictReader(fh))


def draw_targets(val: Sequence[dict[str, str]], train_formulas: set[str], n: int, seed: int,
                 elements: tuple[int, int] = (2, 3), atoms: tuple[int, int] = (4, 20)) -> list[dict[str, str]]:
    """Up to n val rows (seeded order) with a new reduced formula, as csp target rows."""
    from pymatgen.core import Structure

    out: list[dict[str, str]] = []
    used: set[str] = set()
    for k in np.random.default_rng(seed).permutation(len(val)):
        row = val[int(k)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(row["cif"], fmt="cif")
        comp = structure.composition
        reduced = comp.reduced_formula
        if reduced in train_formulas or reduced in used:
            continue
        if not (elements[0] <= len(comp.elements) <= elements[1] and atoms[0] <= len(structure) <= atoms[1]):
            continue
        used.add(reduced)
        out.append({"composition": comp.formula.replace(" ", ""), "material_id": row.get("material_id", ""),
                    "cif": row["cif"]})
        if len(out) == n:
            break
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("val", type=Path)
    parser.add_argument("train", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train_formulas = {r["pretty_formula"] for r in _rows(args.train)}
    targets = draw_targets(_rows(args.val), train_formulas, args.n, args.seed)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["composition", "material_id", "cif"])
    writer.writeheader()
    writer.writerows(targets)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text.getvalue())
    print(f"{len(targets)} targets: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
