"""A validation signal that tracks generation: generate on validation compositions, score what comes out.

The validation loss says how well the network fits noisy frames; it does not
say how good the structures it generates are (docs/results.md: a later QM7b
snapshot with a lower validation loss generated worse molecules). This module
runs a small random structure search during training (a few compositions
drawn from the run's own *validation* structures, a fixed number of attempts,
the same seeded starts every time so that epochs are comparable) and hands
the results to a scorer.

A scorer is any callable ``scorer(frames, references) -> {"score": float, ...}``
(higher is better): ``frames`` are the generated structures (with
``rm_formula``, ``rm_converged`` and ``rm_energy`` in ``atoms.info``), and
``references`` maps each composition label to the validation structures of
that composition. The core ships one that needs nothing beyond ASE
(``"converged"``: the converged fraction, a crude signal); plugins register
better ones in the ``ase_rm.signals`` entry-point group (e.g. ``molecules``:
PoseBusters all-pass, from the molecules plugin). A scorer can also be named
``"module:function"``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms

from .. import keys
from ..errors import ConfigError

log = logging.getLogger(__name__)

SIGNAL_GROUP = "ase_rm.signals"
"""Entry-point group of generation scorers: name -> callable(frames, references) -> dict."""

Scorer = Callable[[Sequence[Atoms], Mapping[str, Sequence[Atoms]]], dict[str, float]]

SIGNAL_SEED = 20_240_515
"""Seed of the signal's starts and kicks: the same for every epoch and run."""


def converged_scorer(frames: Sequence[Atoms], references: Mapping[str, Sequence[Atoms]]) -> dict[str, float]:
    """The core's scorer: the fraction of attempts that converged (no plugin needed)."""
    del references
    n = len(frames)
    ok = sum(bool(a.info.get(keys.RM_CONVERGED, False)) for a in frames)
    return {"score": ok / n if n else float("nan"), "converged": ok / n if n else float("nan")}


def get_scorer(name: str) -> Scorer:
    """The scorer called ``name``: "converged", an ``ase_rm.signals`` entry point, or "module:function".

    Raises:
        ConfigError: no such scorer, or its plugin is not installed.
    """
    if name == "converged":
        return converged_scorer
    from importlib import import_module
    from importlib.metadata import entry_points

    try:
        if ":" in name:
            module, _, attr = name.partition(":")
            return getattr(import_module(module), attr)  # type: ignore[no-any-return]
        for ep in entry_points(group=SIGNAL_GROUP):
            if ep.name == name:
                return ep.load()  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"generation signal {name!r} cannot be loaded: {exc}") from exc
    known = ["converged", *sorted(ep.name for ep in entry_points(group=SIGNAL_GROUP))]
    raise ConfigError(f"unknown generation signal {name!r}; installed: {', '.join(known)} (or module:function)")


def heavy_atoms(formula: str) -> tuple[tuple[str, int], ...]:
    """The non-hydrogen element counts of a formula, sorted (for exclusion by heavy atoms)."""
    from ..rss.composition import parse_formula

    return tuple(sorted((s, n) for s, n in parse_formula(formula) if s != "H"))


@dataclass(frozen=True)
class SignalSpec:
    """What the signal generates.

    Attributes:
        scorer: scorer name (see :func:`get_scorer`).
        compositions: how many validation compositions.
        attempts: attempts per composition.
        exclude: formulas whose compositions are never used (matched on their
            heavy atoms: "C5ON" excludes every C5H?NO), e.g. a test set's.
        seed: draws the compositions, the starts and the kicks.
    """

    scorer: str
    compositions: int = 6
    attempts: int = 16
    exclude: tuple[str, ...] = ()
    seed: int = SIGNAL_SEED


def choose_compositions(structures: Sequence[Atoms], spec: SignalSpec) -> dict[str, list[Atoms]]:
    """Seeded choice of ``spec.compositions`` distinct formulas among ``structures``
    (none matching ``spec.exclude`` by heavy atoms), each with its structures."""
    banned = {heavy_atoms(f) for f in spec.exclude}
    by_formula: dict[str, list[Atoms]] = {}
    for atoms in structures:
        formula = atoms.get_chemical_formula(mode="hill")
        if heavy_atoms(formula) not in banned:
            by_formula.setdefault(formula, []).append(atoms)
    names = sorted(by_formula)
    if not names:
        raise ConfigError("no validation composition is left for the generation signal (all excluded?)")
    rng = np.random.default_rng([spec.seed, 31337])
    chosen = sorted(rng.choice(len(names), size=min(spec.compositions, len(names)), replace=False).tolist())
    return {names[k]: by_formula[names[k]] for k in chosen}


class GenerationSignal:
    """Generate on validation compositions and score the results.

    Args:
        spec: what to generate and how to score it.
        valid_structures: the run's validation structures.
        element_volumes: ``{Z: V_Z}`` for crystal starts (the training set's fit).
    """

    def __init__(self, spec: SignalSpec, valid_structures: Sequence[Atoms],
                 element_volumes: Mapping[int, float] | None = None) -> None:
        from ..rss import format_formula, get_protocol, parse_formula

        if spec.compositions < 1 or spec.attempts < 1:
            raise ConfigError("the generation signal needs >= 1 composition and >= 1 attempt")
        self.spec, self.scorer = spec, get_scorer(spec.scorer)
        self.references = choose_compositions(valid_structures, spec)
        self.compositions = [parse_formula(f) for f in self.references]
        # the references by the label (rm_formula) the search gives each composition
        self.labelled = {format_formula(c): refs for c, refs in zip(self.compositions, self.references.values(),
                                                                     strict=True)}
        periodic = all(a.pbc.all() for refs in self.references.values() for a in refs)
        self.protocol = get_protocol("crystal" if periodic else "molecule")
        self.element_volumes: dict[int | str, float] = {k: v for k, v in (element_volumes or {}).items()}

    def __call__(self, model: Any) -> dict[str, float]:
        """Score an energy network (a Denoiser): ``{"gen_score": ..., "gen_<key>": ..., "gen_seconds": ...}``."""
        from ..potential import Potential
        from ..rss import attempts_for, search

        start = time.perf_counter()
        attempts = attempts_for(self.compositions, self.protocol, self.spec.attempts)
        was_training = model.training
        model.eval()
        try:
            frames = search(Potential(model), attempts, self.protocol, seed=self.spec.seed,
                            element_volumes=self.element_volumes or None)
        finally:
            model.train(was_training)
        scores = self.scorer(frames, self.labelled)
        if "score" not in scores:
            raise ConfigError(f"generation signal {self.spec.scorer!r} returned no 'score'")
        out = {f"gen_{k}": float(v) for k, v in scores.items()}
        out["gen_seconds"] = time.perf_counter() - start
        return out

