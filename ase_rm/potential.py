"""Potential: energy, autograd forces and symmetric-strain stress of a batch.

Stress uses the virial trick: a symmetric strain eps (zero) is applied to
positions and cell, x' = x (I + eps), C' = C (I + eps); then
sigma = (1/V) dE/d(eps) in eV/Å^3 with ASE's sign.

The compiled path (``Potential(model, compiled=True)``) takes the same
derivatives another way, so that torch.compile can fuse them: the gradient of
the energy with respect to the edge vectors, g_e = dE/dv_e, is taken inside
the compiled function (torch.func.grad); then F_i = sum_(e: i receives) g_e -
sum_(e: i sends) g_e, and dE/d(eps) = sym(sum_e v_e (x) g_e) per structure.
Training through it is then a single backward, which torch.compile supports
(it does not support the double backward of the autograd path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
        compiled: take forces and stress through the edge gradient in a
            torch.compile'd function (the model needs ``layout`` and
            ``energies``, as :class:`ase_rm.model.Denoiser` has). The same
            numbers to float round-off, 1.6-1.9x faster on CPU once compiled;
            compiling costs minutes the first time on a machine (inductor caches
            the result on disk), so it pays on long training and generation runs.
        backend: the torch.compile backend of the compiled path (default
            :attr:`default_backend`; "eager" traces the same graph without code
            generation: quick, for tests).
        static_degree: compiled path only: compile for a fixed padded degree
            (rounded up to a multiple of :attr:`degree_multiple`) and fixed
            small dimensions, with only the atom and edge counts dynamic. About
            10-15 % faster per call on CPU (docs/performance.md). Each new degree
            bucket compiles once more, so it suits generation, whose pools keep
            similar structures.
    """

    default_backend = "inductor"
    degree_multiple = 8

    def __init__(
        self, model: nn.Module, compiled: bool = False, backend: str | None = None, static_degree: bool = False
    ) -> None:
        super().__init__()
        self.model = model
        if compiled and not (hasattr(model, "layout") and hasattr(model, "energies")):
            raise TypeError(f"compiled=True needs a model with layout() and energies(); {type(model).__name__} has not")
        if static_degree and not compiled:
            raise ValueError("static_degree applies to the compiled path (compiled=True)")
        self.compiled, self.backend, self.static_degree = compiled, backend or self.default_backend, static_degree
        self._edge_fn: Callable[..., Any] | None = None

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
        if self.compiled:
            return self._forward_edges(graph, forces, stress, create_graph)
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

    def _edge_function(self) -> Callable[..., Any]:
        """(vectors, layout...) -> (atomic energies, dE/dvectors), compiled once."""
        if self._edge_fn is None:
            model: Any = self.model

            def energies_and_edge_gradient(
                vectors: torch.Tensor, species: torch.Tensor, sender_species: torch.Tensor,
                slots: torch.Tensor, degree: int,
            ) -> tuple[torch.Tensor, torch.Tensor]:
                def total(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                    atomic = model.energies(v, species, sender_species, slots, degree)
                    return atomic.sum(), atomic

                gradient, atomic = torch.func.grad(total, has_aux=True)(vectors)
                return atomic, gradient

            fn = torch.compile(energies_and_edge_gradient, backend=self.backend,
                               dynamic=not self.static_degree, fullgraph=True)
            if self.static_degree:
                def counts_dynamic(vectors: torch.Tensor, *layout: Any) -> tuple[torch.Tensor, torch.Tensor]:
                    for t in (vectors, *layout[:3]):  # edges or atoms along dim 0; the rest fixed
                        torch._dynamo.maybe_mark_dynamic(t, 0)
                    return fn(vectors, *layout)

                self._edge_fn = counts_dynamic
            else:
                self._edge_fn = fn
        return self._edge_fn

    def _forward_edges(
        self, graph: Graph, forces: bool, stress: bool, create_graph: bool
    ) -> dict[str, torch.Tensor]:
        """forward() through the compiled edge gradient (see the module docstring)."""
        model: Any = self.model
        receivers, senders = graph.edge_index
        n_atoms = graph.numbers.shape[0]
        layout = model.layout(receivers, senders, graph.numbers,
                              self.degree_multiple if self.static_degree else 1)
        with torch.set_grad_enabled(create_graph):
            vectors = edge_vectors(graph, graph.positions, graph.cell)
            atomic, gradient = self._edge_function()(vectors, *layout)
            energy = _scatter_sum(atomic, graph.batch, graph.n_structures)
            out = {keys.ENERGY: energy, keys.ATOMIC_ENERGIES: atomic}
            if forces:
                zeros = torch.zeros(n_atoms, 3, dtype=gradient.dtype, device=gradient.device)
                out[keys.FORCES] = zeros.index_add(0, receivers, gradient).index_add(0, senders, gradient, alpha=-1)
            if stress:
                edge_structure = graph.batch.index_select(0, receivers)
                virial = torch.zeros(graph.n_structures, 3, 3, dtype=gradient.dtype, device=gradient.device)
                virial = virial.index_add(0, edge_structure, vectors[:, :, None] * gradient[:, None, :])
                volume = torch.linalg.det(graph.cell).abs()
                out[keys.STRESS] = 0.5 * (virial + virial.transpose(1, 2)) / volume[:, None, None]
        if not create_graph:
            out = {k: v.detach() for k, v in out.items()}
        return out
