"""Score QM7b checkpoints with the training loop's generation signal, after the fact.

The same validation split as ``ase-rm train`` with the qm7b preset (10 % of the
molecules, seed 0), the same compositions (never the ten Fig. 2 ones), attempts
and seeds as ``[train] signal = "molecules"``: a shipped model or a snapshot
gets the figure a training run would have logged for it.

    python experiments/qm7b/score_models.py ../shared/data/qm7b.extxyz.gz qm7b runs/x/best.pt [--attempts 16]
"""

from __future__ import annotations

import argparse
import json

from paper_table import COMPOSITIONS as FIG2  # the ten Fig. 2 compositions (heavy atoms)

from ase_rm import load_potential, read_structures
from ase_rm.config import TRAIN_PRESETS
from ase_rm.training.run import split_by_structure
from ase_rm.training.signal import GenerationSignal, SignalSpec


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("models", nargs="+", help="checkpoint paths or shipped names")
    p.add_argument("--compositions", type=int, default=6)
    p.add_argument("--attempts", type=int, default=16)
    p.add_argument("--signal", default="molecules")
    args = p.parse_args(argv)
    cfg = TRAIN_PRESETS["qm7b"]
    _, valid = split_by_structure(read_structures(args.data), cfg.valid_fraction, cfg.seed)
    spec = SignalSpec(args.signal, args.compositions, args.attempts, FIG2)
    signal = GenerationSignal(spec, valid)
    print(f"compositions: {', '.join(signal.references)}")
    for model in args.models:
        scores = signal(load_potential(model)[0].model)
        print(json.dumps({"model": model, **{k: round(v, 4) for k, v in scores.items()}}), flush=True)


if __name__ == "__main__":
    main()
