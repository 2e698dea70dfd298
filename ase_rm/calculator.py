"""RMCalculator: the pseudo energy surface E~ as an ASE calculator.

Never trains, never changes torch's global state (default dtype, threads,
seeds); dtype and device are arguments.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from . import keys
from .checkpoint import load_potential
from .graph import Frame, build_graph
from .potential import Potential
from .structures import check_atoms


class RMCalculator(Calculator):
    """ASE calculator for a Response Matching potential.

    Properties: energy and free_energy (eV, E~), energies (per atom), forces
    (eV/Å) and stress (eV/Å^3, Voigt, ASE sign; 3-D periodic cells only).

    Args:
        potential: a :class:`Potential`.
        species: atomic numbers the model knows.
        device: torch device.
        dtype: torch float dtype of the computation.
        metadata: checkpoint metadata (model/noise config, training summary).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(
        self,
        potential: Potential,
        species: list[int],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.potential = potential.to(device=device, dtype=dtype).eval()
        self.species = [int(z) for z in species]
        self.device = torch.device(device)
        self.dtype = dtype
        self.metadata = metadata or {}

    @classmethod
    def from_checkpoint(
        cls,
        path_or_name: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        repulsion: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> RMCalculator:
        """Load a checkpoint file or a shipped model by name (e.g. ``"diamond"``);
        ``repulsion=(radius, energy)`` adds a fixed core repulsion (:func:`ase_rm.load_potential`)."""
        potential, meta = load_potential(path_or_name, device=device, dtype=dtype, repulsion=repulsion)
        return cls(potential, meta["species"], device=device, dtype=dtype, metadata=meta, **kwargs)

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        properties = properties or ["energy"]
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        periodic = bool(self.atoms.pbc.all())
        if "stress" in properties and not periodic:
            raise PropertyNotImplementedError(
                f"stress needs a 3-D periodic cell; this structure has pbc={self.atoms.pbc.tolist()}"
            )
        check_atoms(self.atoms, self.species)
        want_stress = periodic  # cheap next to forces; cached for a later get_stress
        graph = build_graph([Frame.from_atoms(self.atoms)], self.potential.cutoff, self.dtype, self.device)
        out = self.potential(graph, forces=True, stress=want_stress)
        energy = float(out[keys.ENERGY][0])
        self.results["energy"] = energy
        self.results["free_energy"] = energy
        self.results["energies"] = out[keys.ATOMIC_ENERGIES].cpu().double().numpy()
        self.results["forces"] = out[keys.FORCES].cpu().double().numpy()
        if want_stress:
            stress = out[keys.STRESS][0].cpu().double().numpy()
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
        if not np.isfinite(energy):
            raise FloatingPointError("the model returned a non-finite energy")
