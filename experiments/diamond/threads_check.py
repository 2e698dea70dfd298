"""Do 1 and 2 torch threads give the same demo? Bitwise comparison of a short training and search.

Trains the demo's model (72-atom cell) for a few epochs and relaxes a few 8- and 16-atom
starts, once with 1 and once with 2 intra-op threads, in one process, and prints the largest
differences (0.0 means bitwise identical).

    python experiments/diamond/threads_check.py [EPOCHS] [STEPS]
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ase_rm.checkpoint import load_potential
from ase_rm.demo.run import DemoConfig, demo_attempts, train_model
from ase_rm.rss import PROTOCOLS, search


def run(threads: int, epochs: int, steps: int, root: Path) -> tuple[dict[str, torch.Tensor], list[np.ndarray]]:
    torch.set_num_threads(threads)
    cfg = DemoConfig(epochs=epochs, sizes=(8, 16), volumes=(4.4, 5.0), attempts=2)
    ckpt = train_model(cfg, root / f"t{threads}", progress=False)
    state = torch.load(ckpt, weights_only=False)["state_dict"]
    potential, _ = load_potential(ckpt)
    protocol = PROTOCOLS["diamond"]
    protocol = replace(protocol, stages=tuple(replace(s, max_steps=steps) for s in protocol.stages))
    found = search(potential, demo_attempts(cfg), protocol, seed=0)
    return state, [a.positions for a in found]


def main(epochs: int = 2, steps: int = 400) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (s1, p1), (s2, p2) = (run(t, epochs, steps, Path(tmp)) for t in (1, 2))
    weights = max(float((s1[k].double() - s2[k].double()).abs().max()) for k in s1)
    positions = max(float(np.abs(a - b).max()) for a, b in zip(p1, p2, strict=True))
    print(f"{epochs} epochs, {len(p1)} relaxations of {steps} steps: largest weight difference {weights:.3g}, "
          f"largest position difference {positions:.3g} Å (1 vs 2 threads)")


if __name__ == "__main__":
    main(*(int(x) for x in sys.argv[1:3]))
