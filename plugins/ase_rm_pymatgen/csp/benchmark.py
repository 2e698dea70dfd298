"""Crystal structure prediction benchmark (docs/method.md section 5): n attempts per composition vs ground truth.

For each composition of a CSV (columns ``composition`` and ``cif``, e.g.
shared/data/diffcsp_15_compositions.csv), n structures are generated with the
crystal protocol; every attempt, converged or not, is compared with the ground
truth by StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10) on the *reduced*
formula (primitive cells, volumes scaled: a 6-atom Sr2O4 cell can match the
3-atom SrO2 ground truth). E~ rank 1 is the lowest ``rm_energy`` per atom among
a composition's attempts (ties by attempt order; attempts without a finite
energy rank last); a composition counts as found within top k when its
best-ranked match has rank <= k.

Duplicates are common in random structure search: several attempts relax into
the same structure. The ``distinct`` columns rank what a user would keep after
removing them: in E~ order, each attempt joins the first lower-E~ structure the
matcher finds equal to it, or starts a new distinct structure; distinct rank 1
is the lowest-E~ distinct structure, and a composition counts as found within
the top k distinct when one of the k lowest distinct structures (its lowest-E~
member) matches the ground truth.

The ground-truth check (on by default) tells a model problem from a search
problem: each ground truth is relaxed on E~ with the protocol's last stage
(positions and cell); ``gt_minimum`` says whether it still matches itself (a
basin of E~ lies at the ground truth), and ``gt_rank`` where its E~ per atom
would rank among the attempts (1: lower than all of them).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from ase import Atoms
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Composition, Structure

from ase_rm import RMError, UnknownElementError
from ase_rm.keys import RM_ATTEMPT, RM_CONVERGED, RM_ENERGY
from ase_rm.relaxation import CellMode, relax
from ase_rm.rss import Protocol

from ..analysis import energy_of
from ..convert import ModelLike, load_model, to_atoms, to_pymatgen
from ..reference import paper_matcher, parse_cif, read_table
from ..tables import format_markdown, format_text, write_rows
from .campaign import attempt_number, canonical_formula, generate_compositions, resolve_protocol
from .templates import TemplateLibrary, TemplateStarts

log = logging.getLogger(__name__)

TOP_K = (1, 3, 5)
"""Default k of the matched-within-top-k columns."""

GT_COLUMNS = ("gt_minimum", "gt_rms", "gt_rank")
"""Columns of the ground-truth check (see the module doc)."""

ATTEMPT_COLUMNS = ("composition", "attempt", "n_atoms", "energy_per_atom", "rank", "converged", "matched", "rms",
                   "distinct_rank", "distinct")
"""Columns of the per-attempt table (attempts.csv)."""


@dataclass(frozen=True)
class CSPTarget:
    """One composition to predict and its ground truth.

    Attributes:
        composition: the cell formula generated, e.g. "Sr2O4".
        structure: the ground-truth crystal (its cell may differ, e.g. SrO2).
        material_id: e.g. "mp-2697" (informative only).
    """

    composition: str
    structure: Structure
    material_id: str = ""

    @property
    def reduced_formula(self) -> str:
        return str(self.structure.composition.reduced_formula)


def read_csp_targets(path: str | os.PathLike[str]) -> list[CSPTarget]:
    """Targets from a CSV with columns ``composition`` and ``cif`` (``material_id`` optional).

    Raises:
        RMError: missing file or column, an unparsable formula or CIF, a repeated
            composition, or a ground truth whose reduced formula differs from the composition's.
    """
    targets = []
    for k, row in enumerate(read_table(path, ("composition", "cif")), start=1):
        where = f"{path}, row {k} ({row['composition'] or 'no composition'})"
        try:
            formula = canonical_formula(row["composition"].strip())
        except RMError as exc:
            raise RMError(f"{where}: {exc}") from None
        structure = parse_cif(row["cif"] or "", where)
        reduced = Composition(formula).reduced_formula
        if structure.composition.reduced_formula != reduced:
            raise RMError(f"{where}: ground truth is {structure.composition.reduced_formula}, not {reduced}")
        targets.append(CSPTarget(formula, structure, (row.get("material_id") or "").strip()))
    formulas = [t.composition for t in targets]
    if len(set(formulas)) != len(formulas):
        raise RMError(f"{path}: a composition is listed twice")
    return targets


def energy_ranks(energies_per_atom: Sequence[float | None]) -> list[int]:
    """Rank of each value, 1 = lowest; ties by position; None and NaN rank last."""
    def key(k: int) -> tuple[float, int]:
        e = energies_per_atom[k]
        return (math.inf if e is None or not math.isfinite(e) else e, k)

    ranks = [0] * len(energies_per_atom)
    for r, k in enumerate(sorted(range(len(energies_per_atom)), key=key), start=1):
        ranks[k] = r
    return ranks


def _as_crystal(structure: Atoms | Structure) -> Structure | None:
    """A pymatgen Structure, or None for something no matcher can take (no 3-D cell, non-finite numbers)."""
    if isinstance(structure, Structure):
        return structure
    if not structure.pbc.all() or not np.isfinite(structure.positions).all():
        return None
    if not np.isfinite(structure.cell.array).all() or abs(structure.cell.volume) < 1e-6:
        return None
    crystal = to_pymatgen(structure)
    return crystal if isinstance(crystal, Structure) else None


def _same(matcher: StructureMatcher, a: Structure, b: Structure) -> bool:
    try:
        return bool(matcher.fit(a, b))
    except (ValueError, ArithmeticError, IndexError) as exc:  # numerically broken cells
        log.debug("StructureMatcher failed on a %s structure: %s", a.composition.reduced_formula, exc)
        return False


def distinct_ranks(structures: Sequence[Atoms | Structure], ranks: Sequence[int],
                   matcher: StructureMatcher) -> list[tuple[int, bool]]:
    """Per attempt: (rank of its distinct structure, whether it is that structure's lowest-E~ member).

    In E~ rank order, each attempt joins the first distinct structure whose
    lowest-E~ member ``matcher`` finds equal to it, or starts a new one (distinct
    rank 1: the lowest in E~). Something the matcher cannot take is its own structure.
    """
    members: list[Structure | None] = []
    out = [(0, False)] * len(structures)
    for k in sorted(range(len(structures)), key=lambda i: ranks[i]):
        crystal = _as_crystal(structures[k])
        group = None if crystal is None else next(
            (g for g, first in enumerate(members) if first is not None and _same(matcher, first, crystal)), None)
        if group is None:
            members.append(crystal)
            out[k] = (len(members), True)
        else:
            out[k] = (group + 1, False)
    return out


def match_rms(matcher: StructureMatcher, truth: Structure, candidate: Atoms | Structure) -> float | None:
    """Normalised RMS distance (pymatgen's, (V/n)^(1/3) units) if ``candidate`` matches ``truth``, else None.

    NaN for a match whose RMS pymatgen does not find. The reduced formulas must
    agree; a structure the matcher cannot handle (degenerate cell, non-finite
    coordinates) does not match.
    """
    crystal = _as_crystal(candidate)
    if crystal is None or crystal.composition.reduced_formula != truth.composition.reduced_formula:
        return None
    if not _same(matcher, truth, crystal):
        return None
    try:
        rms = matcher.get_rms_dist(truth, crystal)
    except (ValueError, ArithmeticError, IndexError) as exc:  # numerically broken cells
        log.debug("StructureMatcher failed on a %s structure: %s", truth.composition.reduced_formula, exc)
        return None
    return float("nan") if rms is None else float(rms[0])


def match_attempts(
    target: CSPTarget, structures: Sequence[Atoms | Structure], matcher: StructureMatcher | None = None,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """One row per attempt: E~ per atom, E~ rank, converged, matched, RMS distance,
    distinct rank and whether it is its distinct structure's lowest-E~ member
    (:func:`distinct_ranks`, same matcher).

    Args:
        target: composition and ground truth.
        structures: every attempt (Atoms or Structure with ``rm_energy`` / ``rm_converged``), in attempt order.
        matcher: default :func:`ase_rm_pymatgen.reference.paper_matcher`.
        progress: something with ``update(1)`` (a tqdm bar), called per structure.
    """
    matcher = matcher or paper_matcher()
    energies = []
    for s in structures:
        energy = energy_of(s)
        energies.append(None if energy is None else energy / len(s))
    ranks = energy_ranks(energies)
    distinct = distinct_ranks(structures, ranks, matcher)
    rows = []
    for k, s in enumerate(structures):
        info = s.info if isinstance(s, Atoms) else s.properties
        rms = match_rms(matcher, target.structure, s)
        converged = info.get(RM_CONVERGED)
        rows.append({
            "composition": target.composition,
            "attempt": attempt_number(s) if isinstance(s, Atoms) and RM_ATTEMPT in s.info else k,
            "n_atoms": len(s), "energy_per_atom": energies[k], "rank": ranks[k],
            "converged": None if converged is None else bool(converged),
            "matched": rms is not None, "rms": rms,
            "distinct_rank": distinct[k][0], "distinct": distinct[k][1],
        })
        if progress is not None:
            progress.update(1)
    return rows


def summarise_attempts(composition: str, attempts: Sequence[dict[str, Any]], top: Sequence[int] = TOP_K,
                       material_id: str = "") -> dict[str, Any]:
    """The benchmark row of one composition from its :func:`match_attempts` rows."""
    matches = [a for a in attempts if a["matched"]]
    best = min(matches, key=lambda a: a["rank"]) if matches else None
    rms = [a["rms"] for a in matches if a["rms"] is not None and math.isfinite(a["rms"])]
    row: dict[str, Any] = {
        "composition": composition, "material_id": material_id,
        "n_attempts": len(attempts), "n_converged": sum(bool(a["converged"]) for a in attempts),
        "n_matched": len(matches), "n_matched_converged": sum(bool(a["converged"]) for a in matches),
        "matched": bool(matches), "best_rms": min(rms) if rms else None,
        "best_rank": None if best is None else best["rank"],
        "best_rank_converged": None if best is None else best["converged"],
    }
    for k in top:
        row[f"top_{k}"] = best is not None and best["rank"] <= k
    firsts = [a for a in attempts if a["distinct"]]
    best_distinct = min((a["distinct_rank"] for a in firsts if a["matched"]), default=None)
    row["n_distinct"] = len(firsts)
    row["best_distinct_rank"] = best_distinct
    for k in top:
        row[f"top_{k}_distinct"] = best_distinct is not None and best_distinct <= k
    return row


@dataclass
class CSPResult:
    """Benchmark rows (one per composition) and per-attempt rows."""

    rows: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    top: tuple[int, ...] = TOP_K
    files: list[Path] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        gt = [c for c in GT_COLUMNS if self.rows and c in self.rows[0]]
        return ["composition", "n_attempts", "n_converged", "n_matched", "n_matched_converged", "matched",
                "best_rms", "best_rank", "best_rank_converged", *[f"top_{k}" for k in self.top],
                "n_distinct", "best_distinct_rank", *[f"top_{k}_distinct" for k in self.top], *gt]

    def table(self) -> str:
        return format_text(self.rows, self.columns)

    def markdown(self) -> str:
        return format_markdown(self.rows, self.columns)

    def summary(self) -> str:
        """``matched: X/15 (any of 30); top-1: a/15; top-3: b/15; top-5: c/15; top-1/3/5 distinct: d/e/f of 15``."""
        total = len(self.rows)
        n = max((r["n_attempts"] for r in self.rows), default=0)
        parts = [f"matched: {sum(r['matched'] for r in self.rows)}/{total} (any of {n})"]
        parts += [f"top-{k}: {sum(r[f'top_{k}'] for r in self.rows)}/{total}" for k in self.top]
        counts = "/".join(str(sum(r[f"top_{k}_distinct"] for r in self.rows)) for k in self.top)
        parts.append(f"top-{'/'.join(map(str, self.top))} distinct: {counts} of {total}")
        return "; ".join(parts)

    def ground_truth_summary(self) -> str | None:
        """``ground truth a minimum of E~ ...: x/n; lowest in E~ of all attempts: y/n``
        over the checked targets; None without a ground-truth check."""
        checked = [r for r in self.rows if r.get("gt_minimum") is not None]
        if not checked:
            return None
        return (f"ground truth a minimum of E~ (still matched after relaxation): "
                f"{sum(r['gt_minimum'] for r in checked)}/{len(checked)}; lowest in E~ of all attempts: "
                f"{sum(r['gt_rank'] == 1 for r in checked)}/{len(checked)}")

    def write(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """csp.csv, csp.md (table and summary line) and attempts.csv in ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_rows(self.rows, ["material_id", *self.columns], out / "csp.csv")
        (out / "csp.md").write_text(f"{self.markdown()}\n\n{self.summary()}\n")
        write_rows(self.attempts, ATTEMPT_COLUMNS, out / "attempts.csv")
        self.files = [out / "csp.csv", out / "csp.md", out / "attempts.csv"]
        return self.files


def relax_ground_truths(
    model: ModelLike, targets: Sequence[CSPTarget], protocol: Protocol, matcher: StructureMatcher | None = None,
    device: str = "cpu", max_atoms_per_batch: int = 4096,
) -> dict[str, dict[str, Any]]:
    """Relax each ground truth on E~ with the protocol's last stage (its cell
    mode, or positions and cell if it has none) and match it to itself.

    Returns:
        ``{composition: {"gt_minimum": bool, "gt_rms": float | None,
        "gt_energy_per_atom": float}}``; a ground truth with an element the
        model lacks is left out (logged).
    """
    matcher = matcher or paper_matcher()
    stage = protocol.stages[-1]
    potential, _ = load_model(model, device=device)
    out: dict[str, dict[str, Any]] = {}
    for target in targets:
        try:
            (relaxed,) = relax(potential, [to_atoms(target.structure)], fmax=stage.fmax, steps=stage.max_steps,
                               cell=cast(CellMode, stage.cell or "full"), maxstep=stage.maxstep, dt=stage.dt,
                               max_atoms_per_batch=max_atoms_per_batch)
        except UnknownElementError as exc:
            log.warning("ground truth of %s not checked: %s", target.composition, exc)
            continue
        rms = match_rms(matcher, target.structure, relaxed)
        out[target.composition] = {"gt_minimum": rms is not None, "gt_rms": rms,
                                   "gt_energy_per_atom": float(relaxed.info[RM_ENERGY]) / len(relaxed)}
    return out


def ground_truth_rank(energy_per_atom: float, attempts: Sequence[dict[str, Any]]) -> int:
    """1 + the number of attempts lower in E~ per atom than the relaxed ground truth."""
    lower = [a for a in attempts if a["energy_per_atom"] is not None and a["energy_per_atom"] < energy_per_atom]
    return 1 + len(lower)


def _check_top(top: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(sorted({int(k) for k in top}))
    if not ks or ks[0] < 1:
        raise RMError(f"top-k values must be positive integers, not {list(top)}")
    return ks


def evaluate_csp(
    targets: Sequence[CSPTarget],
    generated: Mapping[str, Sequence[Atoms | Structure]],
    top: Sequence[int] = TOP_K,
    matcher: StructureMatcher | None = None,
    progress: bool = False,
    ground_truths: Mapping[str, dict[str, Any]] | None = None,
) -> CSPResult:
    """Match every generated attempt of each target against its ground truth.

    Args:
        targets: compositions and ground truths.
        generated: ``{composition: attempts}`` (all of them, converged or not); a
            target with no entry has 0 attempts.
        top: the k of the matched-within-top-k columns.
        matcher: default :func:`ase_rm_pymatgen.reference.paper_matcher`.
        progress: a progress bar over structures.
        ground_truths: :func:`relax_ground_truths` output: adds the columns
            gt_minimum, gt_rms and gt_rank (None for a target it lacks).
    """
    from tqdm.auto import tqdm

    ks = _check_top(top)
    matcher = matcher or paper_matcher()
    total = sum(len(generated.get(t.composition, ())) for t in targets)
    rows, attempts = [], []
    with tqdm(total=total, desc="match", unit="structure", disable=not progress) as bar:
        for target in targets:
            per_attempt = match_attempts(target, generated.get(target.composition, ()), matcher, bar)
            attempts += per_attempt
            row = summarise_attempts(target.composition, per_attempt, ks, target.material_id)
            if ground_truths is not None:
                gt = ground_truths.get(target.composition)
                row.update(dict.fromkeys(GT_COLUMNS))
                if gt is not None:
                    row.update(gt_minimum=gt["gt_minimum"], gt_rms=gt["gt_rms"],
                               gt_rank=ground_truth_rank(gt["gt_energy_per_atom"], per_attempt))
            rows.append(row)
    return CSPResult(rows, attempts, ks)


def run_csp(
    model: ModelLike,
    targets: str | os.PathLike[str] | Sequence[CSPTarget],
    out_dir: str | os.PathLike[str],
    n: int = 30,
    seed: int = 0,
    top: Sequence[int] = TOP_K,
    protocol: str | Protocol = "crystal",
    max_steps: int | None = None,
    max_atoms_per_batch: int = 4096,
    device: str = "cpu",
    progress: bool = False,
    starts: str = "random",
    check_ground_truth: bool = True,
    templates: str | os.PathLike[str] | TemplateLibrary | TemplateStarts | None = None,
) -> CSPResult:
    """The CSP benchmark: generate (resuming ``out_dir/generated.extxyz``), match, write the tables.

    Args:
        model: checkpoint path, shipped name or RMCalculator.
        targets: a CSV path (see :func:`read_csp_targets`) or targets.
        out_dir: output folder: generated.extxyz (+ .json manifest), csp.csv, csp.md, attempts.csv.
        n: attempts per composition.
        seed: seeds every start and kick.
        top: the k of the matched-within-top-k columns.
        protocol: generation protocol (default: the MP-20 crystal protocol).
        max_steps: cap every stage at this many FIRE steps (quick checks only).
        max_atoms_per_batch: memory bound of each relaxation pool.
        device: torch device.
        progress: progress bars for generation and matching.
        starts: one of :data:`.symmetric.STARTS` (see :func:`.campaign.generate_compositions`).
        check_ground_truth: add the ground-truth check columns (see the module doc).
        templates: with ``starts="template"``: the structure file, a library or a
            configured TemplateStarts (see :func:`.campaign.generate_compositions`).
    """
    ks = _check_top(top)
    found = read_csp_targets(targets) if isinstance(targets, (str, os.PathLike)) else list(targets)
    proto = resolve_protocol(protocol, max_steps)
    generated = generate_compositions(model, [t.composition for t in found], Path(out_dir) / "generated.extxyz", n,
                                      seed, proto, max_atoms_per_batch, device, progress, starts,
                                      templates)
    truths = relax_ground_truths(model, found, proto, device=device, max_atoms_per_batch=max_atoms_per_batch) \
        if check_ground_truth else None
    result = evaluate_csp(found, generated, ks, progress=progress, ground_truths=truths)
    result.write(out_dir)
    return result
