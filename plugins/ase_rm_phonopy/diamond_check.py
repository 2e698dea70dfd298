"""Minimum or saddle? The pseudo-phonon check on the one-shot diamond model.

``python -m ase_rm_phonopy.diamond_check [--model CKPT] [--out DIR]`` trains a
quick diamond model on the 8-atom cubic cell (a = 3.279 Å, 30 epochs, ~10 s)
unless ``--model`` is given, then checks two stationary points of E~:

* the training cell (cubic diamond): a minimum, every frequency real;
* simple-cubic carbon at the same density (diamond's second fcc sublattice
  moved from (1/4, 1/4, 1/4) to (1/2, 1/2, 1/2)): every atom an inversion
  centre, so all forces vanish, but it lies midway between diamond and its
  inverted twin along the sublattice shift, a saddle with an imaginary
  Gamma optical mode.

docs/phonopy.md quotes the numbers this prints.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from ase import Atoms
from ase.build import bulk

from ase_rm import RMCalculator
from ase_rm.config import MODEL_PRESETS, NOISE_PRESETS, TRAIN_PRESETS

from .phonons import PhononResult, phonon_check

LATTICE = 3.279
"""Å: the published training cell (C-C 1.42 Å, 4.41 Å^3/atom)."""


def training_cell() -> Atoms:
    """Cubic diamond, 8 atoms, a = 3.279 Å."""
    return bulk("C", "diamond", a=LATTICE, cubic=True)


def simple_cubic() -> Atoms:
    """The training cell with its second fcc sublattice shifted by (1/4, 1/4, 1/4): simple cubic, a/2."""
    atoms = training_cell()
    scaled = atoms.get_scaled_positions()
    scaled[1::2] += 0.25
    atoms.set_scaled_positions(scaled)
    return atoms


def train_quick_model(out: Path, epochs: int = 30) -> Path:
    """The diamond preset trained on the training cell for ``epochs`` epochs; returns the checkpoint."""
    from ase_rm import train

    result = train([training_cell()], out, MODEL_PRESETS["diamond"], NOISE_PRESETS["crystal"],
                   TRAIN_PRESETS["diamond"].replace(epochs=epochs), progress=False, name="diamond")
    return Path(result.best_checkpoint)


def check(model: str | Path) -> dict[str, PhononResult]:
    """Phonon results of the training cell and of simple-cubic carbon (float64 model)."""
    calc = RMCalculator.from_checkpoint(model, dtype=torch.float64)
    return {"cubic diamond": phonon_check(training_cell(), calc),
            "simple cubic": phonon_check(simple_cubic(), calc)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ase_rm_phonopy.diamond_check", description=__doc__)
    parser.add_argument("--model", help="a diamond checkpoint (default: train a quick one)")
    parser.add_argument("--out", help="training run folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or train_quick_model(Path(args.out or tmp) / "diamond")
        results = check(model)
    for name, res in results.items():
        positive = res.frequencies[res.frequencies > res.tolerance]
        print(f"{name:14s} max force {res.max_force:.1e} eV/Å  lowest {res.lowest_frequency:+.3f} THz "
              f"at q={res.lowest_qpoint.tolist()}  lowest nonzero {positive.min():.3f} THz  "
              f"imaginary modes {res.n_imaginary}  -> {'minimum' if res.stable else 'saddle'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
