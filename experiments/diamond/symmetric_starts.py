"""Symmetric random starts for the one-shot diamond search (issue 23 item 6).

The demo's attempts (sizes x volumes x attempts, constant volume, 2,000 FIRE
steps) with the start made in a random space group compatible with the atom
count (``ase_rm_pymatgen.csp.SymmetricStarts``, PyXtal's Wyckoff tables) instead
of the published uniform start, relaxed on E~ of a diamond checkpoint, each
result classified as the demo does. FRACTION of the starts are symmetric, the
rest are the published start. Prints counts per family and per size.

    python experiments/diamond/symmetric_starts.py [CHECKPOINT] [--fraction F] [--sizes 2,4,6,8,12]
        [--attempts 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import time
from dataclasses import replace

from ase_rm_pymatgen.csp.symmetric import SymmetricStarts

from ase_rm import keys
from ase_rm.checkpoint import load_potential
from ase_rm.demo.carbon import CLASSES, describe
from ase_rm.demo.run import DemoConfig, demo_attempts
from ase_rm.rss import PROTOCOLS, search


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", default="diamond")
    p.add_argument("--fraction", type=float, default=1.0)
    p.add_argument("--sizes", default="2,4,6,8,12")
    p.add_argument("--attempts", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    cfg = DemoConfig(sizes=tuple(int(n) for n in args.sizes.split(",")), attempts=args.attempts, seed=args.seed)
    potential, _ = load_potential(args.checkpoint)
    protocol = PROTOCOLS["diamond"]
    protocol = replace(protocol, stages=tuple(replace(s, max_steps=cfg.max_steps) for s in protocol.stages))
    t0 = time.perf_counter()
    found = search(potential, demo_attempts(cfg), protocol, seed=cfg.seed,
                   start_maker=SymmetricStarts(fraction=args.fraction))
    seconds = time.perf_counter() - t0
    counts: collections.Counter[tuple[int, str]] = collections.Counter()
    for atoms in found:
        cls = describe(atoms)[0] if atoms.info[keys.RM_CONVERGED] else "unconverged"
        counts[(len(atoms), cls)] += 1
    total = collections.Counter(cls for (_, cls), c in counts.items() for _ in range(c))
    print(f"{args.checkpoint} fraction {args.fraction} seed {args.seed}: {len(found)} attempts, {seconds:.0f} s")
    print("  total: " + ", ".join(f"{c} {total[c]}" for c in (*CLASSES, "unconverged")))
    for (n, cls), count in sorted(counts.items()):
        print(f"  {n} atoms: {cls} {count}")


if __name__ == "__main__":
    main()
