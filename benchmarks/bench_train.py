"""Training throughput and inference cost of the QM7b preset on noisy QM7b frames.

    python benchmarks/bench_train.py --data ../shared/data/qm7b.extxyz.gz [--ddp 2]

Prints a markdown table: frames/s and atoms/s of complete training steps (fresh
noise, neighbour lists, forward, forces, backward, Adam, EMA) per batch size,
the ratio to the published implementation's 82.8 frames/s at batch 20 on the
same kind of machine, and the forward+force cost per atom for inference.

``--ddp N`` then times the same steps again, in the same run, as the
distributed trainer takes them (torchrun, N gloo ranks of one thread each,
every rank takes every N-th frame of each global batch, DistributedDataParallel
averages the gradients): the batch sizes are global, as in ``ase-rm train``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch

from ase_rm import MODEL_PRESETS, NOISE_PRESETS, Denoiser, Potential, read_structures
from ase_rm.data import NoisyDataset
from ase_rm.training.distributed import Dist
from ase_rm.training.ema import EMA
from ase_rm.training.loss import batch_loss

PUBLISHED_FRAMES_PER_S = 82.8
PUBLISHED_ATOMS_PER_S = 1269.0


def train_throughput(ds: NoisyDataset, batch_size: int, n_frames: int, dist: Dist | None = None,
                     compiled: bool = False, windows: int = 3) -> list[tuple[float, float]]:
    """Frames/s and atoms/s (global counts under ``dist``) of whole training steps,
    in ``windows`` consecutive timed windows of ``n_frames`` frames each, after
    untimed warm-up steps: 2, or 30 for the compiled path, which compiles on its
    first step and once more when a batch first has <= 4096 edges. A process's
    first window is often slow (allocator, caches), so the caller reports the median."""
    dist = dist or Dist()
    model = Denoiser(MODEL_PRESETS["qm7b"], torch.Generator().manual_seed(0))
    potential, ema = Potential(model, compiled=compiled), EMA(model, 0.99)
    trained = dist.wrap(potential)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    warmup = 30 if compiled else 2
    rates: list[tuple[float, float]] = []
    frames = atoms = timed = 0
    start = 0.0
    epoch, step = 0, 0
    while len(rates) < windows:
        for batch in ds.batches(epoch, batch_size, model.cutoff, shard=(dist.rank, dist.world)):
            if step == warmup or (step > warmup and timed >= n_frames):
                if step > warmup:  # a window ends: the same count on every rank, all stop together
                    wall = time.perf_counter() - start
                    total = dist.all_reduce({"frames": frames, "atoms": atoms}, keys=("frames", "atoms"))
                    rates.append((total["frames"] / wall, total["atoms"] / wall))
                    if len(rates) == windows:
                        break
                start, frames, atoms, timed = time.perf_counter(), 0, 0, 0
            opt.zero_grad(set_to_none=True)
            counts = dist.global_counts(batch) if dist.world > 1 else None
            loss, _ = batch_loss(trained, batch, 1e4, 0.0, True, counts)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            if not batch.placeholder:
                frames += batch.n_frames
                atoms += int(batch.graph.n_atoms.sum())
            timed += batch_size
            step += 1
        epoch += 1
    return rates


def inference_cost(ds: NoisyDataset, batch_size: int = 100, repeats: int = 5, compiled: bool = False) -> float:
    """Microseconds per atom for forward + forces (no neighbour list)."""
    model = Denoiser(MODEL_PRESETS["qm7b"], torch.Generator().manual_seed(0)).eval()
    potential = Potential(model, compiled=compiled)
    batch = next(iter(ds.batches(0, batch_size, model.cutoff)))
    potential(batch.graph)
    potential(batch.graph)
    start = time.perf_counter()
    for _ in range(repeats):
        potential(batch.graph)
    return (time.perf_counter() - start) / repeats / int(batch.graph.n_atoms.sum()) * 1e6


def ddp_rows(args: argparse.Namespace) -> None:
    """Run this script under torchrun with ``args.ddp`` one-thread gloo ranks."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RM_DIST_BACKEND": "gloo"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.ddp}",
           __file__, "--rank-worker", "--data", args.data, "--molecules", str(args.molecules),
           "--frames", str(args.frames), "--batch-sizes", args.batch_sizes, "--windows", str(args.windows)]
    if args.compile:
        cmd.append("--compile")
    subprocess.run(cmd, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/qm7b.extxyz.gz")
    parser.add_argument("--molecules", type=int, default=2000, help="how many QM7b molecules to noise")
    parser.add_argument("--frames", type=int, default=1500, help="frames timed per batch size")
    parser.add_argument("--batch-sizes", default="20,50,100,200")
    parser.add_argument("--windows", type=int, default=3, help="timed windows per row (the median is reported)")
    parser.add_argument("--ddp", type=int, default=0, help="also time N one-thread DDP ranks (torchrun, gloo)")
    parser.add_argument("--compile", action="store_true", help="also time the compiled path (Potential(compiled=True))")
    parser.add_argument("--rank-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    dist = Dist.from_env() if args.rank_worker else Dist()
    if args.rank_worker:
        torch.set_num_threads(1)
    mols = read_structures(args.data, index=f":{args.molecules}")
    ds = NoisyDataset(mols, NOISE_PRESETS["molecule"], seed=0)
    threads = torch.get_num_threads()
    label = f"DDP {dist.world} ranks x 1 thread" if args.rank_worker else f"1 process, {threads} threads"
    if not args.rank_worker:
        print(f"torch {torch.__version__}, {len(mols)} molecules, "
              f"{sum(len(m) for m in mols) / len(mols):.1f} atoms/molecule")
        print(f"median of {args.windows} consecutive windows of {args.frames} frames (range in brackets)")
        print("| engine | batch (global) | frames/s | atoms/s | vs published (82.8 frames/s) |")
        print("|---|---|---|---|---|")
    variants = [False, True] if args.compile else [False]
    for compiled in variants:
        for bs in (int(x) for x in args.batch_sizes.split(",")):
            rates = train_throughput(ds, bs, args.frames, dist, compiled, args.windows)
            if dist.is_main:
                name = f"{label}, compiled" if compiled else label
                fps, aps = (float(np.median(x)) for x in zip(*rates, strict=True))
                spread = f"{min(r[0] for r in rates):.1f}-{max(r[0] for r in rates):.1f}"
                print(f"| {name} | {bs} | {fps:.1f} ({spread}) | {aps:.0f} | {fps / PUBLISHED_FRAMES_PER_S:.2f}x |",
                      flush=True)
    if args.rank_worker:
        return
    if args.ddp:
        ddp_rows(args)
    for compiled in variants:
        print(f"\ninference (forward + forces, batch of 100 molecules{', compiled' if compiled else ''}): "
              f"{inference_cost(ds, compiled=compiled):.1f} us/atom")


if __name__ == "__main__":
    main()
