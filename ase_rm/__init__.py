"""ase_rm: Response Matching generative models for molecules and crystals.

Verbs first::

    from ase_rm import train, load_potential, search, relax, noise_structures, read_structures

    result = train(structures, "runs/mine", ModelConfig(...), NoiseConfig(...), TrainConfig(...))
    potential, meta = load_potential(result.best_checkpoint)
    relaxed = relax(potential, read_structures("mine.extxyz"))

and the nouns a user holds: ``RMCalculator`` (ASE), ``Potential``, ``Denoiser``,
the configs, the errors, ``keys`` (the names in ``atoms.info`` / ``atoms.arrays``).
Random structure search (protocols, compositions, selection) is :mod:`ase_rm.rss`,
batched relaxation :mod:`ase_rm.relaxation`, training :mod:`ase_rm.training`; the
modules ``ase_rm.config``, ``ase_rm.checkpoint``, ``ase_rm.structures``,
``ase_rm.graph``, ``ase_rm.data`` and ``ase_rm.errors`` list their public names in
``__all__``. Names that were exported here before (``Frame``, ``build_graph``,
``shipped_names``, ...) are still importable from ``ase_rm`` and from their modules.

``ase_rm.relax`` and ``ase_rm.train`` are the functions; their packages are
``ase_rm.relaxation`` and ``ase_rm.training`` (``from ase_rm.relaxation import ...``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import keys
from .calculator import RMCalculator
from .checkpoint import load_potential, read_checkpoint, shipped_names
from .config import (
    MODEL_PRESETS,
    NOISE_PRESETS,
    TRAIN_PRESETS,
    ModelConfig,
    NoiseConfig,
    RunConfig,
    TrainConfig,
)
from .data import noise_structures
from .errors import CheckpointError, ConfigError, InvalidStructureError, RMError, UnknownElementError
from .graph import Frame, Graph, build_graph
from .model import Denoiser, count_parameters
from .potential import Potential
from .relaxation import relax
from .rss import search
from .structures import as_atoms, check_atoms, read_structures
from .training import train

__all__ = [
    # verbs
    "load_potential",
    "noise_structures",
    "read_structures",
    "relax",
    "search",
    "train",
    # nouns
    "NOISE_PRESETS",
    "ConfigError",
    "Denoiser",
    "InvalidStructureError",
    "ModelConfig",
    "NoiseConfig",
    "Potential",
    "RMCalculator",
    "RMError",
    "TrainConfig",
    "UnknownElementError",
    "__version__",
    "as_atoms",
    "keys",
    "read_checkpoint",
]

_COMPATIBLE = (MODEL_PRESETS, TRAIN_PRESETS, RunConfig, CheckpointError, Frame, Graph, build_graph,
               check_atoms, count_parameters, shipped_names)
"""Exported here before; still importable (``from ase_rm import Frame``), listed in their modules' ``__all__``."""
