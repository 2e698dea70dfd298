"""``ase-rm phonons MODEL STRUCTURES``: is each relaxed crystal a minimum of E~ or a saddle?"""

from __future__ import annotations

import argparse

from ase_rm.cli.args import non_negative_float, positive_float, positive_int

from .phonons import DISPLACEMENT, MIN_LENGTH, TOLERANCE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("phonons", help="pseudo-phonon stability check of relaxed crystals (phonopy)")
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("structures", help="crystal(s): CIF, extxyz, ... (any format ase_rm reads)")
    p.add_argument("--supercell", type=positive_int, nargs=3, metavar="N",
                   help="diagonal supercell (default: from --min-length)")
    p.add_argument("--min-length", type=positive_float, default=MIN_LENGTH, help="smallest supercell width, Å")
    p.add_argument("--displacement", type=positive_float, default=DISPLACEMENT, help="finite displacement, Å")
    p.add_argument("--tolerance", type=non_negative_float, default=TOLERANCE, help="THz; below -tolerance is imaginary")
    p.add_argument("--frequencies", action="store_true", help="also print every frequency per q-point")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    from ase_rm import RMError, read_structures

    if find_spec("phonopy") is None:
        raise RMError("phonopy is not installed; pip install 'ase-rm[phonopy]'")

    from .phonons import calculator_for, phonon_check

    structures = read_structures(args.structures)
    calc = calculator_for(args.model)
    print(f"{'index':>5}  {'formula':>12}  {'supercell':>9}  {'max_force':>9}  {'lowest_THz':>10}  "
          f"{'at_q':>17}  {'n_imag':>6}  verdict")
    for k, atoms in enumerate(structures):
        res = phonon_check(atoms, calc, supercell=args.supercell, min_length=args.min_length,
                           displacement=args.displacement, tolerance=args.tolerance)
        sc = "x".join(str(int(n)) for n in res.supercell_matrix.diagonal())
        q = "(" + ",".join(f"{x:.2f}" for x in res.lowest_qpoint) + ")"
        verdict = "minimum" if res.stable else "saddle (imaginary modes)"
        if not res.stationary:
            verdict = "not stationary (relax it first)"
        print(f"{k:>5}  {atoms.get_chemical_formula():>12}  {sc:>9}  {res.max_force:>9.2e}  "
              f"{res.lowest_frequency:>10.4f}  {q:>17}  {res.n_imaginary:>6}  {verdict}")
        if args.frequencies:
            for qp, freqs in zip(res.qpoints, res.frequencies, strict=True):
                print(f"       q=({', '.join(f'{x:.3f}' for x in qp)}): " + " ".join(f"{f:.3f}" for f in freqs))
    return 0
