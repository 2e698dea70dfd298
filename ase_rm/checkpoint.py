"""One self-describing checkpoint format, loadable with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain types and tensors::

    format_version, package_version, model_config, state_dict, species,
    cutoff, noise_config, train_config, training_summary, volume_fit,
    architecture

``architecture`` names the network: "cace" (the native :class:`Denoiser`;
also what a checkpoint without the key holds) or the name of an entry point
in the ``ase_rm.models`` group, which points to a plugin's config class (a
:class:`~ase_rm.config.Config` with ``build(generator, dtype) -> nn.Module``).
The core never imports a plugin; it finds one through that entry point.

Shipped checkpoints live in ``ase_rm/pretrained/NAME.pt``; a checkpoint may
be named by path or by that NAME.
"""

from __future__ import annotations

import os
import tempfile
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import ModelConfig
from .errors import CheckpointError, ConfigError, RMError
from .model import Denoiser
from .potential import Potential

FORMAT_VERSION = 1
REQUIRED = ("format_version", "model_config", "state_dict", "species", "cutoff")
NATIVE_ARCHITECTURE = "cace"
MODEL_ENTRY_POINTS = "ase_rm.models"
"""Entry-point group of plugin architectures: name -> config class with ``from_dict`` and ``build``."""

__all__ = [
    "FORMAT_VERSION",
    "atomic_save",
    "load_potential",
    "make_checkpoint",
    "model_from_checkpoint",
    "read_checkpoint",
    "resolve",
    "shipped_names",
]



def architecture_of(config_or_model: Any) -> str:
    """The architecture name of a model config or model ("cace" for the native one)."""
    return str(getattr(config_or_model, "architecture", NATIVE_ARCHITECTURE))


def config_class(architecture: str) -> Any:
    """The config class of an architecture: :class:`ModelConfig`, or a plugin's via its entry point."""
    if architecture == NATIVE_ARCHITECTURE:
        return ModelConfig
    found = metadata.entry_points(group=MODEL_ENTRY_POINTS, name=architecture)
    if not found:
        raise CheckpointError(
            f"model architecture {architecture!r} needs a plugin that provides it "
            f"(no {MODEL_ENTRY_POINTS!r} entry point of that name is installed)"
        )
    return next(iter(found)).load()


def build_model(config: Any, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32) -> nn.Module:
    """A fresh energy-only network of ``config``: the native :class:`Denoiser` for a
    :class:`ModelConfig`, otherwise ``config.build(generator, dtype)`` (a plugin's config)."""
    if isinstance(config, ModelConfig):
        return Denoiser(config, generator, dtype)
    return config.build(generator, dtype)  # type: ignore[no-any-return]


def package_version() -> str:
    from . import __version__

    return __version__


def shipped_names() -> list[str]:
    """Names of the checkpoints that ship inside the package."""
    folder = resources.files("ase_rm") / "pretrained"
    return sorted(p.name[:-3] for p in folder.iterdir() if p.name.endswith(".pt"))


def resolve(path_or_name: str | os.PathLike[str]) -> Path:
    """The file of a checkpoint given by path or by shipped name."""
    p = Path(path_or_name)
    if p.is_file():
        return p
    if p.is_dir():
        hint = (f"; its checkpoint is {p / 'best.pt'}" if (p / "best.pt").is_file()
                else "; give the checkpoint file inside it (a training run writes best.pt)")
        raise CheckpointError(f"{str(p)!r} is a folder, not a checkpoint file{hint}")
    name = str(path_or_name)
    if name in shipped_names():
        return Path(str(resources.files("ase_rm") / "pretrained" / f"{name}.pt"))
    raise CheckpointError(
        f"no checkpoint file {str(p)!r} and no shipped model of that name "
        f"(shipped: {', '.join(shipped_names()) or 'none'})"
    )


def make_checkpoint(
    model: Denoiser,
    noise_config: dict[str, Any] | None = None,
    train_config: dict[str, Any] | None = None,
    training_summary: dict[str, Any] | None = None,
    volume_fit: dict[int, float] | None = None,
) -> dict[str, Any]:
    """The checkpoint dict of a model (weights copied to CPU)."""
    cfg = model.config
    return {
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "model_config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "species": list(cfg.species),
        "cutoff": float(cfg.cutoff),
        "noise_config": dict(noise_config or {}),
        "train_config": dict(train_config or {}),
        "training_summary": dict(training_summary or {}),
        "volume_fit": {int(k): float(v) for k, v in (volume_fit or {}).items()},
        "architecture": architecture_of(model),
    }


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """torch.save to a temporary file, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_failure(exc: Exception) -> str:
    """What a failed safe ``torch.load`` means, in our words."""
    import pickle

    if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        return ("it holds Python objects beyond tensors and plain data, which safe loading refuses; ase_rm "
                "checkpoints never contain such objects, so it was written by another tool or altered "
                "(loading it unsafely could run arbitrary code)")
    if isinstance(exc, OSError):
        return f"it cannot be read ({exc.strerror or type(exc).__name__})"
    return ("the file is damaged, truncated or not a torch checkpoint at all "
            f"({type(exc).__name__} in safe loading); save or copy it again")


def read_checkpoint(path_or_name: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a checkpoint dict (weights_only=True, on CPU)."""
    path = resolve(path_or_name)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's own text may advise unsafe loading: never repeated to the user
        raise CheckpointError(f"{path} is not a readable ase_rm checkpoint: {_load_failure(exc)}") from exc
    missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
    if missing:
        raise CheckpointError(f"{path} is not an ase_rm checkpoint (missing keys {missing})")
    version = data["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version}; this ase_rm reads version {FORMAT_VERSION}"
        )
    return data


def _model_config(data: dict[str, Any]) -> Any:
    """The model config of a checkpoint dict, of its architecture's config class."""
    return config_class(str(data.get("architecture", NATIVE_ARCHITECTURE))).from_dict(data["model_config"])


def model_from_checkpoint(data: dict[str, Any]) -> Denoiser:
    """Rebuild the denoiser of a checkpoint dict (in float64; cast as needed).

    A checkpoint of a plugin architecture gives that plugin's network (same calling convention).
    """
    try:
        config = _model_config(data)
    except CheckpointError:
        raise
    except (RMError, TypeError, AttributeError) as exc:  # e.g. a damaged file whose config no longer parses
        raise CheckpointError(f"the checkpoint's model config is invalid: {exc}") from exc
    # Initial weights are overwritten; a private generator keeps torch's global RNG untouched.
    model: Denoiser = build_model(config, torch.Generator(), dtype=torch.float64)  # type: ignore[assignment]
    try:
        model.load_state_dict(data["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint weights do not fit its model config: {exc}") from exc
    bad = [name for name, p in model.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()]
    if bad:
        raise CheckpointError(f"the checkpoint's weights {', '.join(bad[:3])} hold NaN or inf: the file is damaged "
                              "or the training diverged")
    return model


def load_initial_weights(model: nn.Module, config: Any, path_or_name: str | os.PathLike[str]) -> None:
    """Copy a checkpoint's weights into ``model``, built from ``config`` (the start
    of a fine-tuning run).

    The checkpoint's architecture and model config must be ``config``
    (ConfigError naming the fields that differ otherwise).
    """
    data = read_checkpoint(path_or_name)
    source = _model_config(data)
    ours, theirs = architecture_of(config), architecture_of(source)
    if ours != theirs:
        raise ConfigError(f"cannot start from {path_or_name}: its architecture is {theirs!r}, this run's {ours!r}")
    mine, other = config.to_dict(), source.to_dict()
    differ = sorted(k for k in set(mine) | set(other) if mine.get(k) != other.get(k))
    if differ:
        raise ConfigError(
            f"cannot start from {path_or_name}: its model config differs from this run's in {', '.join(differ)}"
        )
    model.load_state_dict(data["state_dict"])  # copied into the model's own dtype and device


def load_potential(
    path_or_name: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    repulsion: tuple[float, float] | None = None,
) -> tuple[Potential, dict[str, Any]]:
    """A ready :class:`Potential` (eval mode) and the checkpoint's metadata.

    Args:
        repulsion: ``(radius, energy)``: a fixed core repulsion added to the trained E~,
            ``energy * (radius / r - 1)^2`` eV for every pair closer than ``radius`` Å (the
            model's ModelConfig.core_radius/core_energy, replaced at load; the network's
            weights are untouched). A prior against fused atoms: structures whose atoms are
            all at least ``radius`` apart keep their energies and forces exactly.
            ``(0, 0)`` removes a trained-in one. None: the checkpoint's model as trained.
    """
    data = read_checkpoint(path_or_name)
    model = model_from_checkpoint(data)
    if repulsion is not None:
        if not hasattr(getattr(model, "config", None), "core_radius"):
            raise ConfigError(f"repulsion: the {type(model).__name__} model has no core repulsion to set")
        radius, energy = (float(x) for x in repulsion)
        model.config = model.config.replace(core_radius=radius, core_energy=energy)  # validated there
    model = model.to(device=device, dtype=dtype).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    meta = {k: v for k, v in data.items() if k != "state_dict"}
    return Potential(model).eval(), meta
