"""Verlet (skin) neighbour lists of a relaxing batch.

Each structure's list is built by vesin with the cutoff rc + skin at its
positions and cell of that moment (the reference) and, before every
evaluation, filtered to the pairs now closer than rc: the edge set a fresh
build with cutoff rc would give, as long as no pair outside the list can have
come within rc. Let d be the largest displacement of an atom since the build,
measured as the change of its fractional coordinates mapped through the
reference cell, (s - s_ref) C_ref (the Cartesian displacement for a fixed
cell), and eps the spectral norm of C_ref^-1 C - I (0 for a fixed cell). A
pair vector is r = (r_ref + (s_j - s_i - s_j,ref + s_i,ref) C_ref) C_ref^-1 C,
so a pair at reference distance >= rc + skin is now at least
(rc + skin - 2 d)(1 - eps) apart. A list is reused while that bound is >= rc
and rebuilt otherwise; skin 0 rebuilds every list whose structure moved.

Positions are never wrapped into the cell during a relaxation (FIRE moves the
coordinates as they are), so the cell shift of a pair found at the build stays
the shift of that pair. The edges of one structure are not contiguous (a
rebuilt list is appended at the end) but keep their relative order, so what a
structure sees does not depend on the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from vesin import NeighborList

from ..graph import neighbour_pairs, pair_vectors, stack_lists


@dataclass
class NeighbourLists:
    """Skin neighbour lists of the structures of a batch.

    Attributes:
        edge_index: (2, n_edges) receiver i, sender j (atom rows of the batch).
        shifts: (n_edges, 3) float64 integer cell shifts; the vector is x_j - x_i + shifts @ cell.
        edge_batch: (n_edges,) structure of each edge.
        ref_positions: (n_atoms, 3) float64 Cartesian positions at each structure's last build, Å.
        ref_cell: (n_structures, 3, 3) float64 cell at each structure's last build, Å.
        builds: (n_structures,) int64 how many times each structure's list was built.
    """

    edge_index: torch.Tensor
    shifts: torch.Tensor
    edge_batch: torch.Tensor
    ref_positions: torch.Tensor
    ref_cell: torch.Tensor
    builds: torch.Tensor

    @classmethod
    def build(
        cls,
        positions: torch.Tensor,
        cells: torch.Tensor,
        pbc: torch.Tensor,
        n_atoms: torch.Tensor,
        cutoff: float,
    ) -> NeighbourLists:
        """Fresh lists of every structure with ``cutoff`` (rc + skin), Å.

        Args:
            positions: (n_atoms, 3) float64 Cartesian positions, Å.
            cells: (n_structures, 3, 3) float64 cells, Å (validated: not
                degenerate along the periodic directions).
            pbc: (n_structures, 3) bool.
            n_atoms: (n_structures,) atoms per structure.
            cutoff: the build cutoff, Å.
        """
        edge_index, shifts, edge_batch = _vesin(positions, cells, pbc, n_atoms, list(range(len(n_atoms))), cutoff)
        return cls(edge_index, shifts, edge_batch, positions.detach().clone(), cells.detach().clone(),
                   torch.ones(len(n_atoms), dtype=torch.int64, device=positions.device))

    def stale(
        self,
        positions: torch.Tensor,
        cells: torch.Tensor,
        atom_batch: torch.Tensor,
        cutoff: float,
        skin: float,
        variable_cell: bool,
    ) -> torch.Tensor:
        """(n_structures,) bool: the lists that may miss a pair closer than ``cutoff`` (rc).

        The module docstring derives the test; a non-finite bound counts as stale.
        """
        n = self.ref_cell.shape[0]
        no_strain = torch.zeros(n, dtype=positions.dtype, device=positions.device)
        if not variable_cell:
            d = _largest(positions - self.ref_positions, atom_batch, n)
            return ~_safe(d, no_strain, cutoff, skin)
        eye = torch.eye(3, dtype=cells.dtype, device=cells.device)
        same = (cells == self.ref_cell).all(2).all(1)[:, None, None]  # exactly: no round-off from the solves
        strain, bad = torch.linalg.solve_ex(self.ref_cell, cells)  # C_ref^-1 C
        back, bad_back = torch.linalg.solve_ex(cells, self.ref_cell)  # C^-1 C_ref
        strain, back = torch.where(same, 0.0, strain - eye), torch.where(same, eye, back)
        # (s - s_ref) C_ref = x C^-1 C_ref - x_ref
        d = _largest(torch.einsum("ni,nij->nj", positions, back.index_select(0, atom_batch)) - self.ref_positions,
                     atom_batch, n)
        singular = (bad != 0) | (bad_back != 0)
        # the Frobenius norm bounds the spectral norm: an SVD only where that bound is not enough
        eps = torch.where(singular, torch.inf, torch.linalg.matrix_norm(strain))
        undecided = ~_safe(d, eps, cutoff, skin) & _safe(d, no_strain, cutoff, skin) & ~singular
        if bool(undecided.any()):
            eps = eps.index_put((undecided,), torch.linalg.matrix_norm(strain[undecided], ord=2))
        return ~_safe(d, eps, cutoff, skin)

    def refresh(
        self,
        positions: torch.Tensor,
        cells: torch.Tensor,
        pbc: torch.Tensor,
        n_atoms: torch.Tensor,
        atom_batch: torch.Tensor,
        cutoff: float,
        skin: float,
        variable_cell: bool,
    ) -> NeighbourLists:
        """These lists with the stale ones (:meth:`stale`) rebuilt at the current coordinates."""
        stale = self.stale(positions, cells, atom_batch, cutoff, skin, variable_cell)
        if not bool(stale.any()):
            return self
        if bool(stale.all()):  # the usual case with skin 0: no splice
            fresh = NeighbourLists.build(positions, cells, pbc, n_atoms, cutoff + skin)
            return replace(fresh, builds=self.builds + 1)
        which = stale.nonzero()[:, 0]
        atom_stale = stale.index_select(0, atom_batch)
        edge_index, shifts, edge_batch = _vesin(positions, cells, pbc, n_atoms, which.tolist(), cutoff + skin)
        fresh = NeighbourLists(edge_index, shifts, edge_batch, positions[atom_stale], cells.index_select(0, which),
                               self.builds.index_select(0, which) + 1)
        return self.put(stale, atom_stale, fresh)

    def within(
        self, positions: torch.Tensor, cells: torch.Tensor | None, cutoff: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The edges now shorter than ``cutoff``: (edge_index (2, n), shifts (n, 3) float64).

        Args:
            positions: (n_atoms, 3) float64 Cartesian positions, Å.
            cells: (n_structures, 3, 3) float64 cells, Å, or None when no structure is periodic.
            cutoff: rc, Å.
        """
        vectors = pair_vectors(positions, self.edge_index, self.shifts, cells, self.edge_batch)
        squared = (vectors * vectors) @ vectors.new_ones(3)  # on CPU much faster than .sum(1)
        keep = (squared < cutoff * cutoff).nonzero()[:, 0]
        return self.edge_index.index_select(1, keep), self.shifts.index_select(0, keep)

    def select(self, keep: torch.Tensor, atom_keep: torch.Tensor) -> NeighbourLists:
        """The lists of the structures ``keep`` (n_structures,) bool, atoms ``atom_keep``."""
        atom_row = torch.cumsum(atom_keep, 0) - 1  # new row of each kept atom
        row = torch.cumsum(keep, 0) - 1
        edges = keep.index_select(0, self.edge_batch).nonzero()[:, 0]
        return NeighbourLists(
            edge_index=_gather(atom_row, self.edge_index.index_select(1, edges)),
            shifts=self.shifts.index_select(0, edges),
            edge_batch=row.index_select(0, self.edge_batch.index_select(0, edges)),
            ref_positions=self.ref_positions[atom_keep],
            ref_cell=self.ref_cell[keep],
            builds=self.builds[keep],
        )

    def put(self, which: torch.Tensor, atom_which: torch.Tensor, part: NeighbourLists) -> NeighbourLists:
        """These lists with those of the structures ``which`` (bool) replaced by ``part``.

        ``part`` holds lists of exactly those structures, in order (atoms ``atom_which``);
        their edges go to the end.
        """
        atom_rows, rows = atom_which.nonzero()[:, 0], which.nonzero()[:, 0]
        edges = (~which).index_select(0, self.edge_batch).nonzero()[:, 0]
        return NeighbourLists(
            edge_index=torch.cat([self.edge_index.index_select(1, edges), _gather(atom_rows, part.edge_index)], 1),
            shifts=torch.cat([self.shifts.index_select(0, edges), part.shifts]),
            edge_batch=torch.cat([self.edge_batch.index_select(0, edges), rows.index_select(0, part.edge_batch)]),
            ref_positions=self.ref_positions.index_put((atom_rows,), part.ref_positions),
            ref_cell=self.ref_cell.index_put((rows,), part.ref_cell),
            builds=self.builds.index_put((rows,), part.builds),
        )

    @staticmethod
    def cat(lists: Sequence[NeighbourLists]) -> NeighbourLists:
        """The lists of several batches, in order."""
        atom_offsets = np.cumsum([0] + [len(x.ref_positions) for x in lists])
        offsets = np.cumsum([0] + [len(x.ref_cell) for x in lists])
        return NeighbourLists(
            edge_index=torch.cat([x.edge_index + int(a) for x, a in zip(lists, atom_offsets, strict=False)], 1),
            shifts=torch.cat([x.shifts for x in lists]),
            edge_batch=torch.cat([x.edge_batch + int(o) for x, o in zip(lists, offsets, strict=False)]),
            ref_positions=torch.cat([x.ref_positions for x in lists]),
            ref_cell=torch.cat([x.ref_cell for x in lists]),
            builds=torch.cat([x.builds for x in lists]),
        )


def _gather(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for a (2, n) ``index`` (index_select: faster than advanced indexing)."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def _largest(displacements: torch.Tensor, atom_batch: torch.Tensor, n: int) -> torch.Tensor:
    """(n,) largest norm of a structure's (n_atoms, 3) ``displacements``."""
    norms = torch.linalg.vector_norm(displacements, dim=1)
    return torch.zeros(n, dtype=norms.dtype, device=norms.device).scatter_reduce(
        0, atom_batch, norms, "amax", include_self=True)


def _safe(d: torch.Tensor, eps: torch.Tensor, cutoff: float, skin: float) -> torch.Tensor:
    """Whether no pair outside a list can be within ``cutoff`` after atom displacements
    ``d`` and cell strain ``eps`` (False where either is not finite)."""
    return (cutoff + skin - 2.0 * d) * (1.0 - eps).clamp_min(0.0) >= cutoff


def _vesin(
    positions: torch.Tensor,
    cells: torch.Tensor,
    pbc: torch.Tensor,
    n_atoms: torch.Tensor,
    which: list[int],
    cutoff: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """vesin lists of the structures ``which`` of a batch, as the edges of a batch of just those.

    Returns edge_index (2, n_edges) with atom rows counted over ``which`` only,
    float64 shifts (n_edges, 3) and edge_batch (n_edges,) indexing ``which``.
    """
    device = positions.device
    pos = positions.detach().cpu().numpy()
    cell, periodic = cells.detach().cpu().numpy(), pbc.cpu().numpy()
    counts = n_atoms.tolist()
    starts = np.cumsum([0] + counts)
    nl = NeighborList(cutoff=cutoff, full_list=True)
    lists = [neighbour_pairs(pos[starts[s]:starts[s + 1]], cell[s], periodic[s], cutoff, nl) for s in which]
    edge_index, shifts, sizes = stack_lists(lists, [counts[s] for s in which])
    edge_batch = torch.repeat_interleave(torch.arange(len(which)), torch.tensor(sizes, dtype=torch.int64))
    return (torch.from_numpy(edge_index).to(device),
            torch.from_numpy(shifts).to(device=device, dtype=torch.float64), edge_batch.to(device))
