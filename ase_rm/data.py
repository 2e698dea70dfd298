"""Noisy training data: equilibrium structures -> batches of fresh noisy frames.

Frame k of structure m in epoch e is noised with the Generator seeded by
(seed, e, m, k), and the epoch's batch order by (seed, e): a run is
reproducible and a resumed run sees exactly the frames it would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from .config import NoiseConfig
from .errors import ConfigError
from .graph import Frame, Graph, build_graph
from .noise import NoiseSchedule, NoisyFrame

__all__ = [
    "Batch",
    "NoisyDataset",
    "collate",
    "fit_volumes",
    "noise_structures",
    "noisy_to_atoms",
]


ORDER_STREAM = 7_777_777
"""Seed-sequence entry that keeps batch-order draws apart from noise draws."""


@dataclass
class Batch:
    """A training batch: the graph and its targets.

    Attributes:
        graph: the noisy structures.
        forces: (n_atoms, 3) target forces, eV/Å.
        stress: (n_structures, 3, 3) target stress, eV/Å^3 (zeros where absent).
        has_stress: (n_structures,) bool, which structures carry a stress label.
        totals: under distributed training, the force and stress components of
            the whole global batch (every rank's share), so that no rank has to
            ask the others; None for an unsharded batch.
        placeholder: True when this rank's share of the global batch is empty
            (fewer frames than ranks): the batch repeats one frame of the global
            batch, and :func:`ase_rm.training.loss.batch_loss` weighs its loss by
            0 so that the rank still takes part in the gradient reduction.
        energy: with references, (n_frames,) label energy of each noisy frame
            relative to its equilibrium structure, eV; else None.
        n_labelled: the graph's first n_labelled structures are the noisy
            frames; with references, the equilibrium structures follow them
            (energy only), each once however many of the frames share it.
        reference: with references, (n_frames,) index of each frame's
            equilibrium structure among the graph's structures; else None.
    """

    graph: Graph
    forces: torch.Tensor
    stress: torch.Tensor
    has_stress: torch.Tensor
    totals: tuple[float, float] | None = None
    placeholder: bool = False
    energy: torch.Tensor | None = None
    n_labelled: int = -1
    reference: torch.Tensor | None = None

    @property
    def n_frames(self) -> int:
        return self.graph.n_structures if self.n_labelled < 0 else self.n_labelled


def collate(
    noisy: Sequence[NoisyFrame], cutoff: float, dtype: torch.dtype, device: torch.device | str,
    references: Sequence[Frame] | None = None,
) -> Batch:
    """Build the graph and stack the targets of noisy frames; with
    ``references`` (the equilibrium structure of each frame), they join the
    graph after the frames, for the energy-difference loss: each distinct one
    once (frames of one structure, by its ``source``, share it)."""
    by_source: dict[int, Frame] = {}
    if references is not None:
        for n, ref in zip(noisy, references, strict=True):
            by_source.setdefault(n.source, ref)
        references = list(by_source.values())
    unique = {src: k for k, src in enumerate(by_source)}
    frames = [n.frame for n in noisy] + list(references or [])
    graph = build_graph(frames, cutoff, dtype, device)
    forces = torch.from_numpy(np.concatenate([n.forces for n in noisy]))
    stress = np.stack([n.stress if n.stress is not None else np.zeros((3, 3)) for n in noisy])
    has = torch.tensor([n.stress is not None for n in noisy], device=device)
    batch = Batch(
        graph,
        forces.to(device=device, dtype=dtype),
        torch.from_numpy(stress).to(device=device, dtype=dtype),
        has,
    )
    if references is not None:
        batch.n_labelled = len(noisy)
        batch.energy = torch.tensor([n.energy for n in noisy], device=device, dtype=dtype)
        batch.reference = torch.tensor([len(noisy) + unique[n.source] for n in noisy], device=device)
    return batch


class NoisyDataset:
    """Fresh noisy frames of a set of equilibrium structures, epoch by epoch.

    Args:
        structures: equilibrium structures (validated by the caller).
        noise: the noising recipe.
        seed: seed of all noise and ordering draws.
        static: draw each frame's noise once (epoch 0's draw in every epoch,
            the published recipe); the batch order still changes every epoch.
        references: put each frame's equilibrium structure into its batch
            (the energy-difference loss, TrainConfig.energy_weight).
    """

    def __init__(self, structures: Sequence[Atoms], noise: NoiseConfig, seed: int, static: bool = False,
                 references: bool = False) -> None:
        self.frames = [Frame.from_atoms(a) for a in structures]
        self.atoms = np.array([len(f) for f in self.frames], dtype=np.int64)
        self.schedule = NoiseSchedule(noise, seed)
        self.seed = int(seed)
        self.static, self.references = static, references

    def __len__(self) -> int:
        """Noisy frames per epoch."""
        return len(self.frames) * self.schedule.frames_per_structure

    def frame(self, index: int, epoch: int) -> NoisyFrame:
        fps = self.schedule.frames_per_structure
        m, k = divmod(int(index), fps)
        return self.schedule.sample(self.frames[m], m, k, 0 if self.static else epoch)

    def _collate(self, chunk: np.ndarray, epoch: int, cutoff: float, dtype: torch.dtype,
                 device: torch.device | str) -> Batch:
        noisy = [self.frame(i, epoch) for i in chunk]
        refs = [self.frames[n.source] for n in noisy] if self.references else None
        return collate(noisy, cutoff, dtype, device, refs)

    def epoch_size(self, fraction: float = 1.0) -> int:
        """Frames in an epoch that sees ``fraction`` of all noisy frames."""
        return len(self) if fraction >= 1.0 else max(1, int(np.ceil(fraction * len(self))))

    def order(self, epoch: int, shuffle: bool = True, fraction: float = 1.0) -> np.ndarray:
        """Frame indices of an epoch in batch order.

        ``fraction < 1`` keeps the first part of the shuffled order: a seeded,
        different subset of (structure, noise level) frames every epoch.
        """
        idx = np.arange(len(self))
        if shuffle:
            np.random.default_rng([self.seed, ORDER_STREAM, epoch]).shuffle(idx)
        return idx[: self.epoch_size(fraction)]

    def batches(
        self,
        epoch: int,
        batch_size: int,
        cutoff: float,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        shuffle: bool = True,
        start: int = 0,
        shard: tuple[int, int] = (0, 1),
        fraction: float = 1.0,
    ):  # type: ignore[no-untyped-def]
        """Yield batches of an epoch, from batch number ``start`` on.

        ``shard = (rank, world)`` keeps this rank's share of each global batch
        (distributed training: the ranks together see the global batch). The
        shares are balanced by atom count, so that no rank waits for a larger
        one at the gradient reduction; which rank holds a frame changes nothing
        in the summed gradient.
        """
        order = self.order(epoch, shuffle, fraction)
        rank, world = shard
        fps = self.schedule.frames_per_structure
        stress_labels = self.schedule.cfg.kind == "crystal"
        for b in range(start, n_batches(len(order), batch_size)):
            chunk = order[b * batch_size : (b + 1) * batch_size]
            if world <= 1:
                yield self._collate(chunk, epoch, cutoff, dtype, device)
                continue
            atoms = self.atoms[chunk // fps]
            mine = balanced_shares(atoms, world)[rank]
            batch = self._collate(chunk[mine if len(mine) else [0]], epoch, cutoff, dtype, device)
            batch.totals = (3.0 * float(atoms.sum()), 9.0 * len(chunk) if stress_labels else 0.0)
            batch.placeholder = len(mine) == 0
            yield batch


def balanced_shares(sizes: np.ndarray, parts: int) -> list[np.ndarray]:
    """Split positions 0..len(sizes)-1 into ``parts`` groups of near-equal total
    size: largest first, each to the group with the least so far (ties to the
    lower group). Each group is returned in ascending order; a group is empty
    only when there are fewer items than parts."""
    loads = np.zeros(parts)
    groups: list[list[int]] = [[] for _ in range(parts)]
    for i in np.argsort(-np.asarray(sizes), kind="stable"):
        g = int(np.argmin(loads))
        groups[g].append(int(i))
        loads[g] += sizes[i]
    return [np.array(sorted(g), dtype=np.int64) for g in groups]


def n_batches(n_frames: int, batch_size: int) -> int:
    return (n_frames + batch_size - 1) // batch_size


def noisy_to_atoms(noisy: NoisyFrame) -> Atoms:
    """A noisy frame as Atoms with its targets under the documented rm_ keys."""
    from ase.stress import full_3x3_to_voigt_6_stress

    from . import keys

    f = noisy.frame
    atoms = Atoms(numbers=f.numbers, positions=f.positions, cell=f.cell, pbc=f.pbc)
    atoms.arrays[keys.RM_FORCES] = noisy.forces.copy()
    atoms.arrays[keys.RM_DISPLACEMENT] = noisy.displacement.copy()
    atoms.info[keys.RM_NOISE_LEVEL] = noisy.level
    atoms.info[keys.RM_STRAIN_SCALE] = noisy.strain_scale
    atoms.info[keys.RM_SOURCE_INDEX] = noisy.source
    if noisy.stress is not None:
        atoms.info[keys.RM_STRESS] = full_3x3_to_voigt_6_stress(noisy.stress)
    return atoms


def noise_structures(
    structures: Sequence[Atoms], noise: NoiseConfig, seed: int = 0, epoch: int = 0
) -> list[Atoms]:
    """Every noisy frame of one epoch, as Atoms (for inspection and export).

    Raises:
        ConfigError: a negative seed or epoch.
    """
    if seed < 0 or epoch < 0:
        raise ConfigError(f"seed and epoch must be non-negative integers, not seed={seed}, epoch={epoch}")
    ds = NoisyDataset(structures, noise, seed)
    return [noisy_to_atoms(ds.frame(i, epoch)) for i in range(len(ds))]


def fit_volumes(structures: Sequence[Atoms]) -> dict[int, float]:
    """Per-element volumes V_Z (Å^3) from a least-squares fit V = sum_Z n_Z V_Z."""
    periodic = [a for a in structures if a.pbc.all()]
    if not periodic:
        return {}
    elements = sorted({int(z) for a in periodic for z in a.numbers})
    col = {z: c for c, z in enumerate(elements)}
    counts = np.zeros((len(periodic), len(elements)))
    for r, a in enumerate(periodic):
        for z in a.numbers:
            counts[r, col[int(z)]] += 1
    volumes = np.array([a.get_volume() for a in periodic])
    fit, *_ = np.linalg.lstsq(counts, volumes, rcond=None)
    return {z: float(fit[col[z]]) for z in elements}
