"""Training: the published RM recipe with fresh noise every epoch."""

from .loop import Trainer, TrainResult
from .loss import accumulate, batch_loss, summarise
from .run import load_run_config, split_by_structure, train, train_from_config

__all__ = [
    "TrainResult",
    "Trainer",
    "accumulate",
    "batch_loss",
    "load_run_config",
    "split_by_structure",
    "summarise",
    "train",
    "train_from_config",
]
