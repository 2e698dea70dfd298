"""Native denoiser vs a matgl denoiser on the one-shot diamond task.

    OMP_NUM_THREADS=1 python -m ase_rm_matgl.compare OUT [--epochs 150] [--nets native tensornet]

Per model: train on one 8-atom cubic diamond cell (a = 3.279 Å) with the
``crystal`` noise and the ``diamond`` training recipe (same seed, same noise),
then measure the force/stress RMSE on fresh noisy frames (a seed training
never used), the cost of a training step and of a relaxation step (one
Potential call with forces and stress on a batch), and run the demo's search
(:func:`ase_rm.demo.run_demo` with the trained checkpoint). Writes
``OUT/comparison.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ase_rm import load_potential, train
from ase_rm.config import MODEL_PRESETS, NOISE_PRESETS, TRAIN_PRESETS
from ase_rm.data import NoisyDataset
from ase_rm.demo import DemoConfig, run_demo, training_cell
from ase_rm.graph import Frame, build_graph
from ase_rm.training import accumulate, batch_loss, summarise

from .model import MatglConfig

FRESH_SEED = 987_654
"""Noise seed of the held-out frames (training uses seed 0, validation seed 0 + 1_000_003)."""

MODELS: dict[str, Any] = {
    "native": MODEL_PRESETS["diamond"],
    "tensornet": MatglConfig(species=(6,), net="tensornet", cutoff=4.5, units=16, nblocks=2, num_rbf=16),
    "m3gnet": MatglConfig(species=(6,), net="m3gnet", cutoff=4.5, units=32, nblocks=2, max_n=3, max_l=3,
                          threebody_cutoff=4.0),
}


def fresh_errors(checkpoint: Path, cell: Any, epochs: int = 20) -> dict[str, float]:
    """Force and stress RMSE on ``epochs`` x 11 fresh noisy frames (float64)."""
    potential, _ = load_potential(checkpoint, dtype=torch.float64)
    data = NoisyDataset([cell], NOISE_PRESETS["crystal"], FRESH_SEED)
    totals: dict[str, float] = {}
    for epoch in range(epochs):
        for batch in data.batches(epoch, 11, potential.cutoff, torch.float64, shuffle=False):
            _, sums = batch_loss(potential, batch, 1.0, 1.0, False)
            accumulate(totals, sums)
    out = summarise(totals, 1.0, 1.0)
    return {"force_rmse": out["force_rmse"], "stress_rmse": out["stress_rmse"], "frames": epochs * len(data)}


def step_seconds(checkpoint: Path, cell: Any, n_structures: int, repeats: int = 30) -> float:
    """Median seconds of one Potential call (forces + stress, float32) on a batch of rattled cells."""
    potential, _ = load_potential(checkpoint)
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(n_structures):
        atoms = cell.copy()
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        frames.append(Frame.from_atoms(atoms))
    graph = build_graph(frames, potential.cutoff)
    times = []
    for k in range(repeats + 3):
        t0 = time.perf_counter()
        potential(graph, forces=True, stress=True)
        if k >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare_one(name: str, out: Path, epochs: int, demo: DemoConfig) -> dict[str, Any]:
    cell = training_cell(demo)
    tcfg = TRAIN_PRESETS["diamond"].replace(epochs=epochs, seed=demo.seed)
    t0 = time.perf_counter()
    result = train([cell], out / name / "train", MODELS[name], NOISE_PRESETS["crystal"], tcfg, progress=False,
                   name=f"diamond-{name}")
    train_s = time.perf_counter() - t0
    rows = result.history
    steps = -(-11 // tcfg.batch_size)
    potential, _ = load_potential(result.best_checkpoint)
    res: dict[str, Any] = {
        "model": name,
        "parameters": sum(p.numel() for p in potential.model.parameters()),
        "train_seconds": round(train_s, 1),
        "train_step_ms": 1000 * statistics.median(r["epoch_seconds"] for r in rows) / steps,
        "best_epoch": min(rows, key=lambda r: r["val_loss"])["epoch"],
        "val_force_rmse": min(rows, key=lambda r: r["val_loss"])["val_force_rmse"],
        **{f"fresh_{k}": v for k, v in fresh_errors(result.best_checkpoint, cell).items()},
        "relax_step_ms_1x8": 1000 * step_seconds(result.best_checkpoint, cell, 1),
        "relax_step_ms_32x8": 1000 * step_seconds(result.best_checkpoint, cell, 32),
    }
    found = run_demo(out / name / "demo", demo, progress=False, checkpoint=str(result.best_checkpoint))
    steps_taken = [int(a.info["rm_steps"]) for a in found.structures]
    res.update(
        search_seconds=round(found.seconds["search"], 1),
        relaxations=len(found.structures),
        mean_relax_steps=float(np.mean(steps_taken)),
        checks={k: v for k, v in found.checks.items() if k != "volumes"},
    )
    return res


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("parameters", "parameters", "{:d}"),
        ("best epoch", "best_epoch", "{:d}"),
        ("validation force RMSE, best epoch (eV/Å)", "val_force_rmse", "{:.4f}"),
        ("force RMSE, fresh noisy frames (eV/Å)", "fresh_force_rmse", "{:.4f}"),
        ("stress RMSE, fresh noisy frames (eV/Å^3)", "fresh_stress_rmse", "{:.5f}"),
        ("training step, batch of 2 (ms)", "train_step_ms", "{:.1f}"),
        ("training, total (s)", "train_seconds", "{:.0f}"),
        ("relaxation step, 1 x 8 atoms (ms)", "relax_step_ms_1x8", "{:.1f}"),
        ("relaxation step, 32 x 8 atoms (ms)", "relax_step_ms_32x8", "{:.1f}"),
        ("search wall time (s)", "search_seconds", "{:.0f}"),
        ("mean FIRE steps per relaxation", "mean_relax_steps", "{:.0f}"),
    ]
    lines = ["| | " + " | ".join(r["model"] for r in results) + " |", "|---|" + "---|" * len(results)]
    for label, key, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(r[key]) for r in results) + " |")
    for key in ("converged", "cubic_lowest_at_every_volume", "cubic_minimum_volume", "found_hexagonal",
                "found_graphite", "passed", "counts"):
        lines.append(f"| {key} | " + " | ".join(str(r["checks"][key]) for r in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--nets", nargs="+", default=["native", "tensornet"], choices=sorted(MODELS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--volumes", type=float, nargs="+", default=[4.0, 4.4, 4.8, 5.2])
    parser.add_argument("--attempts", type=int, default=2)
    args = parser.parse_args(argv)
    demo = DemoConfig(lattice=3.279, repeat=(1, 1, 1), epochs=args.epochs, sizes=tuple(args.sizes),
                      volumes=tuple(args.volumes), attempts=args.attempts)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.nets:
        results.append(compare_one(name, args.out, args.epochs, demo))
        (args.out / "comparison.json").write_text(json.dumps(results, indent=2, default=str))
    print(table(results))  # noqa: T201 - a script's output


if __name__ == "__main__":
    main()
