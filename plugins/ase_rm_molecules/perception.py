"""From ASE Atoms to an RDKit molecule: bond perception, SMILES, charges.

Generated molecules are bare coordinates. Bonds and bond orders come from
``rdkit.Chem.rdDetermineBonds.DetermineBonds`` (xyz2mol) with a total charge
of 0, as in the paper. Perception may fail (no valid bond-order assignment);
:func:`perceive` then returns ``None`` and the evaluation counts that frame as
failing every check. It may also succeed with a charge-separated structure
(e.g. ``[CH2-][NH3+]``), which is why :func:`is_neutral` exists.
"""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds
from rdkit.Geometry import Point3D
from rdkit.rdBase import BlockLogs

log = logging.getLogger(__name__)

TOTAL_CHARGE = 0
"""Total molecular charge assumed in bond perception (the paper's choice)."""


def atoms_to_mol(atoms: Atoms) -> Chem.Mol:
    """An RDKit molecule with the atoms and one 3D conformer of ``atoms``, no bonds.

    Args:
        atoms: a molecule; positions in Å. The cell and pbc are ignored.

    Raises:
        ValueError: ``atoms`` is empty or has a non-finite position.
    """
    if len(atoms) == 0:
        raise ValueError("cannot make a molecule from 0 atoms")
    positions = np.asarray(atoms.positions, dtype=float)
    if not np.all(np.isfinite(positions)):
        raise ValueError("cannot make a molecule from a structure with a non-finite position")
    rw = Chem.RWMol()
    conformer = Chem.Conformer(len(atoms))
    for i, (z, xyz) in enumerate(zip(atoms.numbers, positions, strict=True)):
        rw.AddAtom(Chem.Atom(int(z)))
        conformer.SetAtomPosition(i, Point3D(*(float(c) for c in xyz)))
    conformer.Set3D(True)
    rw.AddConformer(conformer, assignId=True)
    return rw.GetMol()


def perceive(atoms: Atoms, charge: int = TOTAL_CHARGE) -> Chem.Mol | None:
    """Bonds and bond orders of ``atoms`` by RDKit's DetermineBonds; ``None`` on failure.

    The molecule keeps explicit hydrogens and the input atom order. RDKit's
    own log output is silenced; failures are logged at debug level.

    Args:
        atoms: a molecule (positions in Å); not modified.
        charge: total molecular charge given to the perception.

    Returns:
        The perceived molecule (not sanitised), or ``None`` when the atoms
        cannot be turned into a molecule or no bond orders fit.
    """
    try:
        mol = atoms_to_mol(atoms)
    except ValueError as exc:
        log.debug("bond perception skipped: %s", exc)
        return None
    try:
        with BlockLogs():
            rdDetermineBonds.DetermineBonds(mol, charge=charge)
    except (ValueError, RuntimeError) as exc:
        log.debug("bond perception failed for %s: %s", atoms.get_chemical_formula(), exc)
        return None
    return mol


def canonical_smiles(mol: Chem.Mol | None) -> str | None:
    """RDKit canonical SMILES without hydrogens or stereo; ``None`` if it cannot be made.

    Stereochemistry is left out so that a generated molecule and a QM7b entry
    with the same constitution compare equal (uniqueness and novelty are
    counted at the level of constitutional isomers). Formal charges stay in.
    """
    if mol is None:
        return None
    try:
        with BlockLogs():
            copy = Chem.Mol(mol)
            Chem.SanitizeMol(copy)
            return str(Chem.MolToSmiles(Chem.RemoveHs(copy), isomericSmiles=False))
    except (ValueError, RuntimeError) as exc:  # rdkit raises MolSanitizeException (a ValueError)
        log.debug("no canonical SMILES: %s", exc)
        return None


def is_neutral(mol: Chem.Mol | None) -> bool:
    """True when every atom of ``mol`` has formal charge 0 (False for ``None``)."""
    return mol is not None and all(atom.GetFormalCharge() == 0 for atom in mol.GetAtoms())
