"""Cartesian angular basis and the rotation-invariant contractions (B features).

Monomials u_x^a u_y^b u_z^c with a+b+c <= lmax are ordered by total order
l = a+b+c, then lexicographically. Invariants (docs/method.md section 3):

- nu = 1: A[000];
- nu = 2, L = 1..lmax: sum_{|v|=L} c(v) A_v^2, c(v) = L!/(vx! vy! vz!);
- nu = 3, keys (d1, d2, d3): sum c(v1) c(v2) c(v3) A_{v1+v2} A_{v1+v3} A_{v2+v3}.

The contractions are precomputed as index/coefficient tables so that the
features of a whole batch are a few row gathers, row products and small
matmuls (see :class:`Invariants`).
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
    """Unit vectors (n_edges, 3) -> monomials (n_edges, n_monomials).

    Computed as the tensor powers u, u(x)u, u(x)u(x)u, ... and one matmul with a
    0/1 selection matrix (no gathers, whose backward is slow on CPU).
    """

    select: torch.Tensor

    def __init__(self, lmax: int) -> None:
        super().__init__()
        self.lmax = lmax
        mono = monomials(lmax)
        columns: list[Monomial] = []  # monomial of each tensor-power column
        for order in range(lmax + 1):
            for axes in itertools.product(range(3), repeat=order):
                columns.append((axes.count(0), axes.count(1), axes.count(2)))
        select = torch.zeros(len(columns), len(mono), dtype=torch.float64)
        for m, v in enumerate(mono):
            select[columns.index(v), m] = 1.0
        self.register_buffer("select", select, persistent=False)

    def forward(self, unit: torch.Tensor) -> torch.Tensor:
        n = unit.shape[0]
        powers = [torch.ones(n, 1, dtype=unit.dtype, device=unit.device)]
        for _ in range(self.lmax):
            powers.append((powers[-1][:, :, None] * unit[:, None, :]).flatten(1))
        return torch.cat(powers, dim=1) @ self.select


class Invariants(nn.Module):
    """Rotation invariants of monomial coefficients A, monomials leading or last.

    Features: nu = 1, then nu = 2 for L = 1..lmax, then the nu = 3 keys.
    nu = 3 is evaluated in two stages. For key (d1, d2, d3) one slot s (the
    cheapest) is summed first: with p, q the other two slots,
    H[vp, vq] = sum_{vs} c(vs) A_{vs+vp} A_{vs+vq}, then the key is
    sum_{vp, vq} c(vp) c(vq) A_{vp+vq} H[vp, vq]; rows (vp, vq) and (vq, vp) are
    merged when dp == dq. The products A_i A_j of stage one are shared by all
    keys and by nu = 2, which is one more row of the stage-one matmul. With
    monomials leading, (M, X) -> (F, X), every step is a row gather, an
    elementwise product of whole rows or a small matmul.
    """

    w1: torch.Tensor
    w2: torch.Tensor
    i1: torch.Tensor
    i2: torch.Tensor
    i3: torch.Tensor

    def __init__(self, lmax: int, numax: int) -> None:
        super().__init__()
        mono = monomials(lmax)
        n2 = lmax if numax >= 2 else 0
        self.keys = nu3_keys(lmax) if numax >= 3 else []
        squares = [k for k, m in enumerate(mono) if 1 <= sum(m) <= n2]
        pairs = {(k, k): col for col, k in enumerate(squares)}
        rows, key_weight, pair_weight = _nu3_tables(mono, self.keys, pairs)
        w1 = torch.zeros(n2 + len(rows), len(pairs), dtype=torch.float64)
        for col, k in enumerate(squares):
            w1[sum(mono[k]) - 1, col] = multinomial(mono[k])
        for (r, col), c in pair_weight.items():
            w1[n2 + r, col] = c
        w2 = torch.zeros(len(self.keys), len(rows), dtype=torch.float64)
        for (k, r), c in key_weight.items():
            w2[k, r] = c
        self.register_buffer("w1", w1, persistent=False)
        self.register_buffer("w2", w2, persistent=False)
        pair_index = torch.tensor(list(pairs), dtype=torch.long).reshape(-1, 2)
        self.register_buffer("i1", pair_index[:, 0].contiguous(), persistent=False)
        self.register_buffer("i2", pair_index[:, 1].contiguous(), persistent=False)
        self.register_buffer("i3", torch.tensor(rows, dtype=torch.long), persistent=False)
        self.n2 = n2
        self.body_orders = [1] + [2] * n2 + [3] * len(self.keys)
        self.n_features = len(self.body_orders)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """(..., n_monomials) -> (..., n_features)."""
        return self.leading(a.movedim(-1, 0)).movedim(0, -1)

    def leading(self, a: torch.Tensor) -> torch.Tensor:
        """(n_monomials, ...) -> (n_features, ...); fastest for contiguous a."""
        lead = a.shape[1:]
        a = a.reshape(a.shape[0], lead.numel())
        feats = [a[:1]]
        if self.i1.numel():
            h = self.w1 @ (a.index_select(0, self.i1) * a.index_select(0, self.i2))
            feats.append(h[: self.n2])
            if self.keys:
                feats.append(self.w2 @ (h[self.n2 :] * a.index_select(0, self.i3)))
        return torch.cat(feats, dim=0).reshape(self.n_features, *lead)


def _nu3_tables(
    mono: list[Monomial], keys: list[tuple[int, int, int]], pairs: dict[tuple[int, int], int]
) -> tuple[list[int], dict, dict]:
    """Tables of the two-stage nu = 3 contraction (see :class:`Invariants`).

    Adds the stage-one monomial pairs (i, j) to ``pairs`` ({pair: column}) and
    returns the monomial of the last factor of each stage-two row and the
    weights {(key, row): c(vp) c(vq)} and {(row, column): sum of c(vs)}.
    """
    index = {m: k for k, m in enumerate(mono)}
    of_order = {d: [m for m in mono if sum(m) == d] for d in range(max(map(sum, mono)) + 1)}
    rows: list[int] = []
    key_weight: dict[tuple[int, int], int] = {}
    pair_weight: dict[tuple[int, int], int] = {}
    for k, key in enumerate(keys):
        s, p, q = min(_slot_orders(key), key=lambda o: _stage_cost(o, of_order, index))
        for vp, vq in itertools.product(of_order[p], of_order[q]):
            if p == q and index[vq] < index[vp]:
                continue
            row = len(rows)
            rows.append(index[_add(vp, vq)])
            twice = 2 if p == q and vp != vq else 1
            key_weight[(k, row)] = twice * multinomial(vp) * multinomial(vq)
            for vs in of_order[s]:
                i, j = index[_add(vs, vp)], index[_add(vs, vq)]
                col = pairs.setdefault((min(i, j), max(i, j)), len(pairs))
                pair_weight[(row, col)] = pair_weight.get((row, col), 0) + multinomial(vs)
    return rows, key_weight, pair_weight


def _slot_orders(key: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """(summed slot, other slot, other slot) orders for each choice of slot."""
    d1, d2, d3 = key
    return [(d1, d2, d3), (d2, d1, d3), (d3, d1, d2)]


def _stage_cost(orders: tuple[int, int, int], of_order: dict, index: dict) -> int:
    """Number of distinct stage-one products plus stage-two rows."""
    s, p, q = orders
    rows = {tuple(sorted((vp, vq))) if p == q else (vp, vq)
            for vp in of_order[p] for vq in of_order[q]}
    products = {tuple(sorted((index[_add(vs, vp)], index[_add(vs, vq)])))
                for vs in of_order[s] for vp, vq in rows}
    return len(rows) + len(products)
