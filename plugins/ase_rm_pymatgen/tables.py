"""Rows (dicts) as aligned text, Markdown and CSV tables; missing values shown as '-' (text) or empty (CSV)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from typing import Any


def cell(value: Any, digits: int = 4) -> str:
    """One value as table text: None -> '-', bools -> yes/no, floats with ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Right-aligned plain-text table with a header line."""
    lines = [list(columns), *[[cell(r.get(c)) for c in columns] for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in lines)


def format_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], path: str | os.PathLike[str]) -> None:
    """The rows as CSV with these columns (empty cells for missing values, full float precision)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
