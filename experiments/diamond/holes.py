"""Where a diamond demo run breaks check 1: the converged non-cubic structures below cubic diamond.

    python experiments/diamond/holes.py RUN/structures.extxyz [...]

For each volume, every converged structure that is not cubic diamond and has a lower
E~/atom than the lowest cubic diamond there: its class, number of atoms, shortest C-C
distance (Å) and margin (meV/atom). "none" when cubic diamond is lowest everywhere.
"""

from __future__ import annotations

import sys

from ase.io import read
from ase.neighborlist import neighbor_list

from ase_rm.demo.run import converged_by_volume


def holes(path: str) -> list[str]:
    out = []
    for volume, group in converged_by_volume(read(path, ":")).items():
        cubic = [a.info["energy_per_atom"] for a in group if a.info["class"] == "cubic diamond"]
        if not cubic:
            out.append(f"{volume}: no cubic diamond")
            continue
        for atoms in group:
            margin = min(cubic) - atoms.info["energy_per_atom"]
            if atoms.info["class"] != "cubic diamond" and margin > 0:
                d = neighbor_list("d", atoms, 4.0)
                shortest = f"{d.min():.2f} Å" if len(d) else "> 4 Å"
                out.append(f"{volume}: {atoms.info['class']} {len(atoms)} atoms, C-C {shortest}, "
                           f"{1000 * margin:.1f} meV/atom below")
    return out


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path, "|", "; ".join(holes(path)) or "none")
