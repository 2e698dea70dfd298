"""Distributed training: torchrun with 2 CPU processes (gloo) matches one process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from ase_rm import NOISE_PRESETS
from ase_rm.cli.main import main
from ase_rm.data import NoisyDataset, balanced_shares

RUN = """data = "mols.extxyz"
out = "{out}"
preset = "qm7b"
species = ["H", "C", "N", "O"]
[model]
n_embedding = 1
hidden = [4]
[train]
epochs = 2
batch_size = 13
valid_fraction = 0.25
dtype = "float64"
"""


FLOAT64_MOLECULE = 'extends = "molecule"\n[engine]\ndtype = "float64"\n'
"""The molecule protocol in float64 (ranks and a single process give the same bits)."""

# 6 training molecules x 11 noise levels = 66 frames = 5 x 13 + 1: the last global
# batch has one frame, so one of the 2 ranks takes a zero-weighted placeholder step.


def _metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _failure(stderr: str, limit: int = 4000) -> str:
    """A failed run's stderr without DDP's per-step warnings (they hide the cause)."""
    return "\n".join(line for line in stderr.splitlines() if "reducer.cpp" not in line)[-limit:]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_two_gloo_ranks_match_a_single_process(tmp_path: Path) -> None:
    names = ("H2O", "CH4", "NH3", "CH3OH", "C2H6", "HCOOH", "C2H4", "H2CO")
    ase.io.write(tmp_path / "mols.extxyz", [molecule(n) for n in names])
    (tmp_path / "ddp.toml").write_text(RUN.format(out="ddp"))
    (tmp_path / "one.toml").write_text(RUN.format(out="one"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}  # a crashing rank shows its stack
    ddp = subprocess.run(
        ["torchrun", "--nproc_per_node", "2", "--master_port", "29531", "-m", "ase_rm.cli.main",
         "train", "ddp.toml", "--no-progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert ddp.returncode == 0, _failure(ddp.stderr)
    assert ddp.stdout.count("best checkpoint:") == 1  # only rank 0 reports
    assert "broadcast_buffers` is deprecated" not in ddp.stderr  # the current DDP keyword is used
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
    gen = ["generate", str(tiny_checkpoint), "-c", "CH4O", "-c", "C2H6", "--attempts", "3", "--protocol", "f64.toml",
           "--seed", "2", "--no-progress"]
    (tmp_path / "f64.toml").write_text(FLOAT64_MOLECULE)
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
    workers = subprocess.run([sys.executable, "-m", "ase_rm.cli.main", *gen, "--out", "w.extxyz", "--workers", "2"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert workers.returncode == 0, workers.stderr[-3000:]
    w = ase.io.read(tmp_path / "w.extxyz", ":")  # --workers 2 is the same torchrun run, launched for the user
    assert [x.info["rm_attempt"] for x in w] == list(range(6))
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, w, strict=True))
    again = subprocess.run([*torchrun, *gen, "--out", "ddp.extxyz", "--resume"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    c = ase.io.read(tmp_path / "ddp.extxyz", ":")
    assert [x.info["rm_attempt"] for x in c] == list(range(6))
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, c, strict=True))


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_best_of_over_two_workers_equals_selecting_from_a_plain_run(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """generate --workers 2 --best-of 2: the ranks' outputs and their .restarts files are merged, and
    the attempts are those ase-rm select --best-of 2 takes from a plain run with twice the attempts."""
    gen = ["generate", str(tiny_checkpoint), "-c", "CH4O", "-c", "C2H6", "--protocol", "f64.toml", "--seed", "4",
           "--no-progress"]
    (tmp_path / "f64.toml").write_text(FLOAT64_MOLECULE)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RM_DIST_BACKEND": "gloo"}
    stale = molecule("CH4")
    stale.info["rm_attempt"] = 100  # an earlier run's merged file: with --overwrite removed, not merged into
    ase.io.write(tmp_path / "best.restarts.extxyz", stale, format="extxyz")
    best = subprocess.run([sys.executable, "-m", "ase_rm.cli.main", *gen, "--attempts", "2", "--best-of", "2",
                           "--workers", "2", "--out", "best.extxyz", "--overwrite"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert best.returncode == 0, best.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("best*")) == ["best.extxyz", "best.restarts.extxyz"]
    plain = subprocess.run([sys.executable, "-m", "ase_rm.cli.main", *gen, "--attempts", "4", "--out", "plain.extxyz"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert main(["select", str(tmp_path / "plain.extxyz"), str(tmp_path / "sel.extxyz"), "--best-of", "2"]) == 0
    got, want = ase.io.read(tmp_path / "best.extxyz", ":"), ase.io.read(tmp_path / "sel.extxyz", ":")
    assert [x.info["rm_attempt"] for x in got] == [x.info["rm_attempt"] for x in want] == [0, 1, 2, 3]
    for x, y in zip(got, want, strict=True):
        assert x.info["rm_relaxation"] == y.info["rm_relaxation"] and x.info["rm_best_of"] == 2
        assert np.allclose(x.positions, y.positions, atol=1e-8)
    restarts = ase.io.read(tmp_path / "best.restarts.extxyz", ":")
    assert [x.info["rm_attempt"] for x in restarts] == list(range(8))


def test_balanced_shares_split_by_size() -> None:
    sizes = np.array([5, 23, 9, 14, 7, 18, 3])
    shares = balanced_shares(sizes, 2)
    assert sorted(np.concatenate(shares).tolist()) == list(range(7))  # each item once
    assert all(np.all(np.diff(s) > 0) for s in shares)  # ascending
    loads = [int(sizes[s].sum()) for s in shares]
    assert abs(loads[0] - loads[1]) <= 3  # 40 / 39 here; the round-robin split gives 42 / 37
    assert [len(s) for s in balanced_shares(np.array([4]), 3)] == [1, 0, 0]


@pytest.mark.parametrize("kind", ["molecule", "crystal"])
def test_rank_shares_make_up_the_global_batch(kind: str) -> None:
    """The ranks' shares of every global batch are the single process's frames,
    each batch carries the global force/stress counts, and a rank left without a
    frame (a last batch smaller than the world) gets a placeholder."""
    if kind == "molecule":
        structures = [molecule(n) for n in ("H2O", "CH4", "C2H6", "CH3OH", "NH3")]
    else:
        structures = [bulk("Si", "diamond", a=5.43), bulk("NaCl", "rocksalt", a=5.6) * (2, 1, 1)]
    ds = NoisyDataset(structures, NOISE_PRESETS[kind], seed=3)
    batch_size = {"molecule": 6, "crystal": 7}[kind]  # 55 = 9 x 6 + 1 and 22 = 3 x 7 + 1 frames
    one = list(ds.batches(1, batch_size, 4.0, torch.float64))
    assert one[-1].n_frames == 1
    ranks = [list(ds.batches(1, batch_size, 4.0, torch.float64, shard=(r, 2))) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(one)  # every rank takes every step
    for b, whole in enumerate(one):
        parts = [r[b] for r in ranks if not r[b].placeholder]
        assert sum(p.n_frames for p in parts) == whole.n_frames
        assert sum(r[b].placeholder for r in ranks) == (whole.n_frames < 2)
        got = torch.cat([p.forces for p in parts])
        assert torch.allclose(torch.sort(got.flatten()).values, torch.sort(whole.forces.flatten()).values)
        stress_components = 9.0 * whole.n_frames if kind == "crystal" else 0.0
        for r in ranks:
            assert r[b].totals == (3.0 * float(whole.graph.n_atoms.sum()), stress_components)
            assert float(r[b].has_stress.sum()) * 9.0 == (stress_components / whole.n_frames) * r[b].n_frames


def test_workers_forward_every_option_to_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    from ase_rm.cli.generate import run, worker_command
    from ase_rm.cli.main import build_parser
    from ase_rm.errors import ConfigError

    argv = ["--threads", "2", "generate", "qm7b", "-c", "C5H9NO", "-c", "C6H10O", "--n", "7", "--protocol", "fast.toml",
            "--out", "g.extxyz", "--workers", "3", "--volume-per-atom", "3.8:5.6"]
    args = build_parser().parse_args(argv)
    cmd = worker_command(args)
    assert cmd[:6] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3", "-m"]
    tail = cmd[cmd.index("generate"):]
    assert cmd[cmd.index("ase_rm.cli.main") + 1:cmd.index("generate")] == ["--threads", "1"]
    assert tail[:2] == ["generate", "qm7b"] and "--workers" not in tail
    assert tail[tail.index("--protocol") + 1] == "fast.toml"  # its [engine] table reaches every rank
    assert tail[tail.index("--attempts") + 1] == "7" and tail[tail.index("--volume-per-atom") + 1] == "3.8:5.6"
    assert [tail[k + 1] for k, x in enumerate(tail) if x == "--composition"] == ["C5H9NO", "C6H10O"]
    assert "--resume" not in tail and "--no-progress" not in tail  # flags left unset stay unset
    again = build_parser().parse_args(["generate", *tail[1:]])  # what each rank parses: the same values
    assert {k: v for k, v in vars(again).items() if k not in ("workers", "subparser", "threads")} == \
        {k: v for k, v in vars(args).items() if k not in ("workers", "subparser", "threads")}
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="under torchrun leave it out"):
        run(args)
    args.workers = 0
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        run(args)


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...); None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for folder in Path("/proc").glob("[0-9]*"):
        fields = _stat(folder.name)
        if fields is not None:  # else gone meanwhile
            parents[int(folder.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the ranks")
def test_killing_generate_workers_stops_its_ranks(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """SIGTERM to `ase-rm generate --workers 2` reaches torchrun and its ranks: none runs on orphaned,
    and what was written stays resumable."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RM_DIST_BACKEND": "gloo"}
    parent = subprocess.Popen([sys.executable, "-m", "ase_rm.cli.main", "generate", str(tiny_checkpoint),
                               "-c", "CH4O", "--attempts", "100000", "--protocol", "molecule", "--no-progress",
                               "--out", "w.extxyz", "--workers", "2"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = tmp_path / "w.rank0-of-2.extxyz"
    deadline = time.monotonic() + 240
    while not (part.exists() and part.stat().st_size > 0):  # the ranks are relaxing
        assert parent.poll() is None and time.monotonic() < deadline, "the ranks never started writing"
        time.sleep(0.2)
    below = _descendants(parent.pid)
    assert len(below) >= 3  # torchrun and its two ranks
    try:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=120) != 0
        deadline = time.monotonic() + 60
        while (alive := {pid for pid in below if _running(pid)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive, f"ranks still running after SIGTERM: {alive}"
    finally:  # a failing run leaves no orphans behind
        for pid in below:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
    assert ase.io.read(part, ":")  # the frames written before the kill read back


def test_a_group_the_package_opens_is_destroyed_at_exit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dist.from_env registers close_process_group with atexit when it opens the group.
    It first sleeps with the group still up (gloo's worker threads may still be
    freeing tensors, which takes the GIL: at finalisation that aborted a rank in
    CI), then destroys the group."""
    import atexit

    import torch.distributed as dist

    from ase_rm.training import distributed

    real_init = dist.init_process_group
    registered: list[object] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(  # a real one-rank group stands in for the launcher's world
        dist, "init_process_group",
        lambda backend: real_init(backend, init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1),
    )
    monkeypatch.setenv("WORLD_SIZE", "2")
    slept: list[tuple[float, bool]] = []
    monkeypatch.setattr(distributed.time, "sleep", lambda s: slept.append((s, dist.is_initialized())))
    assert not dist.is_initialized()
    try:
        assert distributed.Dist.from_env().world == 1
        assert registered == [distributed.close_process_group]
        assert dist.is_initialized()
        distributed.close_process_group()
        assert not dist.is_initialized() and slept == [(0.1, True)]
        distributed.close_process_group()  # a second call is a no-op
        assert len(slept) == 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
