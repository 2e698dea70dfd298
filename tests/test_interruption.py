"""``kill -9`` in the middle of a command, then its documented resume: nothing
lost, nothing repeated, the same results as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import ase.io
import numpy as np
import pytest

from ase_rm.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv: str) -> list[str]:
    """``ase-rm ARGV`` of this checkout, as a command line."""
    return [sys.executable, "-m", "ase_rm.cli.main", "--threads", "1", *argv]


def run_then_kill(command: list[str], ready: Callable[[], bool], timeout: float = 120) -> None:
    """Start ``command``, SIGKILL it once ``ready()``; fail if it finished first."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"finished before it could be killed: {err.decode()[-500:]}"


def attempts_in(path: Path) -> list[int]:
    return [int(a.info["rm_attempt"]) for a in ase.io.read(path, ":", format="extxyz")] if path.exists() else []


def frames_written(path: Path, n: int) -> Callable[[], bool]:
    return lambda: path.exists() and path.read_text().count("rm_attempt") >= n


SLOW_MOLECULE = '[start]\nkind = "molecule"\n[engine]\ndtype = "float64"\n[[stages]]\nfmax = 1e-6\nmax_steps = 150\n'
"""Never converges: every attempt takes its 150 steps, so a kill lands mid-run. float64: the same
numbers whatever the batch layout (a resumed run relaxes the rest in other batches)."""


def test_generate_killed_then_resumed(tiny_checkpoint: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "slow.toml").write_text(SLOW_MOLECULE)
    out, ref = tmp_path / "gen.extxyz", tmp_path / "ref.extxyz"
    argv = ["generate", str(tiny_checkpoint), "-c", "CH4", "--n", "16", "--batch-atoms", "10", "--seed", "3",
            "--protocol", str(tmp_path / "slow.toml"), "--no-progress", "--out"]
    run_then_kill(cli(*argv, str(out)), frames_written(out, 2))
    partial = attempts_in(out)
    assert 2 <= len(partial) < 16
    assert main([*argv, str(out)]) == 2  # a rerun without --resume would have lost them: refused
    assert "--resume" in capsys.readouterr().err and attempts_in(out) == partial
    assert main([*argv, str(out), "--resume"]) == 0
    assert main([*argv, str(ref)]) == 0
    resumed = {int(a.info["rm_attempt"]): a for a in ase.io.read(out, ":")}
    assert sorted(attempts_in(out)) == list(range(16))  # nothing lost, nothing twice
    for a in ase.io.read(ref, ":"):
        np.testing.assert_allclose(resumed[int(a.info["rm_attempt"])].positions, a.positions, atol=1e-5)


def test_train_cli_killed_then_resumed(tmp_path: Path) -> None:
    from ase.build import molecule

    ase.io.write(tmp_path / "mols.extxyz", [molecule(n) for n in ("H2O", "CH4", "NH3", "CH3OH")])
    config = ('data = "mols.extxyz"\nout = "run"\npreset = "qm7b"\nspecies = ["H", "C", "N", "O"]\n'
              "[model]\nn_embedding = 1\nhidden = [4]\n[train]\nepochs = 40\nbatch_size = 2\nvalid_fraction = 0.25\n")
    (tmp_path / "run.toml").write_text(config)
    metrics = tmp_path / "run" / "metrics.jsonl"
    run_then_kill(cli("train", str(tmp_path / "run.toml"), "--no-progress"),
                  lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 2)
    assert main(["train", str(tmp_path / "run.toml"), "--no-progress"]) == 2  # refused: an earlier run is there
    assert main(["train", str(tmp_path / "run.toml"), "--no-progress", "--resume"]) == 0
    epochs = [int(line.split('"epoch": ')[1].split(",")[0]) for line in metrics.read_text().splitlines()]
    assert epochs == list(range(40))
