"""Training: the published RM recipe with fresh noise every epoch."""

from .loop import Trainer, TrainResult

__all__ = ["TrainResult", "Trainer"]
