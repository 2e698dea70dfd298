"""The learned element embeddings of a model, PCA to 2-D, coloured by periodic-table group (docs/method.md section 5).

The native denoiser learns a sender embedding theta_s[Z] (the neighbour's
element, weighting each edge) and, with ``separate_receiver`` (the MP-20
preset), a receiver embedding theta_r[Z] (the central atom's element). The
paper's figure: the first two principal components of the MP-20 model's
embeddings group elements by periodic-table group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import chemical_symbols

from ase_rm import RMCalculator, RMError, read_checkpoint

from .convert import ModelLike

WHICH = ("sender", "receiver", "both")
"""Embedding tables: sender, receiver, or both side by side."""

LANTHANIDES = range(57, 72)
"""La-Lu: one colour of their own (not a group number)."""
ACTINIDES = range(89, 104)
"""Ac-Lr: one colour of their own."""

_PERIOD_STARTS = (1, 3, 11, 19, 37, 55, 87, 119)
"""Atomic number of the first element of each period."""


def periodic_group(z: int) -> str:
    """Periodic-table group of element ``z`` as a label: "1".."18", or "Ln" / "An" for the f-block rows.

    Raises:
        RMError: ``z`` outside 1..118.
    """
    if not 1 <= z <= 118:
        raise RMError(f"no element with atomic number {z}")
    if z in LANTHANIDES:
        return "Ln"
    if z in ACTINIDES:
        return "An"
    if z == 1:
        return "1"
    if z == 2:
        return "18"
    period = max(p for p, start in enumerate(_PERIOD_STARTS) if start <= z)
    k = z - _PERIOD_STARTS[period]  # position in the period, 0-based
    length = _PERIOD_STARTS[period + 1] - _PERIOD_STARTS[period]
    if length == 8:  # periods 2 and 3: groups 1, 2, 13..18
        return str(k + 1 if k < 2 else k + 11)
    if length == 18:  # periods 4 and 5
        return str(k + 1)
    # periods 6 and 7 (32 long): s-block, 15 f-block (handled above), then groups 4..18
    return str(k + 1 if k < 2 else k - 13)


@dataclass(frozen=True)
class ElementEmbeddings:
    """Embedding rows of the elements shown.

    Attributes:
        numbers: (n,) atomic numbers.
        table: (n, d) embedding vectors (sender, receiver or both concatenated).
        which: "sender", "receiver" or "both".
    """

    numbers: tuple[int, ...]
    table: np.ndarray
    which: str

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.numbers]


def _weights(model: ModelLike) -> tuple[dict[str, Any], list[int], dict[int, float]]:
    """(state dict, species, volume_fit) of a checkpoint path, shipped name or RMCalculator."""
    if isinstance(model, RMCalculator):
        state, meta, species = model.potential.model.state_dict(), model.metadata, model.species
    else:
        meta = read_checkpoint(model)
        state, species = meta["state_dict"], meta["species"]
    return state, [int(z) for z in species], {int(k): float(v) for k, v in (meta.get("volume_fit") or {}).items()}


def element_embeddings(model: ModelLike, which: str = "sender", all_elements: bool = False) -> ElementEmbeddings:
    """The element embedding table(s) of a native ase_rm model.

    Args:
        model: checkpoint path, shipped name or RMCalculator.
        which: "sender" (default), "receiver" (models with a separate receiver
            embedding, e.g. the MP-20 preset) or "both" (sender and receiver side by side).
        all_elements: every species of the model; by default only the elements
            of the training set (the checkpoint's fitted element volumes) when it
            records them: the others were never trained and keep random weights.

    Raises:
        RMError: an unknown ``which``, a model without that table (e.g. a matgl
            architecture, or "receiver" without a separate receiver embedding).
    """
    if which not in WHICH:
        raise RMError(f"which must be one of {', '.join(WHICH)}, not {which!r}")
    state, species, volume_fit = _weights(model)
    names = {"sender": ["sender_embedding"], "receiver": ["receiver_embedding"],
             "both": ["sender_embedding", "receiver_embedding"]}[which]
    missing = [n for n in names if n not in state]
    if missing:
        what = "separate receiver embedding" if missing == ["receiver_embedding"] else "element embedding table"
        raise RMError(f"this model has no {what} ({', '.join(missing)}); try --which sender")
    table = np.concatenate([state[n].detach().cpu().double().numpy() for n in names], axis=1)
    if table.shape[0] != len(species):
        raise RMError(f"embedding table has {table.shape[0]} rows for {len(species)} species")
    keep = [k for k, z in enumerate(species) if all_elements or not volume_fit or z in volume_fit]
    return ElementEmbeddings(tuple(species[k] for k in keep), table[keep], which)


@dataclass(frozen=True)
class PCAResult:
    """Principal components of rows X (n, d).

    Attributes:
        scores: (n, k) coordinates of each row along the components.
        components: (k, d) unit vectors, by decreasing variance; each one's
            largest-magnitude entry is positive (a deterministic sign).
        explained_variance_ratio: (k,) share of the total variance.
        mean: (d,) the row mean that was subtracted.
    """

    scores: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray


def pca(x: np.ndarray, n_components: int = 2) -> PCAResult:
    """PCA by SVD of the centred rows.

    Args:
        x: (n, d) data, n >= 2.
        n_components: k <= min(n, d).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise RMError(f"PCA needs a 2-D array of at least 2 rows, got shape {x.shape}")
    if not 1 <= n_components <= min(x.shape):
        raise RMError(f"{n_components} components asked of {x.shape[0]} rows of dimension {x.shape[1]}")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    comps = vt[:n_components]
    signs = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    variance = s**2
    total = variance.sum()
    ratio = variance[:n_components] / total if total > 0 else np.zeros(n_components)
    return PCAResult((x - mean) @ comps.T, comps, ratio, mean)


def embedding_rows(emb: ElementEmbeddings, result: PCAResult) -> list[dict[str, Any]]:
    """One row per element: symbol, Z, group, pc1, pc2, ..."""
    rows = []
    for k, z in enumerate(emb.numbers):
        row: dict[str, Any] = {"symbol": chemical_symbols[z], "Z": z, "group": periodic_group(z)}
        row.update({f"pc{c + 1}": float(result.scores[k, c]) for c in range(result.scores.shape[1])})
        rows.append(row)
    return rows


def _group_colour(label: str) -> Any:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    index = {"Ln": 18, "An": 19}.get(label)
    return cmap(int(label) - 1 if index is None else index)


def _block_marker(label: str) -> str:
    """s block: circle, d block: triangle, p block: square, f block: diamond."""
    if not label.isdigit():
        return "D"
    group = int(label)
    return "o" if group <= 2 else "^" if group <= 12 else "s"


def plot_embeddings(emb: ElementEmbeddings, result: PCAResult, path: str | os.PathLike[str]) -> Path:
    """Scatter of the first two components, element symbols as labels, coloured by group (marker: block)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if result.scores.shape[1] < 2:
        raise RMError("the plot needs two principal components")
    fig = Figure(figsize=(8.0, 6.0), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    groups = [periodic_group(z) for z in emb.numbers]
    order = sorted(set(groups), key=lambda g: int(g) if g.isdigit() else {"Ln": 19, "An": 20}[g])
    for g in order:
        idx = [k for k, gk in enumerate(groups) if gk == g]
        name = f"group {g}" if g.isdigit() else {"Ln": "lanthanides", "An": "actinides"}[g]
        ax.scatter(result.scores[idx, 0], result.scores[idx, 1], s=40, color=_group_colour(g), label=name,
                   marker=_block_marker(g), edgecolors="k", linewidths=0.3)
    for k, symbol in enumerate(emb.symbols):
        ax.annotate(symbol, (result.scores[k, 0], result.scores[k, 1]), xytext=(3, 2), textcoords="offset points",
                    fontsize=7)
    ratio = result.explained_variance_ratio
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f} % of variance)")
    ax.set_title(f"element embeddings ({emb.which}), {len(emb.numbers)} elements")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def embedding_pca(
    model: ModelLike, out: str | os.PathLike[str] | None = None, which: str = "sender", all_elements: bool = False,
) -> tuple[ElementEmbeddings, PCAResult]:
    """Element embeddings of ``model``, their 2-component PCA, and (if ``out``) the plot.

    Raises:
        RMError: fewer than 3 elements, or a 1-dimensional embedding (nothing to project).
    """
    emb = element_embeddings(model, which, all_elements)
    if len(emb.numbers) < 3 or emb.table.shape[1] < 2:
        raise RMError(
            f"a 2-D PCA needs at least 3 elements and 2 embedding dimensions; this model has "
            f"{len(emb.numbers)} element(s) of dimension {emb.table.shape[1]}"
        )
    result = pca(emb.table, 2)
    if out is not None:
        plot_embeddings(emb, result, out)
    return emb, result
