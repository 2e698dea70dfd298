"""Summary tables as text: markdown for people, CSV for programs."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .checks import CHECK_LABELS

COLUMN_LABELS: dict[str, str] = {
    **CHECK_LABELS,
    "n_attempts": "Attempts",
    "converged_pct": "Converged",
    "perceived_pct": "Perceived",
    "neutral_pct": "Neutral",
    "all_pass": "All pass",
    "all_pass_neutral": "All pass, neutral",
    "all_pass_posebusters": "All pass (all PB checks)",
    "n_all_pass": "n all pass",
    "n_unique": "Unique",
    "unique_pct": "Unique %",
    "n_novel": "Novel",
    "novel_pct": "Novel %",
}
"""Human-readable column names for tables and figures (rates are in %)."""


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def format_markdown(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A markdown table of a summary (rates in %, one decimal; ``-`` for not available).

    Args:
        table: from :func:`~ase_rm_molecules.evaluate.summarise`.
        columns: which columns, in order (default: all).
    """
    columns = list(table.columns) if columns is None else columns
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"no such summary column(s): {', '.join(missing)}")
    header = [table.index.name or ""] + [COLUMN_LABELS.get(c, c) for c in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in table.index:
        cells = [_cell(table.at[label, c]) for c in columns]
        lines.append("| " + " | ".join([str(label), *cells]) + " |")
    return "\n".join(lines) + "\n"


def write_csv(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a summary or per-frame table as CSV (machine-readable column names); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, float_format="%.4f", index=table.index.name is not None)
    return out
