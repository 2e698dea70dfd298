"""``ase-rm evaluate molecules``: PoseBusters pass rates of generated molecules.

``ase-rm evaluate energies`` (E~ against a reference energy, Fig. 1) lives in
:mod:`ase_rm_molecules.energies_cli`.

Registered through the ``ase_rm.commands`` entry point. This module imports
nothing heavy at import time, so listing commands stays fast; RDKit and
PoseBusters are imported when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

DEFAULT_REFERENCE_LIMIT = 200
"""QM7b molecules in the reference row by default (about 0.4 s each)."""

OUTPUT_FILES = ("summary.csv", "molecules.csv", "summary.md", "heatmap.png")
"""What ``evaluate molecules`` writes into --out."""

PROGRESS_FILE = "records.partial.jsonl"
"""The records made so far, in --out while an evaluation runs: a killed one continues from them."""

PRINTED_COLUMNS = [
    "n_attempts", "converged_pct", "perceived_pct", "sanitization", "all_atoms_connected", "bond_lengths",
    "bond_angles", "internal_steric_clash", "aromatic_ring_flatness", "double_bond_flatness", "internal_energy",
    "all_pass", "all_pass_neutral", "n_unique", "n_novel",
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` (with the targets ``molecules`` and ``energies``) to the ``ase-rm`` subcommands."""
    from .energies_cli import add_energies_parser

    p = sub.add_parser("evaluate", help="evaluate generated molecules (RDKit + PoseBusters checks) or the "
                       "correlation of E~ with reference energies")
    targets = p.add_subparsers(dest="target", required=True)
    m = targets.add_parser(
        "molecules",
        help="bond perception + PoseBusters 'mol' checks, pass rates per composition, uniqueness, novelty",
        description="Rates are over all attempts: unperceivable frames fail every check, and non-converged "
        "frames (rm_converged False) count as failures unless --judge-unconverged is given. A killed "
        f"evaluation continues where it stopped when the same command is run again (OUT/{PROGRESS_FILE}).",
        epilog="examples:\n  ase-rm evaluate molecules gen.extxyz --out eval\n"
               "  ase-rm evaluate molecules gen_*.extxyz --qm7b qm7b.extxyz.gz --reference-limit 200 --out eval\n"
               "  ase-rm evaluate molecules gen.extxyz --judge-unconverged --out eval_geometry\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("inputs", nargs="+", help="generated molecules (extxyz from ase-rm generate, or any ASE file)")
    m.add_argument("--qm7b", type=Path, help="QM7b file (qm7b.extxyz.gz): reference row and novelty")
    m.add_argument("--reference-limit", type=int, default=DEFAULT_REFERENCE_LIMIT,
                   help=f"QM7b molecules (evenly spaced) in the reference row; -1 for all 7,211, 0 for no row "
                   f"(default {DEFAULT_REFERENCE_LIMIT})")
    m.add_argument("--out", type=Path, default=Path("molecule_evaluation"),
                   help="output folder for summary.csv, summary.md, molecules.csv, heatmap.png and "
                        "molecules.png (representative molecules per composition)")
    m.add_argument("--overwrite", action="store_true", help="replace the tables of an earlier evaluation in --out")
    m.add_argument("--judge-unconverged", action="store_true",
                   help="judge non-converged frames on their geometry instead of counting them as failures")
    m.set_defaults(func=run)
    add_energies_parser(targets)


def _progress(total: int, desc: str) -> Any:
    """A tqdm bar on a terminal, silent otherwise."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="mol", disable=not sys.stderr.isatty(), leave=False)


def _read_inputs(paths: list[str]) -> list[Any]:
    """Frames of every input file; molecules only."""
    from ase_rm import RMError

    from .reading import read_frames

    frames = []
    for path in paths:
        frames.extend(read_frames(path))
    periodic = [i for i, a in enumerate(frames) if any(a.pbc)]
    if periodic:
        raise RMError(f"frame {periodic[0]} is periodic; evaluate molecules only checks molecules (pbc False)")
    return frames


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the tables and the heatmap, print the summary as markdown."""
    from ase_rm import RMError

    try:
        from .evaluate import evaluate_frames, records_table, summarise
        from .gallery import draw_representatives
        from .heatmap import plot_heatmap
        from .reference import evenly_spaced, known_smiles, qm7b_reference
        from .report import format_markdown, write_csv
    except ImportError as exc:
        raise RMError(f"needs the molecules extra ({exc.name} is missing): pip install 'ase-rm[molecules]'") from exc
    if not getattr(args, "verbose", False):
        logging.getLogger("posebusters").setLevel(logging.ERROR)  # per-molecule warnings of failed checks
    if args.reference_limit < -1:
        raise RMError(f"--reference-limit must be -1 (all), 0 (none) or positive, got {args.reference_limit}")

    from ase_rm.outputs import claim_folder, discard

    claim_folder(args.out, OUTPUT_FILES, overwrite=args.overwrite, make_parents=True)
    partial = args.out / PROGRESS_FILE
    if args.overwrite:
        discard(partial)
    frames = _read_inputs(args.inputs)
    args.out.mkdir(parents=True, exist_ok=True)
    with _progress(len(frames), "molecules") as bar:
        records = evaluate_frames(frames, progress=bar.update, cache=partial)
    known, ref_records, ref_label = None, None, "QM7b"
    if args.qm7b is not None:
        qm7b = qm7b_reference(args.qm7b)
        known = known_smiles(qm7b)
        sample = evenly_spaced(qm7b, None if args.reference_limit == -1 else args.reference_limit)
        ref_label = f"QM7b ({len(sample)})"
        if sample:
            with _progress(len(sample), "QM7b") as bar:
                ref_records = evaluate_frames(sample, group=ref_label, progress=bar.update, cache=partial)
    table = summarise(records, known, not args.judge_unconverged, ref_records, reference_label=ref_label)

    from ase_rm.outputs import atomic_path, write_text

    out: Path = args.out
    with atomic_path(out / "molecules.csv") as tmp:
        write_csv(records_table(records), tmp)
    plot_heatmap(table, out / "heatmap.png")
    picture = draw_representatives(frames, records, out / "molecules.png", unconverged_fail=not args.judge_unconverged)
    write_text(out / "summary.md", format_markdown(table))
    with atomic_path(out / "summary.csv") as tmp:  # last: its presence means the evaluation finished
        write_csv(table, tmp)
    discard(partial)
    print(format_markdown(table, PRINTED_COLUMNS), end="")
    print("rates in % of all attempts" + ("" if args.judge_unconverged else " (non-converged count as failures)")
          + ("" if known is not None else "; no --qm7b given, so no reference row and no novelty"))
    drawn = f", {picture} (representative molecules)" if picture else "; no molecule perceived, so no molecules.png"
    print(f"wrote {out / 'summary.csv'}, {out / 'summary.md'}, {out / 'molecules.csv'}, {out / 'heatmap.png'}{drawn}")
    return 0
