"""Build the tutorial's two small sets of equilibrium structures with ASE alone.

    python make_data.py [OUT_DIR]

writes, into OUT_DIR (default: the current folder):

- ``molecules.extxyz``: the closed-shell H/C/N/O molecules of ASE's G2 set
  (geometries as ASE ships them, no cell, no PBC);
- ``crystals.extxyz``: elemental and binary crystals from ``ase.build.bulk``
  at room-temperature experimental lattice constants (cell and PBC set);
- ``crystals_valid.extxyz``: two crystals held out of ``crystals.extxyz``
  (validation: the volume fit and the model only see the training crystals);
- ``targets.csv``: the same two crystals (columns ``composition`` and ``cif``),
  for ``ase-rm csp`` to rediscover.

Stand-ins for your own data: any extxyz of equilibrium structures works the same way.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import ase.io
from ase import Atoms
from ase.build import bulk
from ase.collections import g2

# (formula, crystal structure, lattice constant a in Å, c in Å or None)
CRYSTALS = [
    ("Cu", "fcc", 3.61, None), ("Ag", "fcc", 4.09, None), ("Al", "fcc", 4.05, None),
    ("Ni", "fcc", 3.52, None), ("Na", "bcc", 4.23, None), ("K", "bcc", 5.23, None),
    ("Fe", "bcc", 2.87, None), ("Mo", "bcc", 3.15, None), ("Mg", "hcp", 3.21, 5.21),
    ("Zn", "hcp", 2.66, 4.95), ("Si", "diamond", 5.43, None), ("Ge", "diamond", 5.66, None),
    ("NaCl", "rocksalt", 5.64, None), ("KCl", "rocksalt", 6.29, None), ("MgO", "rocksalt", 4.21, None),
    ("LiF", "rocksalt", 4.03, None), ("ZnS", "zincblende", 5.41, None), ("GaAs", "zincblende", 5.65, None),
    ("CsCl", "cesiumchloride", 4.12, None), ("NiAl", "cesiumchloride", 2.88, None),
]
HELD_OUT = ("KCl", "NiAl")  # the targets: same structure types as NaCl and CsCl in the training set


def molecules() -> list[Atoms]:
    """Closed-shell G2 molecules made of H, C, N and O only (at least 2 atoms)."""
    out = []
    for name in g2.names:
        atoms = g2[name]
        if len(atoms) < 2 or not set(atoms.get_chemical_symbols()) <= {"H", "C", "N", "O"}:
            continue
        if abs(atoms.get_initial_magnetic_moments()).sum() > 0:  # radicals and triplets
            continue
        atoms.info = {"name": name}
        out.append(atoms)
    return out


def crystal(formula: str, structure: str, a: float, c: float | None) -> Atoms:
    """One crystal: the conventional cubic cell (hcp: its 2-atom cell)."""
    atoms = bulk(formula, structure, a=a, c=c, cubic=structure != "hcp")
    atoms.info = {"name": f"{formula} {structure}"}
    return atoms


def main(out_dir: str = ".") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mols = molecules()
    ase.io.write(out / "molecules.extxyz", mols, format="extxyz")
    crystals = [crystal(*row) for row in CRYSTALS if row[0] not in HELD_OUT]
    ase.io.write(out / "crystals.extxyz", crystals, format="extxyz")
    held_out = [crystal(*row) for row in CRYSTALS if row[0] in HELD_OUT]
    ase.io.write(out / "crystals_valid.extxyz", held_out, format="extxyz")
    with open(out / "targets.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["composition", "cif"])
        for target in held_out:
            text = io.BytesIO()
            ase.io.write(text, target, format="cif")
            writer.writerow([target.get_chemical_formula(), text.getvalue().decode()])
    print(f"{len(mols)} molecules, {len(crystals)} crystals and {len(held_out)} held-out crystals written to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
