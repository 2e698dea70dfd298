"""The energy-only denoiser network (pure torch)."""

from .cace import Denoiser, count_parameters

__all__ = ["Denoiser", "count_parameters"]
