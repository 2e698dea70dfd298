"""Can a physical ranking put the right structure first? For each ground truth of a
CSP run ranked by a physical MLIP, relax the ground truth itself with the same
calculator and settings and compare its energy per atom with the rank-1 candidate's.

Where the relaxed ground truth lies above the rank-1 candidate, no amount of
refinement with that MLIP ranks it first: the ranking error is the MLIP's, not
the search's.

    python experiments/mp20/chgnet_oracle.py ../shared/data/diffcsp_15_compositions.csv out/d15/recommended
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ase.io import read
from ase_rm_pymatgen.csp.groundtruth import read_ground_truths
from ase_rm_pymatgen.csp.physical import get_calculator, relax_one
from pymatgen.io.ase import AseAtomsAdaptor


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("truths", help="ground truths (CSV with cif, or extxyz)")
    p.add_argument("run", help="output folder of `ase-rm csp ... --recipe recommended`")
    p.add_argument("--calculator", default="chgnet")
    p.add_argument("--fmax", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    run = Path(args.run)
    with open(run / "benchmark.csv") as fh:
        rows = {r["composition"]: r for r in csv.DictReader(fh)}
    calc, _ = get_calculator(args.calculator)
    print("| composition | matched at | E rank 1 (eV/atom) | E ground truth relaxed | GT - rank 1 | MLIP prefers |")
    print("|---|---:|---:|---:|---:|---|")
    below = 0
    truths = read_ground_truths(args.truths)
    for gt in truths:
        cands = read(run / "candidates" / f"{gt.composition}.extxyz", ":")
        first = min(cands, key=lambda a: int(a.info["csp_rank"]))
        e1 = float(first.info["csp_physical_energy_per_atom"])
        atoms = AseAtomsAdaptor.get_atoms(gt.structure)
        _, e, _, _ = relax_one(atoms, calc, args.fmax, args.steps)
        egt = e / len(atoms)
        lower = egt < e1 - 1e-3
        below += lower
        r = rows.get(gt.composition, {})
        print(f"| {gt.composition} | {r.get('best_rank') or '-'} | {e1:.4f} | {egt:.4f} | {egt - e1:+.4f} | "
              f"{'ground truth' if lower else 'rank 1 (or tie)'} |")
    print(f"\nground truth lower than the rank-1 candidate under {args.calculator}: {below}/{len(truths)}")


if __name__ == "__main__":
    main()
