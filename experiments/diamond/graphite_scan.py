"""E~ of ideal AB graphite against cubic diamond at each searched volume (docs/diamond.md).

At each volume per atom the graphite C-C bond is scanned (1.26-1.55 Å) with the layer
spacing that gives that volume; the lowest E~/atom is printed beside cubic diamond's.

    python experiments/diamond/graphite_scan.py [CHECKPOINT]     # default: the shipped "diamond"
"""

from __future__ import annotations

import sys

import numpy as np
from ase import Atoms
from ase.build import bulk

from ase_rm import RMCalculator
from ase_rm.demo.carbon import graphite

AREA = 3.0 * np.sqrt(3.0) / 4.0
"""Graphene area per atom in units of the squared C-C bond."""


def energy(atoms: Atoms, calc: RMCalculator) -> float:
    atoms.calc = calc
    return float(atoms.get_potential_energy()) / len(atoms)


def main(checkpoint: str = "diamond") -> None:
    calc = RMCalculator.from_checkpoint(checkpoint)
    print("| V (Å^3/atom) | cubic E~/atom | graphite E~/atom | bond (Å) | spacing (Å) |")
    print("|---:|---:|---:|---:|---:|")
    for v in (3.8, 4.0, 4.2, 4.4, 4.6, 4.8, 5.0, 5.2, 5.4, 5.6, 6.0):
        cubic = energy(bulk("C", "diamond", a=(8 * v) ** (1 / 3), cubic=True), calc)
        e, bond = min((energy(graphite(bond=b, spacing=v / (AREA * b * b)), calc), b)
                      for b in np.arange(1.26, 1.555, 0.01))
        print(f"| {v} | {cubic:.4f} | {e:.4f} | {bond:.2f} | {v / (AREA * bond * bond):.2f} |")


if __name__ == "__main__":
    main(*sys.argv[1:2])
