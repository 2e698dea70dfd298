"""PoseBusters "mol" checks of perceived molecules, one boolean per check.

PoseBusters (``PoseBusters(config="mol").bust(mol)``) reports, per molecule,
the checks of its "mol" configuration. The paper's all-pass uses eight of
them (:data:`PAPER_CHECKS`); recent PoseBusters releases add four more
(:data:`EXTRA_CHECKS`: loading, InChI conversion, radicals, non-aromatic ring
non-flatness), which are reported as well but are not part of the all-pass.

A check that PoseBusters could not compute (``NaN``, e.g. the internal-energy
check when UFF has no parameters) counts as failed, and a molecule that could
not be perceived (``None``) fails every check.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rdkit import Chem

log = logging.getLogger(__name__)

PAPER_CHECKS: tuple[str, ...] = (
    "sanitization",
    "all_atoms_connected",
    "bond_lengths",
    "bond_angles",
    "internal_steric_clash",
    "aromatic_ring_flatness",
    "double_bond_flatness",
    "internal_energy",
)
"""The paper's PoseBusters checks (PoseBusters' column names); the all-pass uses these."""

EXTRA_CHECKS: tuple[str, ...] = (
    "mol_pred_loaded",
    "inchi_convertible",
    "no_radicals",
    "non-aromatic_ring_non-flatness",
)
"""Further checks of the "mol" configuration in PoseBusters >= 0.3; reported, not in the all-pass."""

ALL_CHECKS: tuple[str, ...] = PAPER_CHECKS + EXTRA_CHECKS
"""Every check column :func:`run_checks` returns."""

CHECK_LABELS: dict[str, str] = {
    "sanitization": "Sanitisation",
    "all_atoms_connected": "All atoms connected",
    "bond_lengths": "Bond lengths",
    "bond_angles": "Bond angles",
    "internal_steric_clash": "Internal steric clash",
    "aromatic_ring_flatness": "Aromatic ring flatness",
    "double_bond_flatness": "Double bond flatness",
    "internal_energy": "Internal energy",
    "mol_pred_loaded": "Loaded",
    "inchi_convertible": "InChI convertible",
    "no_radicals": "No radicals",
    "non-aromatic_ring_non-flatness": "Non-aromatic ring non-flatness",
}
"""Human-readable names of the checks, for tables and figures."""

POSEBUSTERS_CONFIG = "mol"
"""The PoseBusters configuration: checks of a molecule on its own (no pocket, no reference pose)."""


def failed_checks() -> dict[str, bool]:
    """The result of a molecule that fails every check (e.g. one that could not be perceived)."""
    return dict.fromkeys(ALL_CHECKS, False)


def _as_pass(value: Any) -> bool:
    """True only for a boolean True; NaN, None or NA (a check not computed) count as failed."""
    return isinstance(value, bool | np.bool_) and bool(value)


def make_buster() -> Any:
    """A single-process ``posebusters.PoseBusters`` with the "mol" configuration.

    Raises:
        ImportError: posebusters is not installed.
    """
    from posebusters import PoseBusters

    return PoseBusters(config=POSEBUSTERS_CONFIG, max_workers=0)


def _reopen_rdkit_log_stream() -> None:
    """Point RDKit's Python log handler at ``sys.stderr`` if its stream was closed.

    PoseBusters' ``CaptureLogger`` resets that handler to the ``sys.stderr`` of
    the moment. If that stream is closed later (a redirected or captured
    stderr, e.g. pytest's ``capsys``), every later ``CaptureLogger`` raises
    inside PoseBusters, which turns the internal-energy check into NaN, i.e.
    a silent failure of every molecule.
    """
    import rdkit

    handler = getattr(rdkit, "log_handler", None)
    if handler is not None and getattr(getattr(handler, "stream", None), "closed", False):
        handler.stream = sys.stderr


def check_molecule(mol: Chem.Mol | None, buster: Any | None = None) -> dict[str, bool]:
    """PoseBusters checks of one perceived molecule.

    Args:
        mol: a molecule with one 3D conformer and explicit hydrogens (from
            :func:`~ase_rm_molecules.perception.perceive`), or ``None``; not modified.
        buster: a PoseBusters object to reuse (see :func:`make_buster`).

    Returns:
        ``{check: passed}`` for every name in :data:`ALL_CHECKS`. If PoseBusters
        raises on this molecule, the error is logged and every check fails.
    """
    if mol is None:
        return failed_checks()
    buster = make_buster() if buster is None else buster
    _reopen_rdkit_log_stream()
    try:
        frame = buster.bust([Chem.Mol(mol)], None, None)  # a copy: some checks sanitise in place
    except Exception as exc:  # noqa: BLE001  (a crash on one molecule must not stop an evaluation)
        log.warning("PoseBusters failed on a %d-atom molecule: %s: %s", mol.GetNumAtoms(), type(exc).__name__, exc)
        return failed_checks()
    row = frame.iloc[0]
    return {name: _as_pass(row[name]) if name in row.index else False for name in ALL_CHECKS}


def run_checks(
    mols: Sequence[Chem.Mol | None], progress: Callable[[int], None] | None = None
) -> list[dict[str, bool]]:
    """PoseBusters checks of many molecules, in order (see :func:`check_molecule`).

    Args:
        mols: perceived molecules; ``None`` for those that could not be perceived.
        progress: called with 1 after each molecule (e.g. ``tqdm.update``).
    """
    buster = make_buster()
    out = []
    for mol in mols:
        out.append(check_molecule(mol, buster))
        if progress is not None:
            progress(1)
    return out
