"""Potential: energy, autograd forces and symmetric-strain stress of a batch.

Stress uses the virial trick: a symmetric strain eps (zero) is applied to
positions and cell, x' = x (I + eps), C' = C (I + eps); then
sigma = (1/V) dE/d(eps) in eV/Å^3 with ASE's sign.
"""

from __future__ import annotations

import torch
from torch import nn

from . import keys
from .graph import Graph, edge_vectors


def _scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = torch.zeros(size, dtype=values.dtype, device=values.device)
    return out.index_add(0, index, values)


class Potential(nn.Module):
    """Wraps an energy-only network (atomic energies from edge vectors).

    Args:
        model: a module called as ``model(vectors, receivers, senders, numbers)``
            returning atomic energies (n_atoms,), with a ``cutoff`` attribute.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def cutoff(self) -> float:
        return float(self.model.cutoff)  # type: ignore[arg-type]

    def forward(
        self,
        graph: Graph,
        forces: bool = True,
        stress: bool = False,
        create_graph: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Energy (n_structures,), atomic energies, forces and stress.

        Args:
            graph: the batch.
            forces: compute forces, (n_atoms, 3) eV/Å.
            stress: compute stress, (n_structures, 3, 3) eV/Å^3 (needs 3-D cells).
            create_graph: keep the graph of the derivatives (training).
        """
        positions, cell = graph.positions, graph.cell
        inputs: list[torch.Tensor] = []
        with torch.enable_grad():
            if stress:
                strain = torch.zeros_like(cell, requires_grad=True)
                sym = 0.5 * (strain + strain.transpose(1, 2))
                eye = torch.eye(3, dtype=cell.dtype, device=cell.device)
                deform = eye + sym
                positions = torch.einsum("ik,ikl->il", positions, deform[graph.batch])
                cell = torch.bmm(cell, deform)
            if forces and not positions.requires_grad:
                positions = positions.detach().requires_grad_(True)
            if forces:
                inputs.append(positions)
            if stress:
                inputs.append(strain)
            vectors = edge_vectors(graph, positions, cell)
            atomic = self.model(vectors, graph.edge_index[0], graph.edge_index[1], graph.numbers)
            energy = _scatter_sum(atomic, graph.batch, graph.n_structures)
            out = {keys.ENERGY: energy, keys.ATOMIC_ENERGIES: atomic}
            if inputs:
                grads = torch.autograd.grad(
                    energy.sum(), inputs, create_graph=create_graph, allow_unused=True
                )
                if forces:
                    g = grads[0]
                    out[keys.FORCES] = -g if g is not None else torch.zeros_like(positions)
                if stress:
                    g = grads[-1]
                    g = g if g is not None else torch.zeros_like(cell)
                    volume = torch.linalg.det(graph.cell).abs()
                    out[keys.STRESS] = g / volume[:, None, None]
        if not create_graph:
            out = {k: v.detach() for k, v in out.items()}
        return out
