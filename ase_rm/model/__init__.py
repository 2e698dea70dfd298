"""The energy-only denoiser network (pure torch)."""

from .cace import Denoiser, count_parameters
from .species import SpeciesIndex

__all__ = ["Denoiser", "SpeciesIndex", "count_parameters"]
