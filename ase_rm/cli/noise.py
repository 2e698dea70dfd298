"""``ase-rm noise IN OUT``: write noised frames with their targets for inspection."""

from __future__ import annotations

import argparse

from ..config import NOISE_PRESETS
from .args import non_negative_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("noise", help="noise equilibrium structures and write the frames (extxyz)",
                       epilog="examples:\n  ase-rm noise mine.extxyz noised.extxyz --overwrite\n"
                              "  ase-rm noise cells.extxyz noised.extxyz --recipe crystal --seed 1 --epoch 3\n",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="structures: extxyz/any ase.io format, .db, CIF folder or MP-20 CSV")
    p.add_argument("output", help="output file (extxyz)")
    p.add_argument("--recipe", choices=sorted(NOISE_PRESETS), help="noise recipe (default: by periodicity)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--epoch", type=non_negative_int, default=0, help="which epoch's fresh noise to draw")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it already holds frames")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import noise_structures
    from ..outputs import claim_output, write_frames
    from ..structures import check_atoms, read_structures

    structures = read_structures(args.input)
    claim_output(args.output, overwrite=args.overwrite, can_resume=False)
    for k, atoms in enumerate(structures):
        check_atoms(atoms, label=f"structure {k} of {args.input}")
    recipe = args.recipe or ("crystal" if all(a.pbc.all() for a in structures) else "molecule")
    frames = noise_structures(structures, NOISE_PRESETS[recipe], seed=args.seed, epoch=args.epoch)
    write_frames(args.output, frames)
    print(f"wrote {len(frames)} noised frames ({recipe} recipe) of {len(structures)} structures to {args.output}")
    return 0
