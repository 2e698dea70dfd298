"""Score checkpoints with a training run's generation signal, after the fact.

Builds the run's validation structures exactly as ``ase-rm train RUN.toml``
does (its split, or its ``valid_data`` with ``valid_limit``), and its signal
(``[train] signal``, compositions, attempts, exclusions), then scores each
model: a starting point (the ``init`` model), a snapshot, or a shipped model
gets the figure the run would have logged for it.

    python experiments/score_signal.py experiments/mp20/signal.toml mp20-paper runs/mp20_signal/best.pt

``--compositions``, ``--attempts`` and ``--seed`` override the run's signal: a
larger, freshly drawn set checks a choice that the run's small signal made.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from ase_rm import load_potential, read_checkpoint, read_structures
from ase_rm.training.run import _subset, load_run_config, split_by_structure
from ase_rm.training.signal import GenerationSignal, SignalSpec


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="the run file (TOML) whose signal and validation set to use")
    p.add_argument("models", nargs="+", help="checkpoint paths or shipped names")
    p.add_argument("--compositions", type=int, help="validation compositions (default: the run's)")
    p.add_argument("--attempts", type=int, help="attempts per composition (default: the run's)")
    p.add_argument("--seed", type=int, help="draws compositions, starts and kicks (default: the signal's)")
    args = p.parse_args(argv)
    run = load_run_config(args.run)
    _, _, cfg = run.resolve()
    if not cfg.signal:
        raise SystemExit(f"{args.run} has no [train] signal")
    if run.valid_data:
        valid = read_structures(run.valid_data)
        if run.valid_limit is not None and len(valid) > run.valid_limit:
            valid, _ = _subset(valid, run.valid_limit, cfg.seed)
    else:
        _, valid = split_by_structure(read_structures(run.data), cfg.valid_fraction, cfg.seed)
    spec = SignalSpec(cfg.signal, args.compositions or cfg.signal_compositions, args.attempts or cfg.signal_attempts,
                      tuple(cfg.signal_exclude))
    if args.seed is not None:
        spec = dataclasses.replace(spec, seed=args.seed)
    for model in args.models:
        volumes = read_checkpoint(model).get("volume_fit") or None
        signal = GenerationSignal(spec, valid, {int(k): float(v) for k, v in volumes.items()} if volumes else None)
        scores = signal(load_potential(model)[0].model)
        print(json.dumps({"model": model, "compositions": list(signal.references),
                          **{k: round(v, 4) for k, v in scores.items()}}), flush=True)


if __name__ == "__main__":
    main()
