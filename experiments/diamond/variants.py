"""Variants of the diamond demo's search on a trained checkpoint (no training), for the
notebook (docs/notebook/diamond.md):

    python experiments/diamond/variants.py CHECKPOINT --seed S --out DIR \
        [--core R A] [--min-distance D] [--sizes 2,4,6,8,12] [--attempts 8 | 4,4,4,32,4]

--core R A: a fixed core repulsion A (R/r - 1)^2 for pairs closer than R (Å), added to E~
after training (DemoConfig.repulsion, = `ase-rm demo --repulsion R,A`).
--min-distance D: the starts' minimum interatomic distance (the published protocol: 0.7 Å).
Prints the checks as JSON and writes DIR like `ase-rm demo --checkpoint`.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from unittest import mock

from ase_rm.demo import run as demo_run
from ase_rm.demo.run import DemoConfig, run_demo
from ase_rm.rss.protocols import PROTOCOLS


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--core", type=float, nargs=2, metavar=("R", "A"))
    p.add_argument("--min-distance", type=float)
    p.add_argument("--sizes", default="2,4,6,8,12")
    p.add_argument("--attempts", default="8")
    a = p.parse_args()
    sizes = tuple(int(x) for x in a.sizes.split(","))
    counts = tuple(int(x) for x in a.attempts.split(","))
    cfg = DemoConfig(seed=a.seed, sizes=sizes, attempts=counts[0] if len(counts) == 1 else counts,
                     repulsion=tuple(a.core) if a.core else None)
    protocols = dict(PROTOCOLS)
    if a.min_distance is not None:
        d = protocols["diamond"]
        protocols["diamond"] = replace(d, start=replace(d.start, min_distance=a.min_distance))
    with mock.patch.object(demo_run, "PROTOCOLS", protocols):
        result = run_demo(a.out, cfg, checkpoint=a.checkpoint)
    print(json.dumps({**result.checks, "seconds": result.seconds}, default=str))


if __name__ == "__main__":
    main()
