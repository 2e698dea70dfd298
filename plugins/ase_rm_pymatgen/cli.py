"""``ase-rm analyse STRUCTURES``: a per-structure table of generated structures.

Columns: formula, E~/atom, converged, space group, and on request the
duplicate each matches (``--dedupe``), E~ above the pseudo hull (``--hull``)
and the pseudo-phonon check (``--phonons MODEL``, needs ase_rm_phonopy).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SYMPREC = 0.1
"""Å: default symmetry tolerance (as ase_rm_pymatgen.analysis.SYMPREC; not imported so --help stays light)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyse", help="table of generated structures: E~, space group, duplicates, hull, phonons")
    p.add_argument("structures", help="generated structures (extxyz from ase-rm generate, or any format ase_rm reads)")
    p.add_argument("--dedupe", action="store_true", help="mark duplicates (pymatgen StructureMatcher)")
    p.add_argument("--hull", action="store_true", help="E~ above the pseudo convex hull (needs elemental structures)")
    p.add_argument("--phonons", metavar="MODEL", help="pseudo-phonon check of each crystal with this model (slow)")
    p.add_argument("--cif-dir", metavar="DIR", help="write one CIF per crystal (unique ones only with --dedupe)")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    p.add_argument("--sort", action="store_true", help="order rows by E~ per atom")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --csv file or CIFs in --cif-dir")
    p.add_argument("--symprec", type=float, default=SYMPREC, help="space-group tolerance, Å")
    p.set_defaults(func=run)


def _require(module: str, extra: str) -> None:
    from importlib.util import find_spec

    from ase_rm import RMError

    if find_spec(module) is None:
        raise RMError(f"{module} is not installed; pip install 'ase-rm[{extra}]'")


def _phonon_check(model: str) -> Any:
    _require("phonopy", "phonopy")
    from ase_rm_phonopy import phonon_check
    from ase_rm_phonopy.phonons import calculator_for

    calc = calculator_for(model)

    def check(atoms: Any) -> tuple[float, bool | None]:
        result = phonon_check(atoms, calc)
        return result.lowest_frequency, result.stable if result.stationary else None

    return check


def run(args: argparse.Namespace) -> int:
    _require("pymatgen", "pymatgen")
    from ase_rm import read_structures
    from ase_rm.outputs import claim_folder, claim_output

    from .analysis import write_cifs
    from .summary import analyse_structures, format_table, write_csv

    if args.csv:
        claim_output(args.csv, overwrite=args.overwrite, can_resume=False)
    if args.cif_dir:  # CIFs of an earlier analysis there are not replaced unasked
        cifs = sorted(p.name for p in Path(args.cif_dir).glob("*.cif"))
        claim_folder(args.cif_dir, cifs, overwrite=args.overwrite, make_parents=True)
    structures = read_structures(args.structures)
    phonons = _phonon_check(args.phonons) if args.phonons else None
    rows = analyse_structures(structures, dedupe=args.dedupe, hull=args.hull, phonons=phonons,
                              symprec=args.symprec)
    if args.sort:
        rows.sort(key=lambda r: (r["energy_per_atom"] is None, r["energy_per_atom"] or 0.0, r["index"]))
    print(format_table(rows))
    if args.csv:
        write_csv(rows, args.csv)
        print(f"table written to {args.csv}")
    if args.cif_dir:
        keep = [r for r in rows if r["spacegroup"] is not None and r.get("duplicate_of", -1) < 0]
        names = [f"{r['index']:04d}_{r['formula']}" for r in keep]
        paths = write_cifs([structures[r["index"]] for r in keep], args.cif_dir, names=names)
        print(f"{len(paths)} CIFs written to {args.cif_dir}")
    return 0

