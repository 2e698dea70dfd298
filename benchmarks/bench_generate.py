"""Generation throughput: the batched engine against the serial ASE path, in one run.

    python benchmarks/bench_generate.py [--model qm7b.pt] [--crystal-model mp20.pt]

(a) QM7b-size molecules (C5H9NO, 15 atoms, qm7b preset, the molecule protocol),
(b) MP-20-size crystals (KZnF3 x2 = 10 atoms, mp20 preset, the two-stage crystal
protocol). Both engines relax the same starts with the same protocol; the ASE
path is RMCalculator + ase.optimize.FIRE (+ FrechetCellFilter). Without a
checkpoint a randomly initialised preset model is used (same cost per step).
Prints structures/s, FIRE steps/s, the ratio, and batched scaling with batch size.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from ase_rm import MODEL_PRESETS, Denoiser, RMCalculator
from ase_rm.checkpoint import atomic_save, load_potential, make_checkpoint
from ase_rm.rss import PROTOCOLS, attempts_for, expand_compositions, search

PUBLISHED_SECONDS = {"molecule": 6.5, "crystal": 3.5}
"""Published implementation on this kind of machine: s per structure (crystal: 2-5 s)."""


def model_files(name: str, path: str | None, tmp: str) -> str:
    if path:
        return path
    model = Denoiser(MODEL_PRESETS[name], torch.Generator().manual_seed(0))
    out = f"{tmp}/{name}.pt"
    atomic_save(make_checkpoint(model, volume_fit={9: 12.0, 19: 35.0, 30: 14.0}), out)
    return out


def run_case(label: str, ckpt: str, formula: str, protocol_name: str, n_batched: int, n_ase: int,
             batch_atoms: list[int]) -> None:
    protocol = PROTOCOLS[protocol_name]
    if protocol_name == "crystal":
        protocol = replace(protocol, start=replace(protocol.start, volume_per_atom=12.0))
    comps = expand_compositions(formula)
    potential, _ = load_potential(ckpt)
    calc = RMCalculator.from_checkpoint(ckpt)
    t0 = time.perf_counter()
    ase_res = search(calc, attempts_for(comps, protocol, n_ase), protocol, seed=0, engine="ase")
    t_ase = time.perf_counter() - t0
    steps_ase = sum(a.info["rm_steps"] for a in ase_res)
    print(f"\n{label}: ASE serial: {n_ase / t_ase:.2f} structures/s, {steps_ase / t_ase:.0f} structure-steps/s "
          f"({t_ase / n_ase:.2f} s/structure; published {PUBLISHED_SECONDS[protocol_name]} s)")
    print("| max atoms per batch | structures | structures/s | structure-steps/s | vs ASE (structures/s) |")
    print("|---|---|---|---|---|")
    for atoms_cap in batch_atoms:
        t0 = time.perf_counter()
        res = search(potential, attempts_for(comps, protocol, n_batched), protocol, seed=0,
                     max_atoms_per_batch=atoms_cap)
        wall = time.perf_counter() - t0
        steps = sum(a.info["rm_steps"] for a in res)
        rate = n_batched / wall
        print(f"| {atoms_cap} | {n_batched} | {rate:.2f} | {steps / wall:.0f} | {rate / (n_ase / t_ase):.1f}x |")
    same = [abs(a.info["rm_energy"] - b.info["rm_energy"]) for a, b in zip(ase_res, res[:n_ase], strict=True)]
    print(f"same starts, max |E_batched - E_ase| over the first {n_ase}: {max(same):.2e} eV")


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="qm7b checkpoint (default: random qm7b preset)")
    parser.add_argument("--crystal-model", help="mp20 checkpoint (default: random mp20 preset)")
    parser.add_argument("--n", type=int, default=256, help="structures for the batched engine")
    parser.add_argument("--n-ase", type=int, default=4, help="structures for the ASE path")
    parser.add_argument("--batch-atoms", default="240,960,3840")
    args = parser.parse_args()
    caps = [int(x) for x in args.batch_atoms.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        run_case("(a) molecules C5H9NO", model_files("qm7b", args.model, tmp), "C5H9NO", "molecule",
                 args.n, args.n_ase, caps)
        run_case("(b) crystals K2Zn2F6", model_files("mp20", args.crystal_model, tmp), "K2Zn2F6", "crystal",
                 args.n, args.n_ase, caps)


if __name__ == "__main__":
    main()
