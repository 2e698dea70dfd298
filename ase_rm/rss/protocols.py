"""The published generation protocols (docs/method.md section 4) as plain data.

A :class:`Protocol` is a :class:`StartSpec` (how to draw a random start, run
by :func:`random_start` with the samplers of :mod:`ase_rm.rss.starts`) plus a
list of relaxation :class:`Stage` s that the batched FIRE engine executes in
order. Specs and stages hold numbers only (no optimiser objects), so
protocols round-trip through ``to_dict``/``from_dict`` into YAML and
checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ..config import Config, read_settings
from ..errors import ConfigError
from .starts import (
    CompositionLike,
    StartError,
    crystal_start,
    element_symbol,
    molecule_start,
    numbers_of,
    target_volume,
)

CELL_MODES = (None, "constant_volume", "full", "hydrostatic")
"""Stage cell modes: positions only, cell shape at fixed volume, full cell, isotropic cell."""

ACCEPT_RULES = ("always", "lower")
"""Stage.accept: keep every stage's result, or only one that is no worse (basin hopping)."""

DIAMOND_SIZES = (2, 4, 6, 8, 12)
"""Numbers of carbon atoms searched in the diamond one-shot experiment."""


@dataclass(frozen=True)
class StartSpec(Config):
    """How to draw a random start.

    Attributes:
        kind: "molecule" (non-periodic box) or "crystal" (periodic cell).
        box: molecule box edge lengths, Å.
        min_distance: default minimum distance between any two atoms, Å.
        pair_distances: ``(symbol, symbol, distance)`` overrides, Å.
        volume_per_atom: crystal volume per atom, Å^3 (None: see volume_range).
        volume_range: ``(low, high)`` volume per atom, Å^3, drawn uniformly.
            With neither, per-element volumes (from the checkpoint) are needed.
        shear: cell entries are perturbed by ``(U - 0.5) * shear * L``.
        min_angle: smallest accepted angle between cell vectors, degrees.
        min_width: smallest accepted cell width (plane spacing), in units of L.
        tries_per_atom: candidate positions drawn per atom before a restart.
        restarts: fresh structures (and cells) tried before giving up.
    """

    kind: str = "molecule"
    box: tuple[float, float, float] = (10.0, 5.0, 5.0)
    min_distance: float = 0.7
    pair_distances: tuple[tuple[str, str, float], ...] = ()
    volume_per_atom: float | None = None
    volume_range: tuple[float, float] | None = None
    shear: float = 0.5
    min_angle: float = 30.0
    min_width: float = 0.4
    tries_per_atom: int = 1000
    restarts: int = 20

    def __post_init__(self) -> None:
        if self.kind not in ("molecule", "crystal"):
            raise ConfigError(f"StartSpec.kind must be 'molecule' or 'crystal', not {self.kind!r}")
        object.__setattr__(self, "box", tuple(float(x) for x in self.box))
        triples = tuple((element_symbol(a), element_symbol(b), float(d)) for a, b, d in self.pair_distances)
        object.__setattr__(self, "pair_distances", triples)
        if len(self.box) != 3 or min(self.box) <= 0:
            raise ConfigError(f"StartSpec.box must be three positive lengths, not {self.box}")
        if self.min_distance < 0 or any(d < 0 for *_, d in triples):
            raise ConfigError("StartSpec distances must be >= 0")
        if self.volume_range is not None:
            object.__setattr__(self, "volume_range", tuple(float(x) for x in self.volume_range))
            lo, hi = self.volume_range  # type: ignore[misc]
            if not 0 < lo <= hi:
                raise ConfigError(f"StartSpec.volume_range must be 0 < low <= high, not {self.volume_range}")
        if self.volume_per_atom is not None and self.volume_per_atom <= 0:
            raise ConfigError("StartSpec.volume_per_atom must be positive")
        if self.volume_per_atom is not None and self.volume_range is not None:
            raise ConfigError("give StartSpec.volume_per_atom or volume_range, not both")
        if not 0 <= self.shear < 1 or not 0 < self.min_angle < 90 or self.min_width < 0:
            raise ConfigError("StartSpec needs 0 <= shear < 1, 0 < min_angle < 90, min_width >= 0")
        if self.tries_per_atom < 1 or self.restarts < 1:
            raise ConfigError("StartSpec.tries_per_atom and restarts must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["pair_distances"] = [list(t) for t in self.pair_distances]
        return out


@dataclass(frozen=True)
class Stage(Config):
    """One FIRE relaxation stage.

    Attributes:
        cell: None (positions only; "none" or "positions" in TOML),
            "constant_volume", "full" (variable cell, FrechetCellFilter-like)
            or "hydrostatic".
        fmax: convergence threshold on the largest force (cell forces
            included), eV/Å.
        max_steps: FIRE steps allowed in this stage.
        maxstep: FIRE cap on the norm of the whole step vector, Å (ASE default 0.2).
        dt: FIRE initial time step, ASE time units (ASE default 0.1).
        kick: if set, before the stage every position component moves by
            U(-kick, kick), Å.
        accept: "always" (the stage's result replaces the structure) or
            "lower" (zero-temperature basin hopping: the result replaces the
            structure unless the structure before the stage had converged
            and the result did not, or has a higher E~; a rejected stage
            still counts its steps and is marked R in ``rm_stage_converged``).
        name: label for logs and results.
    """

    cell: str | None = None
    fmax: float = 0.05
    max_steps: int = 500
    maxstep: float = 0.2
    dt: float = 0.1
    kick: float | None = None
    accept: str = "always"
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.cell, str) and self.cell.lower() in ("none", "positions"):
            object.__setattr__(self, "cell", None)  # TOML has no null
        if self.cell not in CELL_MODES:
            raise ConfigError(f"Stage.cell must be one of {list(CELL_MODES)}, not {self.cell!r}")
        if not self.fmax > 0 or self.max_steps < 0 or not self.maxstep > 0 or not self.dt > 0:
            raise ConfigError("Stage needs fmax > 0, max_steps >= 0, maxstep > 0 and dt > 0")
        if self.kick is not None and self.kick < 0:
            raise ConfigError("Stage.kick must be >= 0 (or None)")
        if self.accept not in ACCEPT_RULES:
            raise ConfigError(f"Stage.accept must be one of {list(ACCEPT_RULES)}, not {self.accept!r}")


@dataclass(frozen=True)
class Engine(Config):
    """How the relaxation pools run: the ``[engine]`` table of a protocol file.

    Attributes:
        dtype: model precision, "float32" (the default) or "float64"
            (bit-for-bit reproducible across batch layouts, about 2x slower).
        compile: run the model through ``torch.compile`` (about 1.6x faster
            steps; the first run on a machine spends minutes compiling).
    """

    dtype: str = "float32"
    compile: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"Engine.dtype must be 'float32' or 'float64', not {self.dtype!r}")
        if not isinstance(self.compile, bool):
            raise ConfigError(f"Engine.compile must be true or false, not {self.compile!r}")


@dataclass(frozen=True)
class Protocol(Config):
    """A random-structure-search protocol: how to start and how to relax.

    Attributes:
        name: preset name.
        start: the random start.
        stages: relaxation stages, run in order on the same structures.
        attempts: random starts per composition.
        description: one line for ``ase-rm info`` and logs.
        engine: how the pools run (precision, torch.compile); not part of
            what is searched.
    """

    name: str
    start: StartSpec
    stages: tuple[Stage, ...]
    attempts: int = 32
    description: str = ""
    engine: Engine = Engine()

    def __post_init__(self) -> None:
        if isinstance(self.start, dict):
            object.__setattr__(self, "start", StartSpec.from_dict(self.start))
        if isinstance(self.engine, dict):
            object.__setattr__(self, "engine", Engine.from_dict(self.engine))
        if not isinstance(self.engine, Engine):
            raise ConfigError("Protocol.engine must be an Engine (a table with dtype, compile)")
        stages = tuple(Stage.from_dict(s) if isinstance(s, dict) else s for s in self.stages)
        object.__setattr__(self, "stages", stages)
        if not isinstance(self.start, StartSpec) or not all(isinstance(s, Stage) for s in stages):
            raise ConfigError("Protocol.start must be a StartSpec and stages Stage objects")
        if not stages:
            raise ConfigError("Protocol.stages is empty")
        if self.attempts < 1:
            raise ConfigError("Protocol.attempts must be >= 1")
        if self.start.kind == "molecule" and any(s.cell is not None for s in stages):
            raise ConfigError("a molecule protocol cannot relax the cell")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["start"] = self.start.to_dict()
        out["stages"] = [s.to_dict() for s in self.stages]
        out["engine"] = self.engine.to_dict()
        return out


_MOLECULE = Protocol(
    name="molecule",
    start=StartSpec(kind="molecule", box=(10.0, 5.0, 5.0), min_distance=0.7),
    stages=(
        Stage(fmax=1e-3, max_steps=500, name="relax"),
        Stage(fmax=2e-4, max_steps=1000, kick=0.75, name="kick-relax"),
    ),
    attempts=32,
    description="QM7b: 10x5x5 Å box, FIRE to 1e-3, kick 0.75 Å, FIRE to 2e-4",
)

_MOLECULE_HOP = Protocol(
    name="molecule-hop",
    start=_MOLECULE.start,
    stages=(
        *_MOLECULE.stages,
        *(Stage(fmax=2e-4, max_steps=1000, kick=0.75, accept="lower", name=f"hop-{k}") for k in range(1, 5)),
    ),
    attempts=32,
    description="QM7b: the molecule protocol, then 4 kick-relax stages kept only if lower in E~ (basin hopping)",
)

PROTOCOLS: dict[str, Protocol] = {
    "molecule": _MOLECULE,
    "molecule-hop": _MOLECULE_HOP,
    "diamond": Protocol(
        name="diamond",
        start=StartSpec(kind="crystal", min_distance=0.7, volume_range=(3.8, 5.6), shear=0.5),
        stages=(Stage(cell="constant_volume", fmax=5e-4, max_steps=500, maxstep=0.01, name="relax"),),
        attempts=32,
        description="diamond one-shot: 3.8-5.6 Å^3/atom, sheared cell, constant-volume FIRE to 5e-4",
    ),
    "crystal": Protocol(
        name="crystal",
        start=StartSpec(kind="crystal", min_distance=1.0, shear=0.5),
        stages=(
            Stage(cell="constant_volume", fmax=0.05, max_steps=100, name="constant-volume"),
            Stage(cell="full", fmax=0.01, max_steps=2000, name="variable-cell"),
        ),
        attempts=30,
        description="MP-20: fitted volume, sheared cell, constant-volume FIRE then variable cell",
    ),
}
"""Published presets (the diamond attempt count is not stated in docs/method.md: 32 chosen), and
``molecule-hop``: the published molecule protocol plus four zero-temperature basin hops
(measured in docs/results.md)."""


def start_volume(
    spec: StartSpec,
    numbers: np.ndarray,
    rng: np.random.Generator,
    element_volumes: Mapping[int | str, float] | None = None,
) -> float:
    """The cell volume, Å^3, of a crystal start as ``spec`` asks for it: its
    ``volume_per_atom`` or ``volume_range`` (drawn from ``rng``), or else the
    per-element volumes V = sum_Z n_Z V_Z.

    Raises:
        StartError: the spec gives no volume and there are no per-element volumes.
    """
    if spec.volume_per_atom is None and spec.volume_range is None and element_volumes is None:
        raise StartError("this crystal start needs per-element volumes (checkpoint volume_fit) or a volume")
    return target_volume(
        numbers,
        element_volumes=element_volumes if spec.volume_per_atom is None and spec.volume_range is None else None,
        volume_per_atom=spec.volume_per_atom,
        volume_range=spec.volume_range,
        rng=rng,
    )


def random_start(
    spec: StartSpec,
    composition: CompositionLike,
    rng: np.random.Generator,
    element_volumes: Mapping[int | str, float] | None = None,
) -> Atoms:
    """One random start as ``spec`` describes it.

    Args:
        spec: the start description (a protocol's ``start``).
        composition: formula, composition or atomic numbers.
        rng: the only source of randomness.
        element_volumes: ``{Z: V_Z}`` Å^3, used by crystal specs that give
            neither ``volume_per_atom`` nor ``volume_range``.
    """
    common = dict(
        min_distance=spec.min_distance,
        pair_distances=spec.pair_distances,
        tries_per_atom=spec.tries_per_atom,
        restarts=spec.restarts,
    )
    if spec.kind == "molecule":
        return molecule_start(composition, rng, box=spec.box, **common)  # type: ignore[arg-type]
    numbers = numbers_of(composition)
    volume = start_volume(spec, numbers, rng, element_volumes)
    return crystal_start(
        numbers,
        rng,
        volume,
        shear=spec.shear,
        min_angle=spec.min_angle,
        min_width=spec.min_width,
        **common,  # type: ignore[arg-type]
    )


def get_protocol(name: str | os.PathLike[str]) -> Protocol:
    """A preset by name, or a protocol file, with a clear error listing the choices.

    A protocol file (TOML/YAML) has a ``start`` table, a ``stages`` list of
    tables, ``attempts``, and an optional ``[engine]`` table (:class:`Engine`);
    ``name`` defaults to the file name. With ``extends = "PRESET"`` it starts
    from that preset and changes only what it gives (tables are merged key by
    key, ``stages`` replaced whole), e.g. the molecule preset in float64::

        extends = "molecule"
        [engine]
        dtype = "float64"
    """
    if str(name) in PROTOCOLS:
        return PROTOCOLS[str(name)]
    path = Path(name)
    if path.suffix.lower() not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"unknown protocol {str(name)!r}; choose from {sorted(PROTOCOLS)} or give a .toml/.yaml file")
    data = read_settings(path)
    data.setdefault("name", path.stem)
    try:
        return Protocol.from_dict(_extended(data))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _extended(data: dict[str, Any]) -> dict[str, Any]:
    """A protocol file's table over the preset it ``extends`` (if any)."""
    base = data.pop("extends", None)
    if base is None:
        return data
    if base not in PROTOCOLS:
        raise ConfigError(f"extends must name a preset ({sorted(PROTOCOLS)}), not {base!r}")
    merged = PROTOCOLS[base].to_dict()
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    if "description" not in data:
        merged["description"] = f"{PROTOCOLS[base].description} ({data['name']})"
    return merged
