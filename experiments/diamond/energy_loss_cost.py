"""The energy-difference loss's cost on the diamond demo's training: epoch times of 3 epochs
with ``energy_weight`` 1e4 against none, alternating, one thread.

    python experiments/diamond/energy_loss_cost.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from ase_rm.demo.run import DemoConfig, train_model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    for _ in range(args.repeats):
        for weight in (0.0, 1e4):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                train_model(DemoConfig(epochs=args.epochs, energy_weight=weight), Path(tmp), False)
                wall = time.perf_counter() - start
                lines = (Path(tmp) / "train" / "metrics.jsonl").read_text().splitlines()
                rows = [json.loads(line) for line in lines]
            print(f"energy_weight {weight:g}: {wall:.1f} s, epochs {[round(r['epoch_seconds'], 2) for r in rows]}")


if __name__ == "__main__":
    main()
