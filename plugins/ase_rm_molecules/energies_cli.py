"""``ase-rm evaluate energies MODEL DATA``: E~ of given molecules against their reference energy (Fig. 1).

Added to ``ase-rm evaluate`` by :mod:`ase_rm_molecules.cli`. Imports nothing
heavy at import time; torch, the model and matplotlib load when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ase_rm.cli.args import non_negative_int, positive_int, removed

DEFAULT_TOP = 5
"""Compositions with their own per-atom correlation by default."""

OUTPUT_FILES = ("energies.csv", "correlation.md", "scatter.png", "scatter_compositions.png")
"""What ``evaluate energies`` writes into --out."""


def add_energies_parser(targets: argparse._SubParsersAction) -> None:
    """Add the ``energies`` target to the ``evaluate`` subcommand."""
    from .energies import DEFAULT_ENERGY_KEY, DEFAULT_MAX_ATOMS

    e = targets.add_parser(
        "energies",
        help="pseudo energy E~ of given molecules vs their reference energy: Pearson R, table, scatter plots",
        description="E~ of every molecule of DATA at its given geometry against atoms.info[KEY] (QM7b: ae_pbe0, "
        "the PBE0 atomization energy in kcal/mol), over all molecules and per atom within the most common "
        "compositions. --heldout keeps only the molecules the model did not train on, by redoing the split "
        "stored in the checkpoint: DATA must then be the file the model was trained on.",
    )
    e.add_argument("model", help="checkpoint path or shipped name")
    e.add_argument("data", type=Path, help="molecules with a reference energy (e.g. qm7b.extxyz.gz)")
    e.add_argument("--out", type=Path, default=Path("energy_correlation"),
                   help="output folder for energies.csv, correlation.md, scatter.png, scatter_compositions.png")
    e.add_argument("--heldout", action="store_true",
                   help="only the molecules the model did not train on (DATA must be its training file)")
    e.add_argument("--energy-key", default=DEFAULT_ENERGY_KEY,
                   help=f"atoms.info key of the reference energy (default {DEFAULT_ENERGY_KEY})")
    e.add_argument("--top-compositions", type=non_negative_int, default=DEFAULT_TOP,
                   help=f"most common compositions with their own per-atom R (default {DEFAULT_TOP}; 0 for none)")
    e.add_argument("--batch-atoms", type=positive_int, default=DEFAULT_MAX_ATOMS, help="atoms per batched evaluation")
    removed(e, "--max-atoms", "the batch memory bound is --batch-atoms, as in every command")
    e.add_argument("--device", default="cpu")
    e.add_argument("--overwrite", action="store_true", help="replace the tables and plots of an earlier run in --out")
    e.set_defaults(func=run_energies)


def _progress(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="E~", unit="mol", disable=not sys.stderr.isatty(), leave=False)


def _report(model: str, data: Path, n: int, key: str, unit: str, heldout: str | None, table: str) -> str:
    lines = [
        "# Energy correlation (Fig. 1)",
        "",
        f"* model: `{model}`",
        f"* data: `{data}`",
        f"* molecules: {n}" + (f"; {heldout}" if heldout else " (all of the data)"),
        f"* reference: `atoms.info[{key!r}]`" + (f", {unit}" if unit else ", unit not known"),
        "* E~: total pseudo energy of the given geometry, eV",
        "* R > 0: a more negative reference (e.g. a more strongly bound molecule) goes with a lower E~; "
        "the paper reports R = 0.98 per molecule on QM7b",
        "",
        table,
    ]
    return "\n".join(lines)


def run_energies(args: argparse.Namespace) -> int:
    """Compute, write energies.csv, correlation.md and the two plots; print the table."""
    from ase_rm import RMError
    from ase_rm.outputs import claim_folder, write_text

    from .correlation import correlations, format_correlations, top_compositions, write_energies_csv
    from .energies import evaluate_energies
    from .reading import read_frames

    try:
        from .scatter import plot_composition_scatter, plot_energy_scatter
    except ImportError as exc:
        raise RMError(f"needs matplotlib ({exc.name} is missing): pip install 'ase-rm[molecules]'") from exc
    if args.top_compositions < 0:
        raise RMError(f"--top-compositions must be >= 0, got {args.top_compositions}")
    claim_folder(args.out, OUTPUT_FILES, overwrite=args.overwrite, make_parents=True)
    frames = read_frames(args.data)
    with _progress(len(frames)) as bar:
        table, split = evaluate_energies(args.model, frames, args.heldout, args.energy_key, args.device,
                                         max_atoms=args.batch_atoms, progress=bar.update)
    rows = correlations(table, args.top_compositions)
    label = f"{args.energy_key} ({table.unit})" if table.unit else args.energy_key
    markdown = format_correlations(rows, label)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    heldout = split.describe() if split is not None else None
    write_energies_csv(table, out / "energies.csv")
    write_text(out / "correlation.md",
               _report(args.model, args.data, len(table), table.key, table.unit, heldout, markdown))
    plot_energy_scatter(table, out / "scatter.png", title=f"{len(table)} {'held-out ' if split else ''}molecules")
    written = [out / "energies.csv", out / "correlation.md", out / "scatter.png"]
    top = [formula for formula, _ in top_compositions(table.formula, args.top_compositions)]
    if top:
        written.append(plot_composition_scatter(table, top, out / "scatter_compositions.png"))
    if heldout:
        print(heldout)
    print(markdown, end="")
    print("E~ in eV (total per molecule, or per atom); R signed; the paper's 0.98 is per molecule on QM7b")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
