"""Is a hole of one diamond model a hole of the others? E~ of one run's lowest non-cubic structure
against its lowest cubic diamond at one volume, evaluated with other models.

    python experiments/diamond/cross_check.py runs/e80/t1_s5 5.6 runs/e80/t1_s*/train/best.pt

prints, per model, E~(hole) - E~(cubic) in meV/atom: negative means that model also puts the
structure below cubic diamond (a hole of E~ shared by the models, not of one training run).
"""

from __future__ import annotations

import sys

from ase.io import read

from ase_rm import RMCalculator, keys


def per_atom(atoms, checkpoint: str) -> float:  # type: ignore[no-untyped-def]
    atoms = atoms.copy()
    atoms.calc = RMCalculator.from_checkpoint(checkpoint)
    return atoms.get_potential_energy() / len(atoms)


def main(run: str, volume: float, checkpoints: list[str]) -> None:
    group = [a for a in read(f"{run}/structures.extxyz", ":")
             if a.info[keys.RM_CONVERGED] and round(float(a.info["volume_per_atom"]), 3) == volume]
    cubic = min((a for a in group if a.info["class"] == "cubic diamond"), key=lambda a: a.info["energy_per_atom"])
    hole = min((a for a in group if a.info["class"] != "cubic diamond"), key=lambda a: a.info["energy_per_atom"])
    print(f"{run} at {volume} Å^3/atom: {hole.info['class']}, {len(hole)} atoms")
    for ck in checkpoints:
        print(f"  {ck}: {1000 * (per_atom(hole, ck) - per_atom(cubic, ck)):+.1f} meV/atom")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3:])
