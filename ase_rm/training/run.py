"""From a run config (or arguments) to a trained checkpoint."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ..config import ModelConfig, NoiseConfig, RunConfig, TrainConfig, read_settings
from ..errors import RMError
from ..structures import check_atoms, read_structures, structures_from
from .loop import Trainer, TrainResult

log = logging.getLogger(__name__)


def load_run_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read a TOML or YAML run file; relative data paths are relative to it."""
    p = Path(path)
    data = read_settings(p, "config file")
    for key in ("data", "valid_data", "out"):
        if isinstance(data.get(key), str) and not os.path.isabs(data[key]):
            data[key] = str(p.parent / data[key])
    init = data.get("init")
    if isinstance(init, str) and not os.path.isabs(init) and (p.parent / init).is_file():
        data["init"] = str(p.parent / init)  # a file beside the config; otherwise a shipped name
    return RunConfig.from_dict(data)


def split_by_structure(
    structures: Sequence[Atoms], valid_fraction: float, seed: int
) -> tuple[list[Atoms], list[Atoms]]:
    """Hold out a fraction of *structures* (never of noisy frames)."""
    n_valid = int(round(valid_fraction * len(structures)))
    if n_valid == 0 or len(structures) < 2:
        return list(structures), []
    order = np.random.default_rng([seed, 424242]).permutation(len(structures))
    valid = set(order[:n_valid].tolist())
    return (
        [a for k, a in enumerate(structures) if k not in valid],
        [a for k, a in enumerate(structures) if k in valid],
    )


def _subset(structures: Sequence[Atoms], n: int, seed: int) -> tuple[list[Atoms], list[Atoms]]:
    """A seeded subset of ``n`` structures and the rest, each in their original order."""
    keep = set(np.random.default_rng([seed, 515151]).permutation(len(structures))[:n].tolist())
    return ([a for k, a in enumerate(structures) if k in keep],
            [a for k, a in enumerate(structures) if k not in keep])


def train(
    structures: Any,
    out: str | os.PathLike[str],
    model: ModelConfig,
    noise: NoiseConfig,
    config: TrainConfig,
    valid_structures: Any = None,
    device: str = "cpu",
    resume: bool = False,
    name: str = "rm",
    progress: bool | None = None,
    extra_summary: dict[str, Any] | None = None,
    valid_limit: int | None = None,
    init: str | os.PathLike[str] | None = None,
    train_on_valid_rest: bool = False,
    time_limit: float | None = None,
) -> TrainResult:
    """Train an RM denoiser; returns where the best checkpoint is.

    Args:
        structures: equilibrium structures (Atoms, pymatgen objects, or a path).
        out: run directory.
        model, noise, config: model, noise and training configs.
        valid_structures: held-out structures; default: split off
            ``config.valid_fraction`` of ``structures``.
        device: torch device.
        resume: continue the run in ``out`` where it stopped.
        name: model name recorded in the checkpoint.
        progress: progress bar (None: only on a terminal).
        extra_summary: more fields for the checkpoint's training summary.
        valid_limit: validate on a seeded subset of at most this many
            validation structures.
        init: start from this checkpoint's weights (path or shipped name;
            same model config), i.e. fine-tune it; ignored on resume, where
            the run's own state is loaded.
        train_on_valid_rest: with ``valid_structures`` and ``valid_limit``,
            the validation structures outside the seeded subset join the
            training set (e.g. train on most of MP-20's val split and validate
            on the rest; the subset is the same as without this option).
        time_limit: stop after the epoch during which this many seconds have
            passed, resumable (``resume=True`` continues).
    """
    train_set = structures_from(structures)
    for k, atoms in enumerate(train_set):
        check_atoms(atoms, model.species, label=f"training structure {k}")
    if valid_structures is None:
        train_set, valid_set = split_by_structure(train_set, config.valid_fraction, config.seed)
    else:
        valid_set = structures_from(valid_structures)
    if train_on_valid_rest and (valid_structures is None or valid_limit is None):
        raise RMError("train_on_valid_rest needs separate validation structures and a valid_limit")
    if valid_limit is not None and len(valid_set) > valid_limit:  # before the checks: big files stay cheap
        valid_set, rest = _subset(valid_set, valid_limit, config.seed)
        if train_on_valid_rest:
            for k, atoms in enumerate(rest):
                check_atoms(atoms, model.species, label=f"validation structure {k} (trained on)")
            train_set = train_set + rest
    if valid_structures is not None:  # a split-off set was checked with the training set
        for k, atoms in enumerate(valid_set):
            check_atoms(atoms, model.species, label=f"validation structure {k}")
    periodic = {bool(a.pbc.all()) for a in train_set}
    if noise.kind == "crystal" and periodic != {True}:
        raise RMError("the crystal noise recipe needs 3-D periodic structures")
    log.info("training on %d structures, validating on %d", len(train_set), len(valid_set))
    trainer = Trainer(out, train_set, valid_set, model, noise, config, device, name, progress, extra_summary, init)
    return trainer.run(resume=resume, time_limit=time_limit)


def train_from_config(run: RunConfig, resume: bool = False, progress: bool | None = None,
                      extra_summary: dict[str, Any] | None = None, time_limit: float | None = None) -> TrainResult:
    """``ase-rm train CONFIG``: the preset with overrides, on the config's data."""
    model, noise, config = run.resolve()
    structures = read_structures(run.data)
    valid = read_structures(run.valid_data) if run.valid_data else None
    return train(structures, run.out, model, noise, config, valid, run.device, resume, run.name, progress,
                 extra_summary, run.valid_limit, run.init, run.train_on_valid_rest, time_limit)
