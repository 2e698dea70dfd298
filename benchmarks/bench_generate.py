"""Generation throughput: the batched engine against the serial ASE path, in one run.

    python benchmarks/bench_generate.py --data ../shared/data [--model qm7b.pt] [--crystal-model mp20.pt]

(a) QM7b-size molecules (C5H9NO, 15 atoms, qm7b preset, the molecule protocol),
(b) MP-20-size crystals (KZnF3 x2 = 10 atoms, mp20 preset, the two-stage crystal
protocol), (c) 8-atom carbon (C8, diamond preset, the one-shot diamond protocol:
3.8-5.6 Å^3/atom, constant-volume FIRE at maxstep 0.01 to fmax 5e-4). Both engines
relax the same starts with the same protocol; the ASE path is RMCalculator +
ase.optimize.FIRE (+ FrechetCellFilter). Without a checkpoint, --data trains quick
models (a few epochs; not for the carbon case, which takes --carbon-model, by default
the shipped diamond); otherwise random weights are used (same cost per step, but
random starts may collapse).
Prints structures/s, FIRE steps/s, the ratio, and batched scaling with batch size.
``--shards N`` adds a row for ``ase-rm generate --workers N`` (torchrun, N one-thread
ranks; the attempts shared out over the ranks; wall time of the whole command,
start-up and the merge of the part files included).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ase_rm import MODEL_PRESETS, Denoiser, Potential, RMCalculator
from ase_rm.checkpoint import atomic_save, load_potential, make_checkpoint
from ase_rm.rss import PROTOCOLS, attempts_for, expand_compositions, search
from ase_rm.testing import search_with_ase

PUBLISHED_SECONDS = {"molecule": 6.5, "crystal": 3.5, "diamond": 15.0}
"""Published implementation on this kind of machine: s per structure (crystal: 2-5 s;
diamond: about 15 s per 8-atom carbon structure)."""


QUICK_TRAINING = {"qm7b": ("qm7b.extxyz.gz", 500, 3), "mp20": ("mp20_train_partial.csv.gz", 300, 2)}
"""Quick models (file, structures, epochs): random weights have no repulsive core, so
random starts collapse; a few epochs of RM training give realistic surfaces."""


def model_files(name: str, path: str | None, tmp: str, data: str | None) -> str:
    """A checkpoint: the given one, a quickly trained one, or random weights."""
    if path:
        return path
    if data:
        from ase_rm import NOISE_PRESETS, TRAIN_PRESETS, read_structures
        from ase_rm.config import PRESET_NOISE
        from ase_rm.training import train

        file, n, epochs = QUICK_TRAINING[name]
        structures = read_structures(f"{data}/{file}", index=f":{n}") if name == "qm7b" else \
            read_structures(f"{data}/{file}")[:n]
        cfg = TRAIN_PRESETS[name].replace(epochs=epochs, restarts=1, warmup_epochs=1)
        t0 = time.perf_counter()
        result = train(structures, f"{tmp}/{name}", MODEL_PRESETS[name], NOISE_PRESETS[PRESET_NOISE[name]], cfg,
                       progress=False)
        print(f"quick {name} model: {n} structures, {epochs} epochs, {time.perf_counter() - t0:.0f} s")
        return str(result.best_checkpoint)
    model = Denoiser(MODEL_PRESETS[name], torch.Generator().manual_seed(0))
    out = f"{tmp}/{name}.pt"
    atomic_save(make_checkpoint(model, volume_fit={9: 12.0, 19: 35.0, 30: 14.0}), out)
    return out


def sharded_rate(ckpt: str, formula: str, protocol_name: str, n: int, shards: int, max_atoms: int,
                 tmp: str, compiled: bool = False) -> tuple[float, int, list]:
    """Structures/s, FIRE steps and results (in attempt order) of ``ase-rm generate
    --workers N`` (torchrun, one-thread ranks)."""
    from ase.io import read

    out = f"{tmp}/sharded_{protocol_name}{'_compiled' if compiled else ''}.extxyz"
    cmd = [sys.executable, "-m", "ase_rm.cli.main", "generate", ckpt, "-c", formula, "--n", str(n),
           "--protocol", protocol_name, "--seed", "0", "--out", out, "--batch-atoms", str(max_atoms),
           "--no-progress", "--workers", str(shards)]
    if protocol_name == "crystal":
        cmd += ["--volume-per-atom", "12"]
    if compiled:  # the protocol's [engine] table switches torch.compile on
        path = Path(tmp) / f"{protocol_name}_compiled.toml"
        path.write_text(f'extends = "{protocol_name}"\n[engine]\ncompile = true\n')
        cmd[cmd.index("--protocol") + 1] = str(path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RM_DIST_BACKEND": "gloo"}
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    frames = sorted(read(out, index=":"), key=lambda a: a.info["rm_attempt"])
    return len(frames) / wall, sum(a.info["rm_steps"] for a in frames), frames


def run_case(label: str, ckpt: str, formula: str, protocol_name: str, n_batched: int, n_ase: int,
             batch_atoms: list[int], shards: int = 0, tmp: str = "", compiled: bool = False,
             skip: frozenset[str] = frozenset()) -> None:
    protocol = PROTOCOLS[protocol_name]
    if protocol_name == "crystal":
        protocol = replace(protocol, start=replace(protocol.start, volume_per_atom=12.0))
    comps = expand_compositions(formula)
    potential, _ = load_potential(ckpt)
    calc = RMCalculator.from_checkpoint(ckpt)
    t0 = time.perf_counter()
    ase_res = search_with_ase(calc, attempts_for(comps, protocol, n_ase), protocol, seed=0)
    t_ase = time.perf_counter() - t0
    steps_ase = sum(a.info["rm_steps"] for a in ase_res)
    published = PUBLISHED_SECONDS[protocol_name]
    ase_rate = n_ase / t_ase
    print(f"\n{label}: ASE serial: {ase_rate:.2f} structures/s, {steps_ase / t_ase:.0f} structure-steps/s "
          f"({t_ase / n_ase:.2f} s/structure; published {published} s)")
    print("| max atoms per batch | structures | structures/s | structure-steps/s | vs ASE (structures/s) "
          "| vs published |")
    print("|---|---|---|---|---|---|")

    def row(name: str, rate: float, steps_per_s: float) -> None:
        print(f"| {name} | {n_batched} | {rate:.2f} | {steps_per_s:.0f} | {rate / ase_rate:.1f}x "
              f"| {rate * published:.1f}x |")

    def timed(model: Potential, cap: int) -> tuple[list, float, float]:
        t0 = time.perf_counter()
        res = search(model, attempts_for(comps, protocol, n_batched), protocol, seed=0, max_atoms_per_batch=cap)
        wall = time.perf_counter() - t0
        return res, n_batched / wall, sum(a.info["rm_steps"] for a in res) / wall

    res: list = []
    for atoms_cap in batch_atoms if "plain" not in skip else []:
        res, rate, steps_per_s = timed(potential, atoms_cap)
        row(str(atoms_cap), rate, steps_per_s)
    cap = max(batch_atoms)
    if compiled and "compiled" not in skip:
        fast = Potential(potential.model, compiled=True).eval()
        t0 = time.perf_counter()  # compiles (or loads inductor's cache) on the first steps
        search(fast, attempts_for(comps, protocol, 2), protocol, seed=1, max_atoms_per_batch=cap)
        print(f"(compiled path: first 2 structures, compile included, {time.perf_counter() - t0:.0f} s)")
        compiled_res, rate, steps_per_s = timed(fast, cap)
        res = res or compiled_res
        row(f"{cap}, compiled", rate, steps_per_s)
    if shards:
        modes = [m for m in ([False, True] if compiled else [False])
                 if ("sharded-compiled" if m else "sharded") not in skip]
        for with_compile in modes:
            rate, steps, sharded_res = sharded_rate(ckpt, formula, protocol_name, n_batched, shards, cap, tmp,
                                                    with_compile)
            res = res or sharded_res
            name = f"{cap}, {shards} one-thread ranks (torchrun){', compiled' if with_compile else ''}"
            row(name, rate, steps * rate / n_batched)
    if not res:
        return
    same = [abs(a.info["rm_energy"] - b.info["rm_energy"]) for a, b in zip(ase_res, res[:n_ase], strict=True)]
    print(f"same starts, max |E_batched - E_ase| over the first {n_ase}: {max(same):.2e} eV")


def peak_memory(ckpt: str, n: int, steps: int, max_atoms: int) -> float:
    """Peak resident memory (MiB) of generating ``n`` molecules (a shortened protocol: the
    pool, not the step count, bounds memory)."""
    import resource

    protocol = replace(PROTOCOLS["molecule"], stages=tuple(
        replace(s, max_steps=steps) for s in PROTOCOLS["molecule"].stages))
    potential, _ = load_potential(ckpt)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    res = search(potential, attempts_for(expand_compositions("C5H9NO"), protocol, n), protocol, seed=0,
                 max_atoms_per_batch=max_atoms)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{len(res)} molecules ({steps} steps per stage, pool of {max_atoms} atoms) in "
          f"{time.perf_counter() - t0:.0f} s: peak RSS {peak:.0f} MiB (before {before:.0f} MiB)", flush=True)
    return peak


def memory_per_pool_atoms(n: int, caps: list[int], model: str | None) -> None:
    """Peak RSS of generating ``n`` molecules with each pool size, each in its own process (peak RSS
    is per process), and the slope: MiB per 1,000 atoms in a batch (least squares over the pools)."""
    peaks = []
    for cap in caps:
        cmd = [sys.executable, __file__, "--memory", str(n), "--batch-atoms", str(cap), "--one-pool"]
        cmd += ["--model", model] if model else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1], flush=True)
        peaks.append(float(out.split("peak RSS ")[-1].split(" MiB")[0]))
    if len(caps) > 1:
        slope, base = np.polyfit(np.array(caps, dtype=float) / 1000, np.array(peaks), 1)
        print(f"\npeak RSS = {base:.0f} MiB + {slope:.0f} MiB per 1,000 atoms in a batch "
              f"(pools {', '.join(map(str, caps))}; {n} molecules each)")


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="qm7b checkpoint (default: random qm7b preset)")
    parser.add_argument("--crystal-model", help="mp20 checkpoint (default: random mp20 preset)")
    parser.add_argument("--carbon-model", default="diamond",
                        help="diamond checkpoint or shipped name for case (c) (default: the shipped diamond)")
    parser.add_argument("--data", help="../shared/data: train quick models there (default: random weights)")
    parser.add_argument("--n", type=int, default=256, help="structures for the batched engine")
    parser.add_argument("--n-ase", type=int, default=4, help="structures for the ASE path")
    parser.add_argument("--batch-atoms", default="240,960,3840")
    parser.add_argument("--shards", type=int, default=0, help="also time ase-rm generate on N one-thread ranks")
    parser.add_argument("--compile", action="store_true",
                        help="also time the compiled path (a protocol file with [engine] compile = true)")
    parser.add_argument("--cases", default="molecules,crystals",
                        help="which cases: molecules, crystals and/or carbon (comma-separated)")
    parser.add_argument("--skip", default="", help="rows to leave out (time): plain (the in-process rows of "
                        "--batch-atoms), compiled (in-process), sharded, sharded-compiled; the ASE rows, the "
                        "ratios' base, are always timed")
    parser.add_argument("--memory", type=int, default=0,
                        help="instead: peak memory of generating this many molecules, one process per "
                             "--batch-atoms pool size, and the MiB per 1,000 atoms in a batch")
    parser.add_argument("--one-pool", action="store_true", help=argparse.SUPPRESS)  # a child of --memory
    args = parser.parse_args()
    caps = [int(x) for x in args.batch_atoms.split(",")]
    skip = frozenset(x.strip() for x in args.skip.split(",") if x.strip())
    if not skip <= {"plain", "compiled", "sharded", "sharded-compiled"}:
        parser.error(f"--skip takes plain, compiled, sharded and/or sharded-compiled, not {args.skip!r}")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        if args.memory and args.one_pool:
            peak_memory(model_files("qm7b", args.model, tmp, args.data), args.memory, 3, caps[0])
            return
        if args.memory:
            memory_per_pool_atoms(args.memory, caps, args.model)
            return
        cases = {c.strip() for c in args.cases.split(",")}
        if not cases <= {"molecules", "crystals", "carbon"}:
            parser.error(f"--cases takes molecules, crystals and/or carbon, not {args.cases!r}")
        if "molecules" in cases:
            run_case("(a) molecules C5H9NO", model_files("qm7b", args.model, tmp, args.data), "C5H9NO", "molecule",
                     args.n, args.n_ase, caps, args.shards, tmp, args.compile, skip)
        if "crystals" in cases:
            run_case("(b) crystals K2Zn2F6", model_files("mp20", args.crystal_model, tmp, args.data), "K2Zn2F6",
                     "crystal", args.n, args.n_ase, caps, args.shards, tmp, args.compile, skip)
        if "carbon" in cases:
            run_case("(c) carbon C8", args.carbon_model, "C8", "diamond", args.n, args.n_ase, caps, args.shards, tmp,
                     args.compile, skip)


if __name__ == "__main__":
    main()
