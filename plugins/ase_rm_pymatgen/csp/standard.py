"""The community's CSP benchmark (DiffCSP, FlowMM): match rate at 1 and at k, and normalised RMSE.

For each ground truth (:mod:`.groundtruth`), k attempts are made for its cell
formula with a recipe (:mod:`.predict`; ground truths of one cell formula share
the attempts). Then:

- ``match_at_k``: any of the k attempts matches the truth (StructureMatcher
  stol=0.5, angle_tol=10, ltol=0.3, as DiffCSP's metrics);
- ``match_at_1``: the candidate ranked 1 (what the method hands a user; after
  the recipe's ranking and, if it has one, its physical refinement) matches;
- ``rms_at_k`` / ``rms_at_1``: the RMS distance normalised by (V/N)^(1/3) of the
  best match / of the rank-1 match; the summary's RMSE is their mean over the matched.

Resumable: each composition's rows go to ``results/<formula>.csv`` and its
ranked candidates to ``candidates/<formula>.extxyz`` (each written to a temporary
name, then renamed); a rerun skips the compositions already there. The
summary goes to ``benchmark.csv`` (one row per ground truth) and ``summary.md``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ase import Atoms

from ..convert import ModelLike
from ..reference import paper_matcher
from ..tables import format_markdown, write_rows
from .benchmark import match_rms
from .groundtruth import GroundTruth
from .physical import get_calculator
from .predict import generate, rank, write_atomic
from .recipes import Recipe, load_recipe

log = logging.getLogger(__name__)

COLUMNS = ("csp_id", "composition", "n_atoms", "n_attempts", "n_candidates", "match_at_1", "match_at_k",
           "rms_at_1", "rms_at_k", "best_rank", "seconds")
"""Columns of results/<formula>.csv and benchmark.csv."""


def _read_rows(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("match_at_1", "match_at_k"):
            row[key] = row[key] == "True"
        for key in ("rms_at_1", "rms_at_k", "seconds"):
            row[key] = float(row[key]) if row[key] else None
    return rows


def score(truth: GroundTruth, attempts: Sequence[Atoms], candidates: Sequence[Atoms], seconds: float,
          matcher: Any = None) -> dict[str, Any]:
    """One benchmark row: match at 1 (the rank-1 candidate) and at k (any attempt or candidate)."""
    matcher = matcher or paper_matcher()
    rms_any = [match_rms(matcher, truth.structure, a) for a in [*attempts, *candidates]]
    found = [r for r in rms_any if r is not None]
    ranked = [match_rms(matcher, truth.structure, c) for c in candidates]
    best_rank = next((k for k, r in enumerate(ranked, start=1) if r is not None), None)
    finite = [r for r in found if math.isfinite(r)]
    return {"csp_id": truth.csp_id, "composition": truth.composition, "n_atoms": len(truth.structure),
            "n_attempts": len(attempts), "n_candidates": len(candidates),
            "match_at_1": bool(ranked) and ranked[0] is not None, "match_at_k": bool(found),
            "rms_at_1": ranked[0] if ranked else None, "rms_at_k": min(finite) if finite else None,
            "best_rank": best_rank, "seconds": seconds}


def summarise(rows: Sequence[dict[str, Any]], k: int, generation_seconds: float | None = None) -> dict[str, Any]:
    """Match rates (%), mean RMSE over the matched, seconds per ground truth."""
    n = len(rows)

    def rate(key: str) -> float:
        return 100.0 * sum(bool(r[key]) for r in rows) / n if n else math.nan

    def mean_rms(match: str, rms: str) -> float | None:
        values = [float(r[rms]) for r in rows if r[match] and r[rms] is not None and math.isfinite(float(r[rms]))]
        return sum(values) / len(values) if values else None

    ranking = sum(float(r["seconds"] or 0.0) for r in rows)
    return {"n_truths": n, "k": k, "match_rate_at_1": rate("match_at_1"), f"match_rate_at_{k}": rate("match_at_k"),
            "rmse_at_1": mean_rms("match_at_1", "rms_at_1"), f"rmse_at_{k}": mean_rms("match_at_k", "rms_at_k"),
            "n_matched_at_1": sum(bool(r["match_at_1"]) for r in rows),
            f"n_matched_at_{k}": sum(bool(r["match_at_k"]) for r in rows),
            "generation_seconds": generation_seconds, "ranking_seconds": ranking}


def run_benchmark(model: ModelLike, truths: Sequence[GroundTruth], out_dir: str | os.PathLike[str], n: int = 20,
                  recipe: str | Recipe = "paper", seed: int = 0, device: str = "cpu", progress: bool = False,
                  **generate_kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Generate, rank, match and write (module doc). Returns (rows per ground truth, summary)."""
    from tqdm.auto import tqdm

    rec = load_recipe(recipe) if isinstance(recipe, str) else recipe
    out = Path(out_dir)
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "candidates").mkdir(exist_ok=True)
    if rec.rank_by == "physical":
        get_calculator(rec.calculator, device)  # fail before generating if the MLIP is missing
    by_formula: dict[str, list[GroundTruth]] = {}
    for truth in truths:
        by_formula.setdefault(truth.composition, []).append(truth)
    todo = [f for f in by_formula if not (out / "results" / f"{f}.csv").exists()]
    start = time.perf_counter()
    generated = generate(model, todo, out, n, rec, seed, device=device, progress=progress,
                         **generate_kwargs) if todo else {}
    generation = time.perf_counter() - start
    matcher = paper_matcher()
    for formula in tqdm(todo, desc="rank+match", unit="composition", disable=not progress):
        t0 = time.perf_counter()
        group = by_formula[formula]
        candidates = rank(generated[formula], group[0].csp_id, rec, device=device)
        seconds = time.perf_counter() - t0
        rows = [score(t, generated[formula], candidates, seconds, matcher) for t in group]
        write_atomic(candidates, out / "candidates" / f"{formula}.extxyz")
        tmp = out / "results" / f"{formula}.csv.tmp"
        write_rows(rows, COLUMNS, tmp)
        os.replace(tmp, out / "results" / f"{formula}.csv")
    rows = [r for f in by_formula for r in _read_rows(out / "results" / f"{f}.csv")]
    summary = summarise(rows, n, generation if todo else None)
    summary["recipe"] = rec.name
    write_rows(rows, COLUMNS, out / "benchmark.csv")
    (out / "summary.md").write_text(format_markdown([summary], list(summary)) + "\n")
    return rows, summary
