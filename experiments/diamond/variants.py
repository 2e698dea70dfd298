"""`ase-rm demo` with the starts' minimum interatomic distance changed (the diamond
protocol's StartSpec.min_distance, published 0.7 Å), for the notebook
(docs/notebook/diamond.md):

    python experiments/diamond/variants.py D ASE-RM-ARGUMENTS ...
    python experiments/diamond/variants.py 1.2 --threads 1 demo --checkpoint CKPT --sizes 8 --attempts 16 --out DIR

Everything after D is an `ase-rm demo` command line without the `ase-rm`; the outputs and
the exit status are the demo's.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from unittest import mock

from ase_rm.cli.main import main as cli
from ase_rm.demo import run as demo_run
from ase_rm.rss.protocols import PROTOCOLS


def main() -> int:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    distance, rest = float(sys.argv[1]), sys.argv[2:]
    d = PROTOCOLS["diamond"]
    protocols = {**PROTOCOLS, "diamond": replace(d, start=replace(d.start, min_distance=distance))}
    with mock.patch.object(demo_run, "PROTOCOLS", protocols):
        return cli(rest)


if __name__ == "__main__":
    sys.exit(main())
