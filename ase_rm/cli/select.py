"""``ase-rm select IN OUT --lowest K``: keep the lowest-E~ attempts of each composition.

``--best-of K`` turns a plain run into best-of-K attempts (the same result as
``ase-rm generate --best-of K`` with K times fewer attempts), ranked by E~ or by
a ranking a plugin registers (``--rank-by``; the molecules plugin's bonds and valence).
"""

from __future__ import annotations

import argparse

from .args import positive_int

EXAMPLES = """examples:
  ase-rm select gen.extxyz low.extxyz --lowest 4 --overwrite
  ase-rm select gen.extxyz first.extxyz --first 32 --group-by rm_formula
  ase-rm select gen.restarts.extxyz best.extxyz --best-of 8 --rank-by valence
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "select", help="keep the K lowest-E~ (or first K, or best of K) structures of each composition",
        description="Keep the K lowest-E~ (per atom) structures of each composition of an "
                    "`ase-rm generate` output, converged ones first (--lowest), or its K "
                    "lowest-numbered attempts (--first), or the best of each K consecutive "
                    "attempts (--best-of); the rest are dropped.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="generated structures (extxyz with rm_energy)")
    p.add_argument("output", help="output extxyz")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--lowest", type=positive_int, metavar="K", help="keep the K lowest-E~ per composition")
    how.add_argument("--first", type=positive_int, metavar="K",
                     help="keep the K lowest-numbered attempts per composition (E~ not looked at)")
    how.add_argument("--best-of", type=positive_int, metavar="K",
                     help="attempts rm_attempt i*K .. i*K+K-1 become attempt i, keeping the lowest-E~ one "
                          "(what generate --best-of K makes from the same starts)")
    p.add_argument("--rank-by", default="energy", metavar="RULE",
                   help="with --best-of: energy (converged, then lowest E~ per atom; built in) or a ranking "
                        "an installed plugin registers: the molecules plugin's bonds (converged, then passing "
                        "a covalent-radius bond screen, then lowest E~) and valence (as bonds, then having a "
                        "neutral Lewis structure)")
    p.add_argument("--group-by", default="rm_formula", help="atoms.info key of the groups (default rm_formula)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it already holds structures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import keys
    from ..errors import ConfigError
    from ..outputs import claim_output, write_frames
    from ..rss.select import best_of_blocks, group_of, ranking, select_first, select_lowest
    from ..structures import read_structures

    if args.rank_by != "energy" and args.best_of is None:
        raise ConfigError("--rank-by applies to --best-of")
    ranking(args.rank_by)  # an unknown or unavailable ranking fails before reading
    claim_output(args.output, overwrite=args.overwrite, can_resume=False)
    frames = read_structures(args.input)
    if args.best_of is not None:
        kept = best_of_blocks(frames, args.best_of, args.rank_by)
        how = f"the best of each {args.best_of} consecutive attempts" + (
            f", ranked by {args.rank_by}" if args.rank_by != "energy" else "")
    else:
        k = args.lowest if args.lowest is not None else args.first
        kept = (select_lowest if args.lowest is not None else select_first)(frames, k, args.group_by)
        how = f"{len({group_of(a, args.group_by) for a in frames})} groups, at most {k} each"
    write_frames(args.output, kept)
    n_conv = sum(bool(a.info.get(keys.RM_CONVERGED, False)) for a in kept)
    print(f"kept {len(kept)} of {len(frames)} structures ({how}; {n_conv} kept are converged) -> {args.output}")
    return 0
