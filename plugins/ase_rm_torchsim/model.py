"""RMModel: the RM pseudo energy E~ as a torch-sim ModelInterface.

torch-sim keeps a batch of structures as one SimState: positions (n_atoms, 3)
Å, cells (n_systems, 3, 3) with the cell vectors as COLUMNS, ``system_idx``
(n_atoms,), atomic numbers and one pbc flag for the whole batch. A call
builds the neighbour lists of every structure (vesin, through
:func:`ase_rm.build_graph`) at the state's coordinates and evaluates the
:class:`ase_rm.Potential`: energy (n_systems,) eV, forces (n_atoms, 3) eV/Å and,
for periodic states, stress (n_systems, 3, 3) eV/Å^3 with ASE's sign (what
torch-sim's cell filters expect).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch_sim.models.interface import ModelInterface
from torch_sim.state import SimState

from ase_rm import Potential, load_potential
from ase_rm.graph import Frame, build_graph


def _field(state: SimState | dict[str, Any], name: str) -> Any:
    return state[name] if isinstance(state, dict) else getattr(state, name)


class RMModel(ModelInterface):
    """An RM checkpoint as a torch-sim model.

    Args:
        checkpoint_or_name: a checkpoint path, a shipped name (``ase_rm.shipped_names()``)
            or a ready :class:`ase_rm.Potential`, used as it is (not moved: its
            parameters must already have ``device`` and ``dtype``).
        device: torch device of the model and of the states it takes (default cpu).
        dtype: float dtype of the model and of the states (default float64).
        compute_forces: return forces (torch-sim's optimizers need them).
        compute_stress: return stress for periodic states (the cell filters need it);
            non-periodic states (molecules) never get a stress, having no volume.

    Attributes:
        potential: the wrapped :class:`ase_rm.Potential` (eval mode).
        metadata: the checkpoint's metadata (empty for a Potential given directly).
    """

    def __init__(
        self,
        checkpoint_or_name: str | os.PathLike[str] | Potential,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float64,
        compute_forces: bool = True,
        compute_stress: bool = True,
    ) -> None:
        super().__init__()
        self._device = torch.device(device or "cpu")
        self._dtype = dtype
        self._compute_forces = compute_forces
        self._compute_stress = compute_stress
        self._memory_scales_with = "n_atoms_x_density"
        if isinstance(checkpoint_or_name, Potential):
            for p in checkpoint_or_name.parameters():
                if p.dtype != dtype or p.device.type != self._device.type:
                    raise ValueError(f"the Potential's parameters are {p.dtype} on {p.device}, "
                                     f"not {dtype} on {self._device}: load it with those")
            self.potential = checkpoint_or_name
            self.metadata: dict[str, Any] = {}
        else:
            self.potential, self.metadata = load_potential(checkpoint_or_name, device=self._device, dtype=dtype)

    @property
    def cutoff(self) -> float:
        """The model's neighbour cutoff, Å."""
        return self.potential.cutoff

    def forward(self, state: SimState | dict[str, Any], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Energy (n_systems,) eV, forces (n_atoms, 3) eV/Å and, for a periodic
        state with ``compute_stress``, stress (n_systems, 3, 3) eV/Å^3.

        Args:
            state: a torch-sim SimState or a dict with its ``positions``,
                ``cell`` (columns are the cell vectors), ``pbc``,
                ``atomic_numbers`` and ``system_idx``. Not modified.
        """
        positions = _field(state, "positions").to(device=self._device, dtype=self._dtype)
        columns = _field(state, "cell").to(device=self._device, dtype=self._dtype)
        numbers = _field(state, "atomic_numbers")
        system_idx = _field(state, "system_idx")
        pbc = bool(torch.as_tensor(_field(state, "pbc")).all())
        n_systems = columns.shape[0]
        cells = columns.mT if pbc else torch.zeros_like(columns)  # rows are the cell vectors, as ase_rm's
        graph = build_graph(self._frames(positions, cells, numbers, system_idx, n_systems, pbc),
                            self.cutoff, dtype=self._dtype, device=self._device)
        graph = replace(graph, positions=positions, cell=cells)
        stress = self._compute_stress and pbc
        out = self.potential(graph, forces=self._compute_forces, stress=stress)
        result = {"energy": out["energy"]}
        if self._compute_forces:
            result["forces"] = out["forces"]
        if stress:
            result["stress"] = out["stress"]
        return result

    @staticmethod
    def _frames(positions: torch.Tensor, cells: torch.Tensor, numbers: torch.Tensor, system_idx: torch.Tensor,
                n_systems: int, pbc: bool) -> list[Frame]:
        """One ase_rm Frame per system (float64 numpy, for the neighbour lists)."""
        counts = torch.bincount(system_idx, minlength=n_systems).tolist()
        xyz = np.split(positions.detach().cpu().double().numpy(), np.cumsum(counts)[:-1])
        zs = np.split(numbers.detach().cpu().numpy().astype(np.int64), np.cumsum(counts)[:-1])
        boxes = cells.detach().cpu().double().numpy()
        flags = np.full(3, pbc)
        return [Frame(positions=x, numbers=z, cell=c, pbc=flags) for x, z, c in zip(xyz, zs, boxes, strict=True)]
