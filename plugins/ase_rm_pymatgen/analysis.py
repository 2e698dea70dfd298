"""Analysis of generated crystals with pymatgen: space groups, duplicates, pseudo hull, CIFs.

Every function takes pymatgen ``Structure`` s or ASE ``Atoms`` (converted
with :func:`ase_rm_pymatgen.convert.to_pymatgen`). Energies are read from
``rm_energy`` (eV, total E~) in ``atoms.info`` / ``Structure.properties``, as
``ase-rm generate`` and :func:`ase_rm.relaxation.relax` write them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ase import Atoms
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Molecule, Structure

from ase_rm import RMError
from ase_rm.keys import RM_ENERGY

from .convert import to_pymatgen

RM_ENERGY_PER_ATOM = "rm_energy_per_atom"
"""info/properties key: E~ per atom, eV/atom (float)."""
RM_SPACEGROUP = "rm_spacegroup"
"""info/properties key: international space-group symbol, e.g. "Fd-3m" (str)."""
RM_SPACEGROUP_NUMBER = "rm_spacegroup_number"
"""info/properties key: space-group number 1-230 (int)."""
RM_DUPLICATE_OF = "rm_duplicate_of"
"""info/properties key: index of the lowest-E~ structure this one matches, -1 if unique (int)."""
RM_E_ABOVE_HULL = "rm_e_above_hull"
"""info/properties key: E~ above the pseudo convex hull, eV/atom (float)."""

SYMPREC = 0.1
"""Å: default symmetry tolerance for generated (relaxed, not exact) crystals."""
ANGLE_TOLERANCE = 5.0
"""degrees: default angle tolerance of the symmetry search."""


@contextmanager
def quiet_spglib() -> Iterator[None]:
    """Silence spglib >= 2.5's DeprecationWarning about its old error handling, raised on every
    call that pymatgen makes (pymatgen's issue, not the caller's), and the C library's lines on
    stderr for cells it cannot symmetrise ("spglib: ... failed"; unless SPGLIB_WARNING is set);
    other warnings pass."""
    set_here = "SPGLIB_WARNING" not in os.environ
    if set_here:
        os.environ["SPGLIB_WARNING"] = "OFF"  # read by the C library at each warning
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Set OLD_ERROR_HANDLING", category=DeprecationWarning)
            yield
    finally:
        if set_here:
            os.environ.pop("SPGLIB_WARNING", None)


def _as_pymatgen(structure: Structure | Molecule | Atoms) -> Structure | Molecule:
    return to_pymatgen(structure) if isinstance(structure, Atoms) else structure


def _as_structure(structure: Structure | Molecule | Atoms, what: str) -> Structure:
    obj = _as_pymatgen(structure)
    if not isinstance(obj, Structure):
        raise RMError(f"{what} needs periodic crystals; got a molecule ({obj.formula})")
    return obj


def energy_of(structure: Structure | Molecule | Atoms) -> float | None:
    """Total E~ (eV) stored under ``rm_energy``, or None if absent."""
    props = structure.info if isinstance(structure, Atoms) else structure.properties
    value = props.get(RM_ENERGY)
    return None if value is None else float(value)


def spacegroup(
    structure: Structure | Atoms, symprec: float = SYMPREC, angle_tolerance: float = ANGLE_TOLERANCE
) -> tuple[str, int]:
    """International symbol and number of a crystal's space group (spglib via SpacegroupAnalyzer).

    Args:
        structure: a crystal.
        symprec: distance tolerance, Å.
        angle_tolerance: angle tolerance, degrees.

    Returns:
        ``("P1", 1)`` when spglib finds no symmetry at all.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    crystal = _as_structure(structure, "a space group")
    try:
        with quiet_spglib():
            sga = SpacegroupAnalyzer(crystal, symprec=symprec, angle_tolerance=angle_tolerance)
            return sga.get_space_group_symbol(), int(sga.get_space_group_number())
    except (TypeError, ValueError):  # spglib found no cell (badly distorted input)
        return "P1", 1


def find_duplicates(
    structures: Sequence[Structure | Atoms], matcher: StructureMatcher | None = None
) -> list[int]:
    """For each crystal, the index of the lowest-E~ crystal it matches (-1 if none).

    Structures are compared in order of E~ per atom (input order where E~ is
    missing), so the representative of each group is its lowest-E~ member and
    that member itself gets -1.

    Args:
        structures: crystals.
        matcher: a pymatgen StructureMatcher (default: pymatgen's default tolerances).

    Returns:
        One index (into ``structures``) per structure.
    """
    crystals = [_as_structure(s, "de-duplication") for s in structures]
    matcher = matcher or StructureMatcher()
    order = sorted(range(len(crystals)), key=lambda k: (_per_atom(structures[k]), k))
    kept: list[int] = []
    out = [-1] * len(crystals)
    for k in order:
        for rep in kept:
            same_formula = crystals[k].composition.reduced_formula == crystals[rep].composition.reduced_formula
            if same_formula and matcher.fit(crystals[rep], crystals[k]):
                out[k] = rep
                break
        else:
            kept.append(k)
    return out


def _per_atom(structure: Structure | Molecule | Atoms) -> float:
    energy = energy_of(structure)
    return float("inf") if energy is None else energy / len(structure)


def deduplicate(
    structures: Sequence[Structure | Atoms], matcher: StructureMatcher | None = None
) -> list[int]:
    """Indices of the unique crystals (the lowest-E~ member of each group), in input order."""
    return [k for k, dup in enumerate(find_duplicates(structures, matcher)) if dup < 0]


def pseudo_phase_diagram(structures: Sequence[Structure | Atoms]) -> tuple[Any, list[Any]]:
    """pymatgen PhaseDiagram on E~ and its entries (one ``PDEntry`` per structure, in order).

    E~ is a pseudo energy: ``diagram.get_form_energy_per_atom(entry)`` is
    E~_ex = E~ - sum_el x_el E~_el per atom (E~_el: lowest E~ per atom of each
    element) and the hull ranks compositions by the model's preference, not by
    thermodynamics.

    Raises:
        RMError: a structure without ``rm_energy`` (or with a non-finite one), or
            an element with no elemental structure.
    """
    import math

    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    entries = []
    for k, s in enumerate(structures):
        energy = energy_of(s)
        if energy is None or not math.isfinite(energy):
            raise RMError(f"structure {k} has no finite {RM_ENERGY}; relax it with an ase_rm model first")
        entries.append(PDEntry(_as_pymatgen(s).composition, energy))
    elements = {el for e in entries for el in e.composition.elements}
    terminals = {e.composition.elements[0] for e in entries if e.composition.is_element}
    missing = sorted(str(el) for el in elements - terminals)
    if missing:
        raise RMError(
            f"the pseudo hull needs an elemental structure of {', '.join(missing)} "
            "(generate or relax those elements too and pass them as references)"
        )
    return PhaseDiagram(entries), entries


def pseudo_hull(
    structures: Sequence[Structure | Atoms], references: Sequence[Structure | Atoms] = ()
) -> list[float]:
    """E~ above the pseudo convex hull (pymatgen PhaseDiagram on E~), eV/atom.

    The hull is built from ``structures`` and ``references`` together; every
    element present needs at least one elemental structure among them (e.g.
    generate K, Zn and F crystals next to KZnF3). E~ is a pseudo energy: the
    hull ranks compositions by the model's preference, not by thermodynamics.

    Args:
        structures: crystals with ``rm_energy``.
        references: more crystals with ``rm_energy`` (elements, other compositions).

    Returns:
        One value per structure of ``structures`` (0 on the hull).

    Raises:
        RMError: a structure without ``rm_energy``, or an element with no elemental structure.
    """
    diagram, entries = pseudo_phase_diagram([*structures, *references])
    above = [diagram.get_e_above_hull(e, allow_negative=True) for e in entries[: len(structures)]]
    return [float("nan") if e is None else float(e) for e in above]


def write_cifs(
    structures: Sequence[Structure | Atoms],
    folder: str | os.PathLike[str],
    symprec: float | None = None,
    names: Sequence[str] | None = None,
) -> list[Path]:
    """One CIF per crystal: ``NNNN_FORMULA.cif`` (NNNN = index) unless ``names`` are given.

    Args:
        structures: crystals.
        folder: created if needed.
        symprec: if given, write the symmetrized cell with this tolerance (Å).
        names: file stems, one per structure.
    """
    from pymatgen.io.cif import CifWriter

    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    crystals = [_as_structure(s, "CIF output") for s in structures]
    if names is not None and len(names) != len(crystals):
        raise ValueError(f"got {len(names)} names for {len(crystals)} structures")
    paths = []
    for k, crystal in enumerate(crystals):
        stem = names[k] if names is not None else f"{k:04d}_{crystal.composition.reduced_formula}"
        path = out_dir / f"{stem}.cif"
        with quiet_spglib():
            CifWriter(crystal, symprec=symprec).write_file(path)
        paths.append(path)
    return paths


def annotate(structure: Structure | Molecule, symprec: float = SYMPREC) -> dict[str, Any]:
    """E~ per atom and (crystals) space group of one structure, as properties entries."""
    out: dict[str, Any] = {}
    energy = energy_of(structure)
    if energy is not None:
        out[RM_ENERGY_PER_ATOM] = energy / len(structure)
    if isinstance(structure, Structure):
        out[RM_SPACEGROUP], out[RM_SPACEGROUP_NUMBER] = spacegroup(structure, symprec)
    return out
