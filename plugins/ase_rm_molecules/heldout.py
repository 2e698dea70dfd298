"""The molecules a model was *not* trained on, from the split its checkpoint implies.

``ase-rm train`` holds out a fraction of the structures for validation with
:func:`ase_rm.training.split_by_structure` (seeded by ``TrainConfig.seed``,
size ``TrainConfig.valid_fraction``), applied to the structures of the run's
``data`` file in file order. Every checkpoint stores its training config and
a summary with the numbers of training and validation structures, so the
split can be redone: :func:`heldout_split` calls the same function with the
stored seed and fraction.

Assumption: the frames given are the run's data file, complete and in the
same order (any other list gives another split). The stored count of training
structures is the check: if it differs from the split's, the frames are not
the training data and this is an error; a checkpoint without the count gives
a warning. The stored number of validation structures may be smaller than
the held-out set (``RunConfig.valid_limit`` validates on a subset); every
held-out molecule is still one the model never trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms

from ase_rm import RMError

log = logging.getLogger(__name__)

TRAIN_ON_ALL = "fresh noise of the training structures"
"""The training summary's ``validation`` when nothing was held out."""


@dataclass(frozen=True)
class HeldOut:
    """A reproduced training split.

    Attributes:
        indices: (n_heldout,) int, sorted 0-based positions of the held-out frames.
        n_frames: frames the split was made over.
        seed: the training seed (``TrainConfig.seed``).
        valid_fraction: the held-out fraction (``TrainConfig.valid_fraction``).
        checked: whether the checkpoint's count of training structures confirmed the split.
    """

    indices: np.ndarray
    n_frames: int
    seed: int
    valid_fraction: float
    checked: bool

    def describe(self) -> str:
        """One line for reports: what was held out and how sure we are."""
        check = ("training count matches the checkpoint" if self.checked
                 else "NOT checked: the checkpoint stores no training count")
        return (f"{len(self.indices)} of {self.n_frames} molecules held out by the training split "
                f"(seed {self.seed}, valid_fraction {self.valid_fraction}; {check})")


def heldout_split(meta: Mapping[str, Any], frames: Sequence[Atoms]) -> HeldOut:
    """The frames a checkpoint's training run held out, by redoing its split.

    Args:
        meta: the checkpoint's metadata (from :func:`ase_rm.load_potential` or
            :func:`ase_rm.read_checkpoint`): ``train_config`` and ``training_summary``.
        frames: the run's data, complete and in file order.

    Raises:
        RMError: the checkpoint stores no seed/valid_fraction, held nothing
            out, or was trained on a different number of structures.
    """
    from ase_rm.training import split_by_structure  # the training code, imported only when needed

    config = meta.get("train_config") or {}
    summary = meta.get("training_summary") or {}
    if "seed" not in config or "valid_fraction" not in config:
        raise RMError("the checkpoint stores no training config (seed, valid_fraction); its split cannot be redone")
    seed, fraction = int(config["seed"]), float(config["valid_fraction"])
    if summary.get("validation") == TRAIN_ON_ALL:
        raise RMError("the model was trained on all of its structures (no held-out molecules)")
    ids = {id(atoms): k for k, atoms in enumerate(frames)}
    train, valid = split_by_structure(frames, fraction, seed)
    n_train = summary.get("n_train_structures")
    if n_train is None:
        log.warning("the checkpoint stores no n_train_structures: cannot confirm that the data is the file the "
                    "model was trained on; the held-out set assumes it is (same file, same order)")
    elif int(n_train) != len(train):
        n_valid = summary.get("n_valid_structures")
        raise RMError(
            f"the data is not what the model was trained on: its split (seed {seed}, valid_fraction {fraction}) "
            f"gives {len(train)} training and {len(valid)} held-out of {len(frames)} molecules, but the model "
            f"trained on {n_train} (and validated on {n_valid}); give the run's data file"
        )
    if not valid:
        raise RMError(f"the split of {len(frames)} molecules with valid_fraction {fraction} holds nothing out "
                      "(did the run validate on a separate valid_data file?)")
    n_valid = summary.get("n_valid_structures")
    if n_valid is not None and int(n_valid) < len(valid):
        log.info("the run validated on %s of the %d held-out molecules (valid_limit)", n_valid, len(valid))
    indices = np.sort(np.array([ids[id(atoms)] for atoms in valid], dtype=int))
    return HeldOut(indices, len(frames), seed, fraction, n_train is not None)
