"""Training throughput and inference cost of the QM7b preset on noisy QM7b frames.

    python benchmarks/bench_train.py --data ../shared/data/qm7b.extxyz.gz

Prints a markdown table: frames/s and atoms/s of complete training steps (fresh
noise, neighbour lists, forward, forces, backward, Adam, EMA) per batch size,
the ratio to the published implementation's 82.8 frames/s at batch 20 on the
same kind of machine, and the forward+force cost per atom for inference.
"""

from __future__ import annotations

import argparse
import time

import torch

from ase_rm import MODEL_PRESETS, NOISE_PRESETS, Denoiser, Potential, read_structures
from ase_rm.data import NoisyDataset
from ase_rm.train.ema import EMA
from ase_rm.train.loss import batch_loss

PUBLISHED_FRAMES_PER_S = 82.8
PUBLISHED_ATOMS_PER_S = 1269.0


def train_throughput(ds: NoisyDataset, batch_size: int, n_frames: int) -> tuple[float, float]:
    model = Denoiser(MODEL_PRESETS["qm7b"], torch.Generator().manual_seed(0))
    potential, ema = Potential(model), EMA(model, 0.99)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    frames = atoms = 0
    start = None
    for step, batch in enumerate(ds.batches(0, batch_size, model.cutoff)):
        if step == 2:  # two warm-up steps
            start, frames, atoms = time.perf_counter(), 0, 0
        opt.zero_grad(set_to_none=True)
        loss, _ = batch_loss(potential, batch, 1e4, 0.0, True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        frames += batch.n_frames
        atoms += int(batch.graph.n_atoms.sum())
        if start is not None and frames >= n_frames:
            break
    wall = time.perf_counter() - start  # type: ignore[operator]
    return frames / wall, atoms / wall


def inference_cost(ds: NoisyDataset, batch_size: int = 100, repeats: int = 5) -> float:
    """Microseconds per atom for forward + forces (no neighbour list)."""
    model = Denoiser(MODEL_PRESETS["qm7b"], torch.Generator().manual_seed(0)).eval()
    potential = Potential(model)
    batch = next(iter(ds.batches(0, batch_size, model.cutoff)))
    potential(batch.graph)
    start = time.perf_counter()
    for _ in range(repeats):
        potential(batch.graph)
    return (time.perf_counter() - start) / repeats / int(batch.graph.n_atoms.sum()) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/qm7b.extxyz.gz")
    parser.add_argument("--molecules", type=int, default=2000, help="how many QM7b molecules to noise")
    parser.add_argument("--frames", type=int, default=1500, help="frames timed per batch size")
    parser.add_argument("--batch-sizes", default="20,50,100,200")
    args = parser.parse_args()
    mols = read_structures(args.data, index=f":{args.molecules}")
    ds = NoisyDataset(mols, NOISE_PRESETS["molecule"], seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(mols)} molecules, "
          f"{sum(len(m) for m in mols) / len(mols):.1f} atoms/molecule")
    print("| batch | frames/s | atoms/s | vs published (82.8 frames/s) |")
    print("|---|---|---|---|")
    for bs in (int(x) for x in args.batch_sizes.split(",")):
        fps, aps = train_throughput(ds, bs, args.frames)
        print(f"| {bs} | {fps:.1f} | {aps:.0f} | {fps / PUBLISHED_FRAMES_PER_S:.2f}x |")
    print(f"\ninference (forward + forces, batch of 100 molecules): {inference_cost(ds):.1f} us/atom")


if __name__ == "__main__":
    main()
