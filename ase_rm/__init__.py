"""ase_rm: Response Matching generative models for molecules and crystals.

Public API::

    from ase_rm import RMCalculator, Potential, Denoiser, ModelConfig, NoiseConfig, TrainConfig
"""

from __future__ import annotations

__version__ = "0.1.0"

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
from .errors import CheckpointError, ConfigError, InvalidStructureError, RMError, UnknownElementError
from .graph import Frame, Graph, build_graph
from .model import Denoiser, count_parameters
from .potential import Potential
from .structures import as_atoms, check_atoms, read_structures

__all__ = [
    "MODEL_PRESETS",
    "NOISE_PRESETS",
    "TRAIN_PRESETS",
    "CheckpointError",
    "ConfigError",
    "Denoiser",
    "Frame",
    "Graph",
    "InvalidStructureError",
    "ModelConfig",
    "NoiseConfig",
    "Potential",
    "RMCalculator",
    "RMError",
    "RunConfig",
    "TrainConfig",
    "UnknownElementError",
    "__version__",
    "as_atoms",
    "build_graph",
    "check_atoms",
    "count_parameters",
    "load_potential",
    "read_checkpoint",
    "read_structures",
    "shipped_names",
]
