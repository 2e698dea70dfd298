"""ase_rm_molecules: RDKit bond perception and PoseBusters checks of generated molecules.

Public API (needs the ``molecules`` extra: rdkit, posebusters, pandas, matplotlib)::

    from ase_rm_molecules import evaluate_molecules, qm7b_reference, known_smiles
    from ase_rm_molecules import evaluate_energies, correlations, heldout_split   # Fig. 1: E~ vs reference
    from ase_rm_molecules import bond_problem, valence_problem   # bond and valence screens (ASE only)

The names are imported lazily, so that ``ase-rm`` can list the ``evaluate``
subcommand (``ase_rm_molecules.cli``) without importing RDKit or PoseBusters.
The energy correlation needs neither RDKit nor PoseBusters (matplotlib for its plots).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "perceive": "perception",
    "atoms_to_mol": "perception",
    "canonical_smiles": "perception",
    "is_neutral": "perception",
    "PAPER_CHECKS": "checks",
    "EXTRA_CHECKS": "checks",
    "ALL_CHECKS": "checks",
    "check_molecule": "checks",
    "run_checks": "checks",
    "MoleculeRecord": "evaluate",
    "evaluate_frames": "evaluate",
    "evaluate_molecules": "evaluate",
    "summarise": "evaluate",
    "records_table": "evaluate",
    "group_of": "evaluate",
    "qm7b_reference": "reference",
    "known_smiles": "reference",
    "format_markdown": "report",
    "write_csv": "report",
    "plot_heatmap": "heatmap",
    "EnergyTable": "energies",
    "evaluate_energies": "energies",
    "energy_table": "energies",
    "pseudo_energies": "energies",
    "reference_energies": "energies",
    "HeldOut": "heldout",
    "heldout_split": "heldout",
    "CorrelationRow": "correlation",
    "correlations": "correlation",
    "format_correlations": "correlation",
    "pearson": "correlation",
    "top_compositions": "correlation",
    "write_energies_csv": "correlation",
    "plot_energy_scatter": "scatter",
    "plot_composition_scatter": "scatter",
    "draw_representatives": "gallery",
    "representatives": "gallery",
    "bond_problem": "screen",
    "valence_problem": "screen",
    "passes_bond_screen": "screen",
    "passes_valence_screen": "screen",
    "screened_rank_key": "screen",
    "valence_rank_key": "screen",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
