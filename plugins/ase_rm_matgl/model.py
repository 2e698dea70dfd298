"""matgl architectures (TensorNet, M3GNet) as energy-only RM denoisers.

:class:`MatglDenoiser` has the calling convention of ase_rm's own denoiser,
``model(vectors, receivers, senders, numbers) -> atomic energies (n_atoms,)``,
and a ``cutoff``: :class:`ase_rm.potential.Potential` adds autograd forces
and symmetric-strain stress, so forces and stress come from the edge vectors
that ase_rm builds, exactly as for the native model.

The network is a matgl model built from scratch (no pretrained weights). Its
own graph converters are not used: the adapter calls the model's blocks
(bond expansion, embedding, interactions, readout) on ase_rm's edges, so the
energy is a differentiable function of the edge vectors. matgl's edge
convention matches ase_rm's: ``edge_index[0]`` is the atom that aggregates
(ase_rm's receiver i), ``edge_index[1]`` its neighbour (sender j), and the
bond vector is x_j - x_i (+ shift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from ase.data import chemical_symbols
from torch import nn

from ase_rm.config import Config
from ase_rm.errors import ConfigError
from ase_rm.model import SpeciesIndex

ARCHITECTURE = "matgl"
"""The checkpoint's ``architecture`` key, and the name of the ``ase_rm.models`` entry point."""

NETS = ("tensornet", "m3gnet")


ACTIVATIONS = ("swish", "tanh", "sigmoid", "softplus2", "softexp")
"""Activations matgl's TensorNet and M3GNet accept."""


@dataclass(frozen=True)
class MatglConfig(Config):
    """A matgl network used as the RM denoiser.

    Attributes:
        species: atomic numbers the model knows, sorted.
        net: "tensornet" or "m3gnet".
        cutoff: neighbour cutoff, Å.
        units: hidden width (TensorNet ``units``; M3GNet node/edge embedding and ``units``).
        nblocks: interaction blocks.
        num_rbf: Gaussian radial functions (TensorNet).
        max_n: radial order of the spherical Bessel basis (M3GNet).
        max_l: angular order of the spherical Bessel basis (M3GNet).
        threebody_cutoff: three-body cutoff, Å (M3GNet; None: ``cutoff``).
        activation: matgl activation name ("swish", "tanh", "softplus2", ...).
        equivariance: "O(3)" or "SO(3)" (TensorNet).
    """

    species: tuple[int, ...]
    net: str = "tensornet"
    cutoff: float = 4.5
    units: int = 32
    nblocks: int = 2
    num_rbf: int = 16
    max_n: int = 3
    max_l: int = 3
    threebody_cutoff: float | None = None
    activation: str = "swish"
    equivariance: str = "O(3)"

    def __post_init__(self) -> None:
        if not self.species:
            raise ConfigError("MatglConfig.species is empty")
        if tuple(sorted(set(self.species))) != tuple(self.species):
            raise ConfigError("MatglConfig.species must be sorted and unique")
        if self.net not in NETS:
            raise ConfigError(f"MatglConfig.net must be one of {NETS}, not {self.net!r}")
        if self.cutoff <= 0:
            raise ConfigError("MatglConfig.cutoff must be positive")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"MatglConfig.activation must be one of {ACTIVATIONS}, not {self.activation!r}")
        if self.threebody_cutoff is not None and not 0 < self.threebody_cutoff <= self.cutoff:
            raise ConfigError("MatglConfig.threebody_cutoff must be in (0, cutoff]")

    @property
    def architecture(self) -> str:
        return ARCHITECTURE

    def build(self, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> MatglDenoiser:
        """The denoiser of this config (core hook: ``ase_rm.checkpoint.build_model``)."""
        return MatglDenoiser(self, generator, dtype)


def _matgl_net(cfg: MatglConfig) -> nn.Module:
    """The matgl model, extensive (per-atom readout), built from scratch on the global RNG."""
    elements = tuple(chemical_symbols[z] for z in cfg.species)
    if cfg.net == "tensornet":
        from matgl.models import TensorNet

        return TensorNet(
            element_types=elements, units=cfg.units, nblocks=cfg.nblocks, num_rbf=cfg.num_rbf,
            cutoff=cfg.cutoff, activation_type=cfg.activation,  # type: ignore[arg-type]  # validated in MatglConfig
            equivariance_invariance_group=cfg.equivariance,
            is_intensive=False, use_warp=False, dtype=torch.float32,
        )
    from matgl.models import M3GNet

    return M3GNet(
        element_types=elements, dim_node_embedding=cfg.units, dim_edge_embedding=cfg.units, units=cfg.units,
        nblocks=cfg.nblocks, max_n=cfg.max_n, max_l=cfg.max_l, cutoff=cfg.cutoff,
        threebody_cutoff=cfg.threebody_cutoff or cfg.cutoff, use_smooth=True, is_intensive=False,
        activation_type=cfg.activation,  # type: ignore[arg-type]  # validated in MatglConfig
    )


class MatglDenoiser(nn.Module):
    """Atomic energies from edge vectors through a matgl network.

    Args:
        config: the :class:`MatglConfig`.
        generator: source of the initial weights (torch's global RNG is left
            untouched: matgl draws from it inside a forked RNG state seeded
            from ``generator``; None: a seed from the global RNG).
        dtype: float dtype of the weights.
    """

    def __init__(
        self,
        config: MatglConfig,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.config = config
        self.species_index = SpeciesIndex(config.species)
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = _matgl_net(config)
        self.to(dtype)

    @property
    def architecture(self) -> str:
        return ARCHITECTURE

    @property
    def cutoff(self) -> float:
        return float(self.config.cutoff)

    def forward(
        self, vectors: torch.Tensor, receivers: torch.Tensor, senders: torch.Tensor,
        numbers: torch.Tensor,
    ) -> torch.Tensor:
        """Atomic energies, (n_atoms,) eV.

        Args:
            vectors: (n_edges, 3) edge vectors x_j - x_i (+ shift), Å.
            receivers: (n_edges,) atom i of each edge.
            senders: (n_edges,) atom j of each edge.
            numbers: (n_atoms,) atomic numbers.
        """
        types = self.species_index(numbers)
        if self.config.net == "tensornet":
            return _tensornet(self.net, vectors, torch.stack([receivers, senders]), types)
        return _m3gnet(self.net, vectors, receivers, senders, types)


def _tensornet(net: Any, vectors: torch.Tensor, edge_index: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
    """matgl TensorNet.forward_features (PyG path) + its extensive readout, from edge vectors."""
    from matgl.utils.maths import decompose_tensor, tensor_norm

    dist = torch.linalg.vector_norm(vectors, dim=-1)
    edge_attr = net.bond_expansion(dist)
    x, _ = net.tensor_embedding(types, edge_index, edge_attr, dist, vectors, None)
    for layer in net.layers:
        x = layer(edge_index, dist, edge_attr, x)
    scalars, skew, traceless = decompose_tensor(x)
    feats = torch.cat((tensor_norm(scalars), tensor_norm(skew), tensor_norm(traceless)), dim=-1)
    feats = net.linear(net.out_norm(feats))
    return net.final_layer(feats).view(-1)


def _m3gnet(
    net: Any, vectors: torch.Tensor, receivers: torch.Tensor, senders: torch.Tensor, types: torch.Tensor
) -> torch.Tensor:
    """matgl M3GNet.forward (extensive branch), from edge vectors.

    matgl's line graph needs the edges sorted by the aggregating atom; the
    permutation is applied to the vectors, so gradients flow back unchanged.
    """
    from matgl.graph._compute import compute_theta_and_phi, create_line_graph_torch
    from matgl.utils.cutoff import polynomial_cutoff

    order = torch.argsort(receivers, stable=True)
    vectors = vectors.index_select(0, order)
    edge_index = torch.stack([receivers[order], senders[order]])
    n_atoms, n_edges = types.shape[0], edge_index.shape[1]
    dist = torch.linalg.vector_norm(vectors, dim=-1)
    expanded = net.bond_expansion(dist)
    line = create_line_graph_torch(edge_index, dist, vectors, n_atoms, net.threebody_cutoff)
    angles = compute_theta_and_phi(vectors, dist, line["line_edge_index"])
    three_body_basis = net.basis_expansion(angles["triple_bond_lengths"], angles["cos_theta"], angles["phi"])
    three_body_cutoff = polynomial_cutoff(dist, net.threebody_cutoff)
    node_feat, edge_feat, state_feat = net.embedding(types, expanded, None)
    for i in range(net.n_blocks):
        edge_feat = net.three_body_interactions[i](
            edge_index[1], line["line_edge_index"], line["n_triple_ij"], n_edges, three_body_basis,
            three_body_cutoff, node_feat, edge_feat,
        )
        edge_feat, node_feat, state_feat = net.graph_layers[i](
            edge_index, edge_feat, node_feat, state_feat, expanded, None, None, n_atoms, 1,
        )
    return net.final_layer(node_feat).view(-1)
