"""Frozen configuration dataclasses and the published presets (docs/method.md).

Every config has ``from_dict`` (unknown keys are a :class:`ConfigError`) and
``to_dict`` (plain lists, safe for TOML/YAML and ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ase.data import atomic_numbers, chemical_symbols

from .errors import ConfigError

T = TypeVar("T", bound="Config")

__all__ = [
    "MODEL_PRESETS",
    "NOISE_PRESETS",
    "TRAIN_PRESETS",
    "Config",
    "ModelConfig",
    "NoiseConfig",
    "RunConfig",
    "TrainConfig",
    "read_settings",
    "species_from_symbols",
]



class Config:
    """Mixin: dict round trip with strict key checking."""

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(
                f"unknown {cls.__name__} keys {unknown}; allowed: {sorted(names)}"
            )
        kwargs = {}
        for key, value in data.items():
            if isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as exc:  # pragma: no cover - defensive
            raise ConfigError(f"invalid {cls.__name__}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self: T, **changes: Any) -> T:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def read_settings(path: str | os.PathLike[str], what: str = "file") -> dict[str, Any]:
    """The table of a TOML or YAML settings file (run files, protocols);
    ``what`` names the file in the missing-file error ("no such {what}").

    Raises:
        ConfigError: no such file, another suffix, invalid syntax, or not a table.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such {what}: {p}")
    text = p.read_text()
    try:
        if p.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"{p}: settings files must be .toml, .yaml or .yml")
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{p} is not valid {p.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a table/mapping of settings")
    return data


def species_from_symbols(symbols: str | list[str] | tuple[str | int, ...]) -> tuple[int, ...]:
    """Atomic numbers, sorted, from symbols ("H C N") or numbers."""
    items = symbols.replace(",", " ").split() if isinstance(symbols, str) else symbols
    out = set()
    for item in items:
        if isinstance(item, int):
            z = item
        elif item in atomic_numbers:
            z = atomic_numbers[item]
        else:
            raise ConfigError(f"unknown element {item!r}")
        if not 0 < z < len(chemical_symbols):
            raise ConfigError(f"unknown atomic number {z}")
        out.add(z)
    return tuple(sorted(out))


@dataclass(frozen=True)
class ModelConfig(Config):
    """The CACE-style denoiser (docs/method.md section 3).

    Attributes:
        species: atomic numbers the model knows, sorted.
        cutoff: neighbour cutoff rc, Å.
        n_bessel: number of Bessel radial functions.
        n_radial: radial functions after the per-l, per-channel mixing.
        n_embedding: element embedding size N_emb (N_emb^2 edge channels).
        separate_receiver: learn a separate receiver embedding.
        lmax: highest angular order of the Cartesian monomials.
        numax: body order of the invariants (1, 2 or 3).
        hidden: MLP hidden sizes of the readout.
        cutoff_p: exponent p of the polynomial cutoff.
        trainable_bessel: train the Bessel frequencies w_n.
        core_radius: radius r_c (Å) of a fixed, untrained core repulsion added
            to E~: every pair closer than r_c adds core_energy (r_c/r - 1)^2
            (zero, with zero slope, at r_c; unbounded as r -> 0). 0 switches it
            off (the published model). It keeps a relaxation from fusing atoms
            where the network extrapolates (docs/method.md, "core repulsion").
        core_energy: its strength A, eV.
    """

    species: tuple[int, ...]
    cutoff: float = 4.5
    n_bessel: int = 6
    n_radial: int = 8
    n_embedding: int = 3
    separate_receiver: bool = False
    lmax: int = 3
    numax: int = 3
    hidden: tuple[int, ...] = (24, 12)
    cutoff_p: int = 2
    trainable_bessel: bool = True
    core_radius: float = 0.0
    core_energy: float = 1.0

    def __post_init__(self) -> None:
        if not self.species:
            raise ConfigError("ModelConfig.species is empty")
        if tuple(sorted(set(self.species))) != tuple(self.species):
            raise ConfigError("ModelConfig.species must be sorted and unique")
        if self.cutoff <= 0:
            raise ConfigError("ModelConfig.cutoff must be positive")
        if self.numax not in (1, 2, 3):
            raise ConfigError("ModelConfig.numax must be 1, 2 or 3")
        if self.lmax < 0 or (self.numax == 3 and self.lmax < 2):
            raise ConfigError("ModelConfig.lmax must be >= 0 (>= 2 for numax 3)")
        if not 0 <= self.core_radius < self.cutoff:
            raise ConfigError("ModelConfig.core_radius must be in [0, cutoff)")
        if self.core_energy < 0:
            raise ConfigError("ModelConfig.core_energy must be >= 0")


@dataclass(frozen=True)
class NoiseConfig(Config):
    """The noising recipe (docs/method.md section 2).

    Attributes:
        kind: "molecule" (no cell, no stress) or "crystal" (strain + stress).
        levels: displacement noise levels s; 0 is the clean frame.
        displacement_scale: d = displacement_scale * s * (U - 0.5), Å.
        k: harmonic constant of F_H = -k d, eV/Å^2.
        repulsion_m: repulsion strength m, eV.
        repulsion_n: repulsion exponent n.
        repulsion_rc: repulsion cutoff rc, Å.
        label_noise: label noise amplitude; adds label_noise sqrt(s) (U - 0.5), eV/Å.
        strain_scales: isotropic strain scales a. Crystals: of the cell
            (with the stress label). Molecules (optional, default none): one
            drawn per frame scales the molecule about its centroid by 1 + a
            before the random displacement, and the force label restores the
            whole displacement (-k d); a < 0 compresses, which shows the model
            dense configurations with outward forces.
        cell_noise: random cell noise, in units of L = V0^(1/3).
        youngs_modulus: E of the isotropic elastic stress label, eV/Å^3.
        poisson_ratio: Poisson ratio nu.
        strain_mode: "grid" (every strain with every level) or "paired"
            (each level once, with a strain scale drawn per frame).
    """

    kind: str = "molecule"
    levels: tuple[float, ...] = (0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 32)
    displacement_scale: float = 0.1
    k: float = 1.0
    repulsion_m: float = 1.0
    repulsion_n: int = 2
    repulsion_rc: float = 0.7
    label_noise: float = 0.01
    strain_scales: tuple[float, ...] = ()
    cell_noise: float = 0.1
    youngs_modulus: float = 1.0
    poisson_ratio: float = 0.3
    strain_mode: str = "paired"

    def __post_init__(self) -> None:
        if self.kind not in ("molecule", "crystal"):
            raise ConfigError(f"NoiseConfig.kind must be 'molecule' or 'crystal', not {self.kind!r}")
        if not self.levels:
            raise ConfigError("NoiseConfig.levels is empty")
        if self.strain_mode not in ("grid", "paired"):
            raise ConfigError("NoiseConfig.strain_mode must be 'grid' or 'paired'")
        if self.kind == "crystal" and not self.strain_scales:
            raise ConfigError("a crystal NoiseConfig needs strain_scales")
        if not self.repulsion_rc > 0:
            raise ConfigError(f"NoiseConfig.repulsion_rc must be > 0 Å, not {self.repulsion_rc}")

    @property
    def lame(self) -> tuple[float, float]:
        """Lamé constants (lambda, mu) in eV/Å^3 from E and nu."""
        e, nu = self.youngs_modulus, self.poisson_ratio
        return e * nu / ((1 + nu) * (1 - 2 * nu)), e / (2 * (1 + nu))

    @property
    def frames_per_structure(self) -> int:
        if self.kind == "crystal" and self.strain_mode == "grid":
            return len(self.levels) * len(self.strain_scales)
        return len(self.levels)


@dataclass(frozen=True)
class TrainConfig(Config):
    """The training recipe (docs/method.md section 3).

    Attributes:
        epochs: number of epochs (fresh noise every epoch).
        batch_size: structures (noisy frames) per optimiser step.
        lr: Adam learning rate.
        amsgrad: use AMSGrad.
        warmup_epochs: linear learning-rate warm-up length.
        plateau_factor, plateau_patience: ReduceLROnPlateau on validation loss
            (``schedule = "plateau"``).
        schedule: learning rate after the warm-up: "plateau" (the published
            recipe: ReduceLROnPlateau) or "cosine" (per step from ``lr`` down to
            ``lr * lr_final`` at the last epoch of each restart, half a cosine).
        lr_final: the cosine schedule's last learning rate, as a fraction of ``lr``.
        ema_decay: EMA of weights used for validation and the saved model.
        grad_clip: gradient-norm clip.
        force_weight, stress_weight: loss = wF MSE(F) + wS MSE(stress, 9 comps).
        valid_fraction: fraction of *structures* held out for validation.
        seed: seeds the split, the noise and the initial weights.
        dtype: "float32" or "float64".
        checkpoint_every: also save a resumable state every this many steps.
        snapshot_every: also keep the EMA model of every this many epochs
            as ``snapshots/epoch_NNNN.pt`` in the run folder (0: only
            ``best.pt``). Validation loss is not the whole story for
            generation: snapshots let a run be compared by what it
            generates (docs/results.md, QM7b session 6).
        restarts: warm restarts (fresh optimiser/scheduler, weights kept).
        epoch_fraction: each epoch trains on this seeded random fraction of
            the noisy frames (a different subset every epoch); shorter epochs
            give finer-grained validation, scheduling and checkpoints on big
            sets.
        compile: train through the torch.compile'd edge-gradient path of
            :class:`ase_rm.potential.Potential` (same numbers to round-off,
            about 1.8x faster steps on CPU after a one-off compile of minutes).
        static_noise: draw each frame's noise once and reuse it every epoch
            (the published recipe) instead of fresh noise every epoch.
        energy_weight: weight wE of an energy-difference term:
            E~(noisy) - E~(equilibrium) per atom against the label's energy
            (k/2 |d|^2 plus the repulsion's, and for crystals the strain
            energy whose strain derivative the stress label is), whose
            gradient the force labels are. It teaches the depth of the basin,
            not only its slopes. Each batch then also holds its frames'
            equilibrium structures, each once (the diamond demo's epochs: about
            1.5x the time without it, where one reference per frame gave 1.8x).
        signal: generation signal scorer ("" off; "converged", "molecules",
            or "module:function": :mod:`ase_rm.training.signal`). With it, every
            ``signal_every`` epochs the EMA model generates
            ``signal_attempts`` structures for each of ``signal_compositions``
            validation compositions (never those matching ``signal_exclude``
            by heavy atoms); ``best.pt`` is then the model with the best
            score and ``best_loss.pt`` the one with the lowest validation loss.
    """

    epochs: int = 100
    batch_size: int = 20
    lr: float = 1e-2
    amsgrad: bool = True
    warmup_epochs: int = 10
    plateau_factor: float = 0.8
    plateau_patience: int = 10
    schedule: str = "plateau"
    lr_final: float = 0.01
    ema_decay: float = 0.99
    grad_clip: float = 10.0
    force_weight: float = 10000.0
    stress_weight: float = 0.0
    valid_fraction: float = 0.1
    seed: int = 0
    dtype: str = "float32"
    checkpoint_every: int = 200
    snapshot_every: int = 0
    restarts: int = 1
    epoch_fraction: float = 1.0
    compile: bool = False
    static_noise: bool = False
    energy_weight: float = 0.0
    signal: str = ""
    signal_every: int = 1
    signal_compositions: int = 6
    signal_attempts: int = 16
    signal_exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.signal_every < 1 or self.signal_compositions < 1 or self.signal_attempts < 1:
            raise ConfigError("TrainConfig.signal_every, signal_compositions and signal_attempts must be >= 1")
        if self.energy_weight < 0:
            raise ConfigError("TrainConfig.energy_weight must be >= 0")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("TrainConfig.epochs and batch_size must be >= 1")
        if self.checkpoint_every < 0 or self.snapshot_every < 0:
            raise ConfigError("TrainConfig.checkpoint_every and snapshot_every must be >= 0")
        if not 0 < self.epoch_fraction <= 1:
            raise ConfigError("TrainConfig.epoch_fraction must be in (0, 1]")
        if not 0 <= self.valid_fraction < 1:
            raise ConfigError("TrainConfig.valid_fraction must be in [0, 1)")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError("TrainConfig.dtype must be 'float32' or 'float64'")
        if self.schedule not in ("plateau", "cosine"):
            raise ConfigError(f"TrainConfig.schedule must be 'plateau' or 'cosine', not {self.schedule!r}")
        if not 0 <= self.lr_final <= 1:
            raise ConfigError("TrainConfig.lr_final must be in [0, 1]")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError("TrainConfig.ema_decay must be in [0, 1)")


CRYSTAL_STRAINS = tuple(round(-0.1 + 0.02 * i, 10) for i in range(11))

NOISE_PRESETS: dict[str, NoiseConfig] = {
    "molecule": NoiseConfig(),
    "crystal": NoiseConfig(
        kind="crystal",
        displacement_scale=0.05,
        repulsion_rc=0.75,
        label_noise=0.0,
        strain_scales=CRYSTAL_STRAINS,
    ),
}

MODEL_PRESETS: dict[str, ModelConfig] = {
    "qm7b": ModelConfig(species=species_from_symbols("H C N O S Cl")),
    "diamond": ModelConfig(species=(6,), n_embedding=1),
    "mp20": ModelConfig(
        species=tuple(range(1, 95)),
        cutoff=4.0,
        n_embedding=4,
        separate_receiver=True,
        lmax=2,
        numax=2,
        hidden=(32, 16),
    ),
}

TRAIN_PRESETS: dict[str, TrainConfig] = {
    "qm7b": TrainConfig(),
    "diamond": TrainConfig(epochs=400, batch_size=2, stress_weight=10000.0),
    "mp20": TrainConfig(
        epochs=70, restarts=5, batch_size=10, amsgrad=False,
        force_weight=1000.0, stress_weight=10000.0,
    ),
}

PRESET_NOISE: dict[str, str] = {"qm7b": "molecule", "diamond": "crystal", "mp20": "crystal"}


@dataclass(frozen=True)
class RunConfig(Config):
    """What ``ase-rm train CONFIG`` reads: data, preset and overrides.

    Attributes:
        data: path of the equilibrium structures (any format ase_rm.io reads).
        out: run directory (metrics, resumable state, checkpoints).
        preset: qm7b, diamond or mp20; model, noise and training defaults.
        valid_data: optional separate validation structures.
        model, noise, train: overrides of the preset's fields.
        species: element symbols to train on (default: the preset's species).
        device: torch device string.
        name: checkpoint name stored in the training summary.
        valid_limit: validate on a seeded subset of this many validation
            structures (validation every epoch stays cheap on big sets).
        init: start from this checkpoint's weights (a path, relative to the
            config file, or a shipped name such as "qm7b"): fine-tuning. The
            model config must be the checkpoint's.
        train_on_valid_rest: train also on the ``valid_data`` structures
            outside the seeded ``valid_limit`` subset (which still validates).
    """

    data: str
    out: str = "runs/rm"
    preset: str = "qm7b"
    valid_data: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    species: tuple[str, ...] | None = None
    device: str = "cpu"
    name: str = "rm"
    valid_limit: int | None = None
    init: str | None = None
    train_on_valid_rest: bool = False

    def __post_init__(self) -> None:
        if self.valid_limit is not None and self.valid_limit < 1:
            raise ConfigError("RunConfig.valid_limit must be >= 1")
        if self.train_on_valid_rest and (self.valid_data is None or self.valid_limit is None):
            raise ConfigError("RunConfig.train_on_valid_rest needs valid_data and valid_limit")
        if self.preset not in MODEL_PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; choose from {sorted(MODEL_PRESETS)}")

    def resolve(self) -> tuple[ModelConfig, NoiseConfig, TrainConfig]:
        """The preset with this run's overrides applied."""
        model = MODEL_PRESETS[self.preset].to_dict()
        if self.species is not None:
            model["species"] = list(species_from_symbols(list(self.species)))
        model.update(self.model)
        noise = NOISE_PRESETS[PRESET_NOISE[self.preset]].to_dict()
        noise.update(self.noise)
        train = TRAIN_PRESETS[self.preset].to_dict()
        train.update(self.train)
        return (
            ModelConfig.from_dict(model),
            NoiseConfig.from_dict(noise),
            TrainConfig.from_dict(train),
        )
