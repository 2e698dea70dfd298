"""Exceptions with one clear message each; all derive from :class:`RMError`."""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "InvalidStructureError",
    "RMError",
    "UnknownElementError",
]



class RMError(ValueError):
    """Base class for every error ase_rm raises on bad input."""


class InvalidStructureError(RMError):
    """A structure is empty, has non-finite coordinates or coincident atoms."""


class UnknownElementError(RMError):
    """A structure contains an element the model was not trained on."""


class CheckpointError(RMError):
    """A checkpoint file is missing, corrupt or of an unknown format version."""


class ConfigError(RMError):
    """A configuration has unknown keys or invalid values."""


class OutputExistsError(RMError):
    """An output already holds results and neither resuming nor overwriting was asked for."""


class OutputLocationError(RMError):
    """An output's folder does not exist or cannot be written."""
