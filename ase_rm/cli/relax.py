"""``ase-rm relax MODEL IN OUT``: relax the user's own structures on E~."""

from __future__ import annotations

import argparse

from .args import finite_float, non_negative_int, positive_float, positive_int
from .removed import removed

EXAMPLES = """examples:
  ase-rm relax qm7b mine.extxyz relaxed.extxyz --fmax 0.005 --steps 2000
  ase-rm relax mp20 cells.extxyz relaxed.extxyz --cell --pressure 0.001 --batch-atoms 2048 --device cuda --no-progress
  ase-rm relax mp20 cells.extxyz relaxed.extxyz --cell constant_volume --overwrite
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("relax", help="relax structures on E~ (batched FIRE)", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("input", help="structures (any format ase_rm reads)")
    p.add_argument("output", help="output extxyz")
    p.add_argument("--cell", nargs="?", const="full", choices=("full", "constant_volume", "hydrostatic"),
                   help="also relax the cell (default mode: full)")
    p.add_argument("--fmax", type=positive_float, default=0.01, help="eV/Å")
    p.add_argument("--steps", type=non_negative_int, default=1000)
    p.add_argument("--pressure", type=finite_float, default=0.0, help="external pressure, eV/Å^3 (variable cell)")
    p.add_argument("--batch-atoms", type=positive_int, default=4096, help="atoms per relaxation batch (memory bound)")
    removed(p, "--max-atoms", "the batch memory bound is --batch-atoms, as in every command")
    p.add_argument("--device", default="cpu")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it already holds structures")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_potential
    from ..outputs import claim_output, write_frames
    from ..relaxation import relax
    from ..structures import read_structures

    claim_output(args.output, overwrite=args.overwrite, can_resume=False)
    structures = read_structures(args.input)
    potential, _ = load_potential(args.model, device=args.device)
    results = relax(
        potential, structures, fmax=args.fmax, steps=args.steps, cell=args.cell, pressure=args.pressure,
        max_atoms_per_batch=args.batch_atoms, progress=not args.no_progress,
    )
    write_frames(args.output, results)
    converged = sum(bool(a.info["rm_converged"]) for a in results)
    print(f"relaxed {len(results)} structures ({converged} converged) -> {args.output}")
    return 0
