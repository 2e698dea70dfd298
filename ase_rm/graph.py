"""Batched graphs: many structures in one set of tensors, neighbour lists by vesin.

A :class:`Frame` is one structure as numpy arrays; :func:`build_graph` stacks
frames into a :class:`Graph` with a full (both directions) neighbour list.
Edge e points from sender ``edge_index[1, e]`` (j) to receiver
``edge_index[0, e]`` (i); its vector is ``x_j - x_i + shifts[e] @ cell``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from vesin import NeighborList

from .errors import InvalidStructureError

__all__ = [
    "Frame",
    "Graph",
    "build_graph",
    "edge_vectors",
    "pair_vectors",
]



@dataclass
class Frame:
    """One structure as numpy arrays (Å; cell vectors are rows)."""

    positions: np.ndarray  # (n, 3) float64
    numbers: np.ndarray  # (n,) int64
    cell: np.ndarray  # (3, 3) float64
    pbc: np.ndarray  # (3,) bool

    @classmethod
    def from_atoms(cls, atoms) -> Frame:  # type: ignore[no-untyped-def]
        return cls(
            positions=np.asarray(atoms.get_positions(), dtype=np.float64),
            numbers=np.asarray(atoms.numbers, dtype=np.int64),
            cell=np.asarray(atoms.cell.array, dtype=np.float64),
            pbc=np.asarray(atoms.pbc, dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.numbers)


@dataclass
class Graph:
    """A batch of structures as torch tensors.

    Attributes:
        positions: (n_atoms, 3), Å.
        numbers: (n_atoms,) atomic numbers.
        cell: (n_structures, 3, 3), Å, rows are cell vectors (zeros if no pbc).
        pbc: (n_structures, 3) bool.
        batch: (n_atoms,) structure index of each atom.
        edge_index: (2, n_edges) receiver i, sender j.
        shifts: (n_edges, 3) integer cell shifts (stored in the float dtype).
        n_atoms: (n_structures,) atoms per structure.
    """

    positions: torch.Tensor
    numbers: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    batch: torch.Tensor
    edge_index: torch.Tensor
    shifts: torch.Tensor
    n_atoms: torch.Tensor

    @property
    def n_structures(self) -> int:
        return int(self.n_atoms.shape[0])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Graph:
        """A copy on ``device`` with float tensors in ``dtype``."""

        def move(t: torch.Tensor) -> torch.Tensor:
            if t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device=device)

        return Graph(**{k: move(v) for k, v in self.__dict__.items()})


# vesin's cell list grows like (box / cutoff)^3: a short-range search (coincident
# atoms, the 0.7 Å noise repulsion) is much faster on a 2 Å list, filtered after.
SHORT_RANGE_LIST_CUTOFF = 2.0


def _box(frame: Frame) -> np.ndarray:
    if frame.pbc.any():
        periodic_rows = frame.cell[frame.pbc]
        if np.linalg.matrix_rank(periodic_rows) < int(frame.pbc.sum()):
            raise InvalidStructureError(
                f"the cell {frame.cell.tolist()} is degenerate along its periodic directions"
            )
        return frame.cell
    return np.zeros((3, 3))


def neighbour_list(
    frame: Frame, cutoff: float, nl: NeighborList | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full neighbour list of one frame: (i, j, shifts) with r_ij < cutoff."""
    return neighbour_pairs(frame.positions, _box(frame), frame.pbc, cutoff, nl)


def neighbour_pairs(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray,
    cutoff: float,
    nl: NeighborList | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`neighbour_list` of raw arrays, without its check of the cell.

    For callers whose cells are validated already (a relaxation checks its
    structures once, not at every step); a cell that turns out degenerate
    along a periodic direction still raises InvalidStructureError (from vesin).
    """
    nl = nl or NeighborList(cutoff=cutoff, full_list=True)
    box = cell if pbc.any() else np.zeros((3, 3))
    try:
        i, j, s = nl.compute(points=positions, box=box, periodic=pbc.tolist(), quantities="ijS")
    except RuntimeError as exc:
        raise InvalidStructureError(f"no neighbour list for the cell {cell.tolist()}: {exc}") from exc
    return i.astype(np.int64), j.astype(np.int64), s.astype(np.int64)


def stack_lists(
    lists: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], sizes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Per-structure neighbour lists (i, j, shifts) as the edges of one batch.

    Args:
        lists: one (i, j, shifts) per structure, atom numbers local to it.
        sizes: atoms of each structure.

    Returns:
        edge_index (2, n_edges) int64 (receiver row, sender row of the batch),
        shifts (n_edges, 3) int64, and the number of edges of each structure.
    """
    offsets = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
    receivers = [i + o for (i, _, _), o in zip(lists, offsets, strict=True)]
    senders = [j + o for (_, j, _), o in zip(lists, offsets, strict=True)]
    edge_index = np.stack([np.concatenate(receivers), np.concatenate(senders)]).astype(np.int64)
    shifts = np.concatenate([s for _, _, s in lists]).reshape(-1, 3).astype(np.int64)
    return edge_index, shifts, [len(i) for i, _, _ in lists]


def build_graph(
    frames: Sequence[Frame],
    cutoff: float,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Graph:
    """Stack frames into one :class:`Graph` with a neighbour list of ``cutoff``.

    Args:
        frames: structures; periodic directions need a non-degenerate cell.
        cutoff: neighbour cutoff, Å.
        dtype: float dtype of positions, cell and shifts.
        device: torch device.
    """
    if not frames:
        raise InvalidStructureError("no structures to build a graph from")
    nl = NeighborList(cutoff=cutoff, full_list=True)
    edge_index, shifts, _ = stack_lists([neighbour_list(f, cutoff, nl) for f in frames], [len(f) for f in frames])
    n_atoms = np.array([len(f) for f in frames], dtype=np.int64)
    positions = np.concatenate([f.positions for f in frames])
    numbers = np.concatenate([f.numbers for f in frames])
    cell = np.stack([f.cell if f.pbc.any() else np.zeros((3, 3)) for f in frames])
    pbc = np.stack([f.pbc for f in frames])

    def t(x: np.ndarray, float_: bool = False) -> torch.Tensor:
        out = torch.from_numpy(np.ascontiguousarray(x))
        return out.to(device=device, dtype=dtype) if float_ else out.to(device)

    return Graph(
        positions=t(positions, True),
        numbers=t(numbers),
        cell=t(cell, True),
        pbc=t(pbc),
        batch=t(np.repeat(np.arange(len(frames)), n_atoms)),
        edge_index=t(edge_index),
        shifts=t(shifts, True),
        n_atoms=t(n_atoms),
    )


def edge_vectors(graph: Graph, positions: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Vectors x_j - x_i + S_ij @ cell, (n_edges, 3), differentiable in both inputs."""
    if graph.shifts.numel() and bool(graph.pbc.any()):
        edge_batch = graph.batch.index_select(0, graph.edge_index[0])
        return pair_vectors(positions, graph.edge_index, graph.shifts, cell, edge_batch)
    return pair_vectors(positions, graph.edge_index)


def pair_vectors(
    positions: torch.Tensor,
    edge_index: torch.Tensor,
    shifts: torch.Tensor | None = None,
    cells: torch.Tensor | None = None,
    edge_batch: torch.Tensor | None = None,
) -> torch.Tensor:
    """x_j - x_i (+ shifts @ cells[edge_batch] when cells are given), (n_edges, 3).

    Args:
        positions: (n_atoms, 3), Å.
        edge_index: (2, n_edges) receiver i, sender j.
        shifts: (n_edges, 3) cell shifts (with ``cells``).
        cells: (n_structures, 3, 3), Å, or None for no periodic images.
        edge_batch: (n_edges,) structure of each edge (with ``cells``).
    """
    i, j = edge_index
    # index_select, not positions[j]: same numbers, a much cheaper backward on CPU
    vec = positions.index_select(0, j) - positions.index_select(0, i)
    if cells is not None:
        assert shifts is not None and edge_batch is not None, "periodic images need shifts and edge_batch"
        vec = vec + torch.einsum("ek,ekl->el", shifts, cells.index_select(0, edge_batch))
    return vec
