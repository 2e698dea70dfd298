"""Distributed training: torchrun with 2 CPU processes (gloo) matches one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import molecule

RUN = """data = "mols.extxyz"
out = "{out}"
preset = "qm7b"
species = ["H", "C", "N", "O"]
[model]
n_embedding = 1
hidden = [4]
[train]
epochs = 2
batch_size = 8
valid_fraction = 0.25
dtype = "float64"
"""


def _metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_two_gloo_ranks_match_a_single_process(tmp_path: Path) -> None:
    names = ("H2O", "CH4", "NH3", "CH3OH", "C2H6", "HCOOH", "C2H4", "H2CO")
    ase.io.write(tmp_path / "mols.extxyz", [molecule(n) for n in names])
    (tmp_path / "ddp.toml").write_text(RUN.format(out="ddp"))
    (tmp_path / "one.toml").write_text(RUN.format(out="one"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        ["torchrun", "--nproc_per_node", "2", "--master_port", "29531", "-m", "ase_rm.cli.main",
         "train", "ddp.toml", "--no-progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("best checkpoint:") == 1  # only rank 0 reports
    one = subprocess.run([sys.executable, "-m", "ase_rm.cli.main", "train", "one.toml", "--no-progress"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = _metrics(tmp_path / "ddp" / "metrics.jsonl"), _metrics(tmp_path / "one" / "metrics.jsonl")
    for key in ("train_loss", "val_loss", "val_force_rmse"):
        assert np.allclose([r[key] for r in a], [r[key] for r in b], rtol=1e-9), key


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_generation_shards_over_two_gloo_ranks_and_matches_one_process(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """torchrun generate: each rank makes every 2nd attempt into its part file, rank 0
    merges; the merged file equals a single process's output; --resume redoes nothing."""
    gen = ["generate", str(tiny_checkpoint), "-c", "CH4O", "-c", "C2H6", "--attempts", "3", "--protocol", "molecule",
           "--seed", "2", "--no-progress", "--dtype", "float64"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RM_DIST_BACKEND": "gloo"}
    torchrun = ["torchrun", "--nproc_per_node", "2", "--master_port", "29533", "-m", "ase_rm.cli.main"]
    ddp = subprocess.run([*torchrun, *gen, "--out", "ddp.extxyz"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("written to") == 1  # only rank 0 reports
    assert sorted(p.name for p in tmp_path.glob("ddp*")) == ["ddp.extxyz"]  # parts merged and removed
    one = subprocess.run([sys.executable, "-m", "ase_rm.cli.main", *gen, "--out", "one.extxyz"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    a = ase.io.read(tmp_path / "ddp.extxyz", ":")
    b = sorted(ase.io.read(tmp_path / "one.extxyz", ":"), key=lambda x: x.info["rm_attempt"])  # finishing order
    assert [x.info["rm_attempt"] for x in a] == [x.info["rm_attempt"] for x in b] == list(range(6))
    for x, y in zip(a, b, strict=True):
        assert x.get_chemical_formula() == y.get_chemical_formula()
        assert np.allclose(x.positions, y.positions, atol=1e-8) and x.info["rm_steps"] == y.info["rm_steps"]
    again = subprocess.run([*torchrun, *gen, "--out", "ddp.extxyz", "--resume"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    c = ase.io.read(tmp_path / "ddp.extxyz", ":")
    assert [x.info["rm_attempt"] for x in c] == list(range(6))
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, c, strict=True))
