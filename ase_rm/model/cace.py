"""The denoiser: CACE-style atomic cluster expansion without message passing.

Energy-only, pure torch. Forces and stress are added by
:class:`ase_rm.potential.Potential`. Per atom i (docs/method.md section 3):

A_i[a, n, m] = sum_j R_n(r_ij) f(r_ij) L_m(u_ij) theta_s[Z_j, a]      (edges)
A_i[c=(a,b), n, m] = A_i[a, n, m] theta_r[Z_i, b]                    (atoms)
A'_i[c, n', m] = sum_n A_i[c, n, m] W_{l(m)}[n, n', c]               (mixing)
B_i = invariants(A'_i);  E_i = MLP(B_i) + Linear(B_i).

Evaluation order (the same numbers, at a fraction of the cost): the edge sum
carries N_emb (not N_emb^2) channels and is one batched matmul over atoms,
with the edges padded per receiver; the mixing is one bmm over (m, a) and
leaves the monomial index leading, (M, a, N, b, n'), so that the invariants
work on whole contiguous rows; and because A_i is linear in theta_r[Z_i, b]
and a nu-body invariant is homogeneous of degree nu, theta_r^nu multiplies the
invariants instead of A.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .angular import AngularBasis, Invariants, monomials
from .radial import BesselBasis, PolynomialCutoff
from .species import SpeciesIndex


def _linear(n_in: int, n_out: int) -> nn.Linear:
    """A Linear layer left uninitialised (Denoiser.reset_parameters fills it),
    so that building a model never draws from torch's global RNG."""
    return nn.utils.skip_init(nn.Linear, n_in, n_out)


class Readout(nn.Module):
    """E_i = MLP(B_i) + Linear(B_i), SiLU activations."""

    def __init__(self, n_in: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_in
        for h in hidden:
            layers += [_linear(width, h), nn.SiLU()]
            width = h
        layers.append(_linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.linear = _linear(n_in, 1)

    def forward(self, b: torch.Tensor) -> torch.Tensor:
        return (self.mlp(b) + self.linear(b)).squeeze(-1)


class Denoiser(nn.Module):
    """Atomic energies from positions: the RM denoiser.

    Args:
        config: the :class:`ModelConfig`.
        generator: source of the initial weights (torch's global RNG if None).
        dtype: float dtype of the weights.
    """

    orders: torch.Tensor
    body_index: torch.Tensor

    def __init__(
        self,
        config: ModelConfig,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.config = config
        n_species, n_emb = len(config.species), config.n_embedding
        self.species_index = SpeciesIndex(config.species)
        self.sender_embedding = nn.Parameter(torch.empty(n_species, n_emb))
        if config.separate_receiver:
            self.receiver_embedding = nn.Parameter(torch.empty(n_species, n_emb))
        self.radial = BesselBasis(config.cutoff, config.n_bessel, config.trainable_bessel)
        self.cutoff_fn = PolynomialCutoff(config.cutoff, config.cutoff_p)
        self.angular = AngularBasis(config.lmax)
        orders = torch.tensor([sum(m) for m in monomials(config.lmax)])
        self.register_buffer("orders", orders, persistent=False)
        n_channels = n_emb * n_emb
        self.mixing = nn.Parameter(
            torch.empty(config.lmax + 1, config.n_bessel, config.n_radial, n_channels)
        )
        self.invariants = Invariants(config.lmax, config.numax)
        body_index = torch.tensor(self.invariants.body_orders) - 1
        self.register_buffer("body_index", body_index, persistent=False)
        self.n_features = n_channels * config.n_radial * self.invariants.n_features
        self.readout = Readout(self.n_features, config.hidden)
        self.reset_parameters(generator)
        self.to(dtype)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every weight from ``generator`` (torch's global RNG if None)."""

        def uniform(t: torch.Tensor, bound: float) -> None:
            t.copy_((torch.rand(t.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)

        uniform(self.sender_embedding, 1.0)
        if self.config.separate_receiver:
            uniform(self.receiver_embedding, 1.0)
        nb = self.config.n_bessel
        self.mixing.copy_(torch.randn(self.mixing.shape, generator=generator, dtype=torch.float64) / nb**0.5)
        for module in self.readout.modules():
            if isinstance(module, nn.Linear):
                bound = module.in_features**-0.5
                uniform(module.weight, bound)
                uniform(module.bias, bound)

    @property
    def cutoff(self) -> float:
        return float(self.config.cutoff)

    def species_of(self, numbers: torch.Tensor) -> torch.Tensor:
        """Row in the embedding table of each atomic number (UnknownElementError if unknown)."""
        return self.species_index(numbers)

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
        return self.energies(vectors, *self.layout(receivers, senders, numbers))

    def layout(
        self, receivers: torch.Tensor, senders: torch.Tensor, numbers: torch.Tensor, degree_multiple: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """The data-dependent bookkeeping of a graph, apart from the arithmetic:
        (species of each atom, species of each edge's sender, padded slot of each
        edge, degree). The degree (padded edges per atom) is rounded up to a
        multiple of ``degree_multiple``: the same energies, from a few distinct
        shapes. Raises UnknownElementError for an element the model lacks.
        """
        species = self.species_of(numbers)
        slots, degree = _slots(receivers, numbers.shape[0], degree_multiple)
        return species, species.index_select(0, senders), slots, degree

    def energies(
        self, vectors: torch.Tensor, species: torch.Tensor, sender_species: torch.Tensor,
        slots: torch.Tensor, degree: int,
    ) -> torch.Tensor:
        """Atomic energies from edge vectors and a :meth:`layout`; pure tensor
        arithmetic without data-dependent control flow (torch.compile traces it
        whole)."""
        n_atoms = species.shape[0]
        r = torch.linalg.vector_norm(vectors, dim=-1)
        radial = self.radial(r) * self.cutoff_fn(r)[:, None]  # (E, nb)
        ang = self.angular(vectors / r[:, None])  # (E, M)
        emb_s = self.sender_embedding.index_select(0, sender_species)  # (E, ne)
        edge = (emb_s[:, :, None] * radial[:, None, :]).flatten(1)  # (E, ne nb)
        a = _neighbour_sum(ang, edge, slots, n_atoms, degree)  # (N, M, ne nb)
        n_emb, n_mono, nb = emb_s.shape[1], ang.shape[1], radial.shape[1]
        a = a.view(n_atoms, n_mono, n_emb, nb).permute(1, 2, 0, 3).contiguous()
        mixed = self._mix(a)  # (M, a, N, b, n')
        # per sender channel a: smaller working set, same numbers
        feats = torch.stack([self.invariants.leading(x) for x in mixed.unbind(1)], dim=1)
        emb_r = self.receiver_embedding if self.config.separate_receiver else self.sender_embedding
        feats = feats * self._receiver_powers(emb_r[species])[:, None, :, :, None]
        atomic = self.readout(feats.permute(2, 1, 3, 4, 0).reshape(n_atoms, self.n_features))
        if self.config.core_radius > 0:
            atomic = atomic + self._core_repulsion(r, slots, degree, n_atoms)
        return atomic

    def _core_repulsion(self, r: torch.Tensor, slots: torch.Tensor, degree: int, n_atoms: int) -> torch.Tensor:
        """Atomic energies of the fixed core repulsion (ModelConfig.core_radius):
        half of A (r_c/r - 1)^2 over each atom's edges closer than r_c (every pair
        is two edges of the full neighbour list). r is floored at r_c/100, where
        the direction of a fused pair is undefined anyway."""
        rc = self.config.core_radius
        x = rc / r.clamp(min=0.01 * rc)
        pair = self.config.core_energy * torch.clamp(x - 1, min=0) ** 2
        receivers = torch.div(slots, max(degree, 1), rounding_mode="floor")
        return 0.5 * pair.new_zeros(n_atoms).index_add(0, receivers, pair)

    def _receiver_powers(self, theta: torch.Tensor) -> torch.Tensor:
        """theta^nu for the body order nu of each invariant, (K, N, ne).

        A_i[(a, b), n', m] is linear in theta_r[Z_i, b] and a nu-body invariant
        is homogeneous of degree nu, so the receiver embedding multiplies the
        invariants (fewer numbers) rather than A.
        """
        powers = [theta]
        for _ in range(self.config.numax - 1):
            powers.append(powers[-1] * theta)
        return torch.stack(powers).index_select(0, self.body_index)

    def _mix(self, a: torch.Tensor) -> torch.Tensor:
        """Per-order, per-channel radial mixing, channel c = (a, b):
        (M, a, N, nb) -> (M, a, N, b, n'), one bmm over (monomial, a)."""
        n_mono, n_emb, n_atoms, nb = a.shape
        w = self.mixing.view(*self.mixing.shape[:3], n_emb, n_emb)  # (l, nb, n', a, b)
        w = w.permute(0, 3, 1, 4, 2).reshape(-1, n_emb, nb, self.mixing.shape[2] * n_emb)
        w = w.index_select(0, self.orders).reshape(n_mono * n_emb, nb, -1)
        out = torch.bmm(a.reshape(n_mono * n_emb, n_atoms, nb), w)
        return out.view(n_mono, n_emb, n_atoms, n_emb, self.mixing.shape[2])


def _neighbour_sum(
    ang: torch.Tensor, edge: torch.Tensor, slots: torch.Tensor, n_atoms: int, degree: int
) -> torch.Tensor:
    """sum over the edges of atom i of ang[e, m] edge[e, f]: (N, M, F).

    The edges are laid out per receiver (``slots``, see :func:`_slots`), padded
    with zeros to the largest degree, so that the sum of outer products is one
    batched matmul.
    """

    def padded(x: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros(n_atoms * degree, x.shape[1]).index_copy(0, slots, x)
        return out.view(n_atoms, degree, x.shape[1])

    return torch.bmm(padded(ang).transpose(1, 2), padded(edge))


def _slots(receivers: torch.Tensor, n_atoms: int, multiple: int = 1) -> tuple[torch.Tensor, int]:
    """Row of each edge in the (n_atoms * degree) padded layout, and the degree
    (the largest number of edges of an atom, rounded up to a multiple of ``multiple``)."""
    counts = torch.bincount(receivers, minlength=n_atoms)
    degree = int(counts.max()) if receivers.numel() else 0
    degree = -(-degree // multiple) * multiple
    order = torch.argsort(receivers, stable=True)
    ranked = receivers[order]
    first = torch.cumsum(counts, 0) - counts
    slots = torch.empty_like(receivers)
    slots[order] = ranked * degree + torch.arange(receivers.numel(), device=receivers.device) - first[ranked]
    return slots, degree


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
