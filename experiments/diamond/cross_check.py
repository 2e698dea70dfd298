"""Is a hole of one diamond model a hole of the others? E~ of one run's lowest non-cubic structure
against its lowest cubic diamond at one volume, evaluated with other models.

    python experiments/diamond/cross_check.py runs/e80/t1_s5 5.6 runs/e80/t1_s*/train/best.pt

prints, per model, E~(hole) - E~(cubic) in meV/atom: negative means that model also puts the
structure below cubic diamond (a hole of E~ shared by the models, not of one training run).
"""

from __future__ import annotations

import sys

from ase.io import read

from ase_rm import RMCalculator
from ase_rm.demo.run import converged_by_volume


def main(run: str, volume: float, checkpoints: list[str]) -> None:
    group = converged_by_volume(read(f"{run}/structures.extxyz", ":"))[volume]
    cubic = min((a for a in group if a.info["class"] == "cubic diamond"), key=lambda a: a.info["energy_per_atom"])
    hole = min((a for a in group if a.info["class"] != "cubic diamond"), key=lambda a: a.info["energy_per_atom"])
    print(f"{run} at {volume} Å^3/atom: {hole.info['class']}, {len(hole)} atoms")
    pair = [cubic.copy(), hole.copy()]
    for ck in checkpoints:
        calc = RMCalculator.from_checkpoint(ck)  # loaded once per model, used for both structures
        for atoms in pair:
            atoms.calc = calc
        e_cubic, e_hole = (a.get_potential_energy() / len(a) for a in pair)
        print(f"  {ck}: {1000 * (e_hole - e_cubic):+.1f} meV/atom")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3:])
