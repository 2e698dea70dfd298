"""Evaluate generated molecules: per-frame records and a per-composition summary.

Counting rules (no silent filtering):

* every frame is one **attempt**; rates are percentages of all attempts of a
  composition;
* a frame whose bonds cannot be perceived fails every check;
* a frame with ``atoms.info["rm_converged"]`` False is still perceived and
  checked (its raw results are in the per-frame table), but by default it
  counts as failing every check and the all-pass rates; pass
  ``unconverged_fail=False`` to judge it on its geometry instead. Frames
  without the key (e.g. a reference data set) count as converged;
* ``all_pass`` needs the paper's eight checks (:data:`PAPER_CHECKS`);
  ``all_pass_neutral`` also needs every atom to have formal charge 0 (bond
  perception sometimes returns charge-separated structures that PoseBusters
  accepts); ``all_pass_posebusters`` needs every check of the installed
  PoseBusters "mol" configuration (:data:`ALL_CHECKS`);
* uniqueness and novelty are counted over the molecules that count as
  all-pass, by canonical SMILES without stereo and hydrogens:
  ``n_unique`` distinct SMILES, ``unique_pct`` = n_unique / n_all_pass,
  ``n_novel`` of them not among the known SMILES, ``novel_pct`` = n_novel /
  n_unique (NaN without known SMILES).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms

from ase_rm import keys
from ase_rm.keys import RM_FORMULA

from .checks import ALL_CHECKS, PAPER_CHECKS, check_molecule, make_buster
from .perception import canonical_smiles, is_neutral, perceive

log = logging.getLogger(__name__)

ALL_GROUP = "all"
"""Row label of the total over every composition (present when there are several)."""

RATE_COLUMNS: tuple[str, ...] = (*ALL_CHECKS, "all_pass", "all_pass_neutral", "all_pass_posebusters")
"""Summary columns holding pass rates (%) over all attempts."""

SUMMARY_COLUMNS: tuple[str, ...] = (
    "n_attempts", "converged_pct", "perceived_pct", "neutral_pct", *RATE_COLUMNS,
    "n_all_pass", "n_unique", "unique_pct", "n_novel", "novel_pct",
)
"""Columns of :func:`summarise`, in order."""


@dataclass(frozen=True)
class MoleculeRecord:
    """The evaluation of one frame (one attempt).

    Attributes:
        index: position of the frame in its input sequence.
        group: composition label (``rm_formula`` or the chemical formula).
        converged: ``atoms.info["rm_converged"]`` (True when absent).
        perceived: whether bond perception succeeded.
        neutral: perceived and every atom has formal charge 0.
        smiles: canonical SMILES (no stereo, no H), ``None`` if not perceived/sanitisable.
        checks: ``{check: passed}`` for every name in :data:`ALL_CHECKS`, judged on the geometry.
    """

    index: int
    group: str
    converged: bool
    perceived: bool
    neutral: bool
    smiles: str | None
    checks: Mapping[str, bool] = field(default_factory=dict)

    @property
    def all_pass(self) -> bool:
        """Passes the paper's eight checks (geometry only; convergence not considered)."""
        return all(self.checks.get(name, False) for name in PAPER_CHECKS)

    def counted(self, name: str, unconverged_fail: bool = True) -> bool:
        """Whether this attempt counts as passing ``name`` (a check or an all-pass column)."""
        if unconverged_fail and not self.converged:
            return False
        if name == "all_pass":
            return self.all_pass
        if name == "all_pass_neutral":
            return self.all_pass and self.neutral
        if name == "all_pass_posebusters":
            return all(self.checks.get(c, False) for c in ALL_CHECKS)
        return bool(self.checks.get(name, False))


def group_of(atoms: Atoms) -> str:
    """The composition label of a frame: ``info["rm_formula"]`` if present, else the chemical formula."""
    label = atoms.info.get(RM_FORMULA)
    return str(label) if label else atoms.get_chemical_formula()


def evaluate_frames(
    frames: Sequence[Atoms], group: str | None = None, progress: Callable[[int], None] | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> list[MoleculeRecord]:
    """Perceive and check every frame (frames are not modified).

    Args:
        frames: molecules (positions in Å), e.g. from ``ase-rm generate``.
        group: label every frame with this group instead of its composition
            (used for a reference data set).
        progress: called with 1 after each frame.
        cache: a JSON-lines file of records already computed (a killed evaluation's):
            frames found there (by their species, positions, convergence and group) are
            not checked again, and each new record is appended as soon as it is made.

    Returns:
        One :class:`MoleculeRecord` per frame, in order.
    """
    done = _read_cache(cache) if cache is not None else {}
    sink = open(cache, "a", encoding="utf-8") if cache is not None else None  # noqa: SIM115 - closed below
    if sink is not None and sink.tell() and not Path(cache).read_bytes().endswith(b"\n"):  # type: ignore[arg-type]
        sink.write("\n")  # a line cut short by a kill: the next record starts a line of its own
    buster = None
    records = []
    try:
        for i, atoms in enumerate(frames):
            label = group if group is not None else group_of(atoms)
            converged = bool(atoms.info.get(keys.RM_CONVERGED, True))
            key = _frame_key(atoms, label, converged)
            record = done.get(key)
            if record is None:
                buster = buster if buster is not None else make_buster()
                mol = perceive(atoms)
                record = MoleculeRecord(index=i, group=label, converged=converged, perceived=mol is not None,
                                        neutral=is_neutral(mol), smiles=canonical_smiles(mol),
                                        checks=check_molecule(mol, buster))
                if sink is not None:
                    sink.write(json.dumps({"key": key, **dataclasses.asdict(record)}) + "\n")
                    sink.flush()
            records.append(dataclasses.replace(record, index=i))
            if progress is not None:
                progress(1)
    finally:
        if sink is not None:
            sink.close()
    return records


def _frame_key(atoms: Atoms, group: str, converged: bool) -> str:
    """What a record depends on: species, positions (to 1e-6 Å), convergence and group."""
    h = hashlib.sha1(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.positions, dtype=np.float64), 6).tobytes())
    h.update(f"{group}|{converged}".encode())
    return h.hexdigest()


def _read_cache(path: str | os.PathLike[str]) -> dict[str, MoleculeRecord]:
    """The records of a cache file; a line cut short by a kill is skipped (its frame is checked again)."""
    records: dict[str, MoleculeRecord] = {}
    if not Path(path).exists():
        return records
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            key = row.pop("key")
            records[key] = MoleculeRecord(**row)
        except (ValueError, TypeError, KeyError):
            continue
    return records


def _pct(count: int, total: int) -> float:
    return 100.0 * count / total if total else float("nan")


def summary_row(
    records: Sequence[MoleculeRecord], known_smiles: Collection[str] | None = None, unconverged_fail: bool = True
) -> dict[str, Any]:
    """The summary of one group of records (see the module doc for the definitions)."""
    n = len(records)
    row: dict[str, Any] = {
        "n_attempts": n,
        "converged_pct": _pct(sum(r.converged for r in records), n),
        "perceived_pct": _pct(sum(r.perceived for r in records), n),
        "neutral_pct": _pct(sum(r.neutral for r in records), n),
    }
    for name in RATE_COLUMNS:
        row[name] = _pct(sum(r.counted(name, unconverged_fail) for r in records), n)
    valid = [r for r in records if r.counted("all_pass", unconverged_fail)]
    unique = {r.smiles for r in valid if r.smiles is not None}
    row["n_all_pass"] = len(valid)
    row["n_unique"] = len(unique)
    row["unique_pct"] = _pct(len(unique), len(valid))
    if known_smiles is None:
        row["n_novel"], row["novel_pct"] = pd.NA, float("nan")
    else:
        novel = unique.difference(known_smiles)
        row["n_novel"], row["novel_pct"] = len(novel), _pct(len(novel), len(unique))
    return row


def summarise(
    records: Sequence[MoleculeRecord],
    known_smiles: Collection[str] | None = None,
    unconverged_fail: bool = True,
    reference: Sequence[MoleculeRecord] | None = None,
    reference_label: str = "QM7b",
) -> pd.DataFrame:
    """Per-composition summary: one row per group (first-seen order), ``all`` if several, then the reference.

    Args:
        records: from :func:`evaluate_frames`.
        known_smiles: canonical SMILES of known molecules (e.g. all of QM7b) for novelty.
        unconverged_fail: count non-converged frames as failing every check.
        reference: records of a reference set (e.g. QM7b itself), summarised as one row.
        reference_label: the row label of the reference.

    Returns:
        A DataFrame indexed by ``composition`` with :data:`SUMMARY_COLUMNS`.
    """
    groups: dict[str, list[MoleculeRecord]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    rows = {g: summary_row(rs, known_smiles, unconverged_fail) for g, rs in groups.items()}
    if len(groups) > 1:
        rows[ALL_GROUP] = summary_row(records, known_smiles, unconverged_fail)
    if reference is not None:
        rows[reference_label] = summary_row(reference, known_smiles, unconverged_fail)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(SUMMARY_COLUMNS))
    table.index.name = "composition"
    return table


def records_table(records: Sequence[MoleculeRecord]) -> pd.DataFrame:
    """One row per frame: group, convergence, perception, charge, SMILES, every check and all-pass."""
    rows = [
        {"index": r.index, "composition": r.group, "converged": r.converged, "perceived": r.perceived,
         "neutral": r.neutral, "smiles": r.smiles or "", **{c: r.checks.get(c, False) for c in ALL_CHECKS},
         "all_pass": r.all_pass}
        for r in records
    ]
    columns = ["index", "composition", "converged", "perceived", "neutral", "smiles", *ALL_CHECKS, "all_pass"]
    return pd.DataFrame(rows, columns=columns)


def evaluate_molecules(
    frames: Sequence[Atoms],
    reference: Sequence[Atoms] | None = None,
    known_smiles: Collection[str] | None = None,
    unconverged_fail: bool = True,
    reference_label: str = "QM7b",
) -> pd.DataFrame:
    """Evaluate generated molecules and summarise them per composition.

    Args:
        frames: generated molecules (e.g. read from ``ase-rm generate`` output).
        reference: reference molecules (e.g. :func:`~ase_rm_molecules.reference.qm7b_reference`),
            evaluated the same way and summarised as one row.
        known_smiles: canonical SMILES for novelty (e.g.
            :func:`~ase_rm_molecules.reference.known_smiles` of all of QM7b).
        unconverged_fail: count non-converged frames as failing every check.
        reference_label: the row label of the reference.

    Returns:
        The summary of :func:`summarise`.
    """
    records = evaluate_frames(frames)
    ref_records = None if reference is None else evaluate_frames(reference, group=reference_label)
    return summarise(records, known_smiles, unconverged_fail, ref_records, reference_label)
