"""``ase-rm lis MODEL --known CSV --out DIR``: the Li-S pseudo convex hull on E~ (paper Fig. 4).

Generates Li_x S_(1-x) crystals over a composition grid, relaxes the known
structures on E~, and writes DIR/hull.csv and DIR/hull.png.
"""

from __future__ import annotations

import argparse
import sys

from ase_rm.cli.args import positive_int

from .cli import _require
from .cli_csp import add_generation_options, claim_campaign

GRID_ATOMS = 8
"""Default --grid-atoms (as ase_rm_pymatgen.binary_hull.GRID_ATOMS; not imported so --help stays light)."""


def parse_elements(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise argparse.ArgumentTypeError(f"--elements takes two different element symbols A,B, not {text!r}")
    return parts[0], parts[1]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lis", help="Li-S (or any A-B) pseudo convex hull on E~ with known structures marked")
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("--known", required=True,
                   help="CSV of known structures, columns material_id and cif (shared/data/li_s_known_structures.csv)")
    add_generation_options(p, n=20, old_max_atoms="the largest cell generated is --max-cell-atoms, "
                                                 "the batch memory bound --batch-atoms")
    p.add_argument("--max-cell-atoms", type=positive_int, default=12, help="largest cell generated (default 12)")
    p.add_argument("--grid-atoms", type=positive_int, default=GRID_ATOMS,
                   help=f"every (nA, nB) with nA + nB <= this is generated (default {GRID_ATOMS}); the known "
                        "structures' cells up to --max-cell-atoms are added")
    p.add_argument("--composition", "-c", action="append", help="generate these cell formulas instead of the grid")
    p.add_argument("--elements", type=parse_elements, default=("Li", "S"), help="A,B (default Li,S); x = fraction of A")
    p.add_argument("--include-unconverged", action="store_true",
                   help="build the hull from unconverged structures too")
    p.add_argument("--known-in-hull", action="store_true",
                   help="build the hull from the relaxed known structures too (default: generated ones only)")
    p.add_argument("--mlip", metavar="NAME",
                   help="also build the hull on a physical MLIP's energy, relaxing the lowest-E~ attempts of each "
                        "composition and the known structures with it: chgnet, emt or module:factory")
    p.add_argument("--mlip-top", type=positive_int, default=2,
                   help="attempts per composition the MLIP relaxes, lowest E~ first (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _require("pymatgen", "pymatgen")
    from .binary_hull import HULL_COLUMNS, read_known_structures, run_binary_hull
    from .tables import format_text

    known = read_known_structures(args.known)
    claim_campaign(args.out, args.overwrite)
    result = run_binary_hull(
        args.model, known, args.out, n=args.n, elements=args.elements, max_atoms=args.max_cell_atoms,
        grid_atoms=args.grid_atoms, compositions=args.composition, seed=args.seed, protocol=args.protocol,
        max_steps=args.max_steps, converged_only=not args.include_unconverged, known_in_hull=args.known_in_hull,
        max_atoms_per_batch=args.batch_atoms, mlip=args.mlip, mlip_top=args.mlip_top, device=args.device,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    columns = [c for c in HULL_COLUMNS if c not in ("source", "in_hull", "on_hull", "times_generated")]
    print(f"{len(result.compositions)} compositions x {args.n} attempts: {', '.join(result.compositions)}")
    print("\npseudo hull vertices:")
    print(format_text(result.vertices, columns))
    print("\nknown structures relaxed on E~ (known_match: still the same structure):")
    print(format_text(result.known, [*columns, "times_generated"]))
    if result.physical_rows is not None:
        print(f"\nhull on {args.mlip}'s energy (eV/atom), vertices:")
        print(format_text(result.physical_vertices, columns))
    print(f"\nwritten: {', '.join(str(p) for p in result.files)}")
    print(result.summary())
    return 0
