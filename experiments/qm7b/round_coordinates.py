"""Issue 23 item 2, data precision: a copy of a molecule file with its coordinates rounded
to 0.01 Å, as QM7b's are, so that a model trained on it can be compared with one trained
on the full-precision original (the same molecules, the same split and seeds).

    python experiments/qm7b/round_coordinates.py ../shared/data/qm7_qmlcode.extxyz.gz runs/qm7_rounded.extxyz.gz
"""

from __future__ import annotations

import argparse

import numpy as np
from ase.io import read, write


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--decimals", type=int, default=2)
    args = p.parse_args(argv)
    frames = read(args.source, ":")
    shift = []
    for atoms in frames:
        rounded = np.round(atoms.positions, args.decimals)
        shift.append(np.abs(rounded - atoms.positions).max())
        atoms.positions = rounded
    write(args.out, frames)
    print(f"{len(frames)} structures, largest change {max(shift):.4f} Å -> {args.out}")


if __name__ == "__main__":
    main()
