"""Cartesian angular basis and the rotation-invariant contractions (B features).

Monomials u_x^a u_y^b u_z^c with a+b+c <= lmax are ordered by total order
l = a+b+c, then lexicographically. Invariants (method.md section 3):

- nu = 1: A[000];
- nu = 2, L = 1..lmax: sum_{|v|=L} c(v) A_v^2, c(v) = L!/(vx! vy! vz!);
- nu = 3, keys (d1, d2, d3): sum c(v1) c(v2) c(v3) A_{v1+v2} A_{v1+v3} A_{v2+v3}.

The contractions are precomputed as index/coefficient tables so that the
features of a whole batch are two gathers and two matmuls.
"""

from __future__ import annotations

import itertools
from math import factorial

import torch
from torch import nn

Monomial = tuple[int, int, int]


def monomials(lmax: int) -> list[Monomial]:
    """All (a, b, c) with a+b+c <= lmax, ordered by l then descending a, b."""
    out: list[Monomial] = []
    for order in range(lmax + 1):
        for a in range(order, -1, -1):
            for b in range(order - a, -1, -1):
                out.append((a, b, order - a - b))
    return out


def multinomial(v: Monomial) -> int:
    return factorial(sum(v)) // (factorial(v[0]) * factorial(v[1]) * factorial(v[2]))


def nu3_keys(lmax: int) -> list[tuple[int, int, int]]:
    keys = []
    for d1 in range(1, lmax):
        for d2 in range(1, min(d1, lmax - d1) + 1):
            for d3 in range(0, min(d2, lmax - d1, lmax - d2) + 1):
                keys.append((d1, d2, d3))
    return keys


def _add(u: Monomial, v: Monomial) -> Monomial:
    return (u[0] + v[0], u[1] + v[1], u[2] + v[2])


class AngularBasis(nn.Module):
    """Unit vectors (n_edges, 3) -> monomials (n_edges, n_monomials)."""

    def __init__(self, lmax: int) -> None:
        super().__init__()
        self.lmax = lmax
        mono = torch.tensor(monomials(lmax), dtype=torch.long)
        self.register_buffer("powers", mono, persistent=False)

    def forward(self, unit: torch.Tensor) -> torch.Tensor:
        cols = [torch.ones_like(unit)]
        for _ in range(self.lmax):
            cols.append(cols[-1] * unit)
        pw = torch.stack(cols, dim=-1)  # (E, 3, lmax+1)
        p = self.powers
        return pw[:, 0, p[:, 0]] * pw[:, 1, p[:, 1]] * pw[:, 2, p[:, 2]]


class Invariants(nn.Module):
    """A (..., n_monomials) -> rotation invariants (..., n_invariants)."""

    def __init__(self, lmax: int, numax: int) -> None:
        super().__init__()
        mono = monomials(lmax)
        index = {m: k for k, m in enumerate(mono)}
        orders = [sum(m) for m in mono]
        n2 = lmax if numax >= 2 else 0
        p2 = torch.zeros(len(mono), n2, dtype=torch.float64)
        for k, m in enumerate(mono):
            if 1 <= orders[k] <= n2:
                p2[k, orders[k] - 1] = multinomial(m)
        triples, coeffs, key_of = [], [], []
        keys = nu3_keys(lmax) if numax >= 3 else []
        for kk, (d1, d2, d3) in enumerate(keys):
            for v1, v2, v3 in itertools.product(
                *[[m for m in mono if sum(m) == d] for d in (d1, d2, d3)]
            ):
                triples.append((index[_add(v1, v2)], index[_add(v1, v3)], index[_add(v2, v3)]))
                coeffs.append(multinomial(v1) * multinomial(v2) * multinomial(v3))
                key_of.append(kk)
        p3 = torch.zeros(len(triples), len(keys), dtype=torch.float64)
        for t, (c, kk) in enumerate(zip(coeffs, key_of)):
            p3[t, kk] = c
        self.register_buffer("p2", p2, persistent=False)
        self.register_buffer("p3", p3, persistent=False)
        self.register_buffer(
            "triples", torch.tensor(triples, dtype=torch.long).reshape(-1, 3), persistent=False
        )
        self.n_features = 1 + n2 + len(keys)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        feats = [a[..., :1]]
        if self.p2.shape[1]:
            feats.append((a * a) @ self.p2.to(a.dtype))
        if self.triples.shape[0]:
            t = self.triples
            prod = a[..., t[:, 0]] * a[..., t[:, 1]] * a[..., t[:, 2]]
            feats.append(prod @ self.p3.to(a.dtype))
        return torch.cat(feats, dim=-1)
