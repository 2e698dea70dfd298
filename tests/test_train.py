"""Training: the recipe runs, writes metrics and a loadable best-EMA checkpoint,
is reproducible by seed, and resumes after kill -9 with nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from ase_rm import ModelConfig, NoiseConfig, RMCalculator, TrainConfig
from ase_rm.config import RunConfig
from ase_rm.errors import ConfigError, RMError
from ase_rm.training.run import load_run_config, split_by_structure, train

CARBON = ModelConfig(species=(6,), cutoff=3.0, n_embedding=1, hidden=(8,))
NOISE = NoiseConfig(kind="crystal", levels=(0, 2, 8), displacement_scale=0.05, repulsion_rc=0.75,
                    label_noise=0.0, strain_scales=(-0.05, 0.0, 0.05))
CFG = TrainConfig(epochs=4, batch_size=2, warmup_epochs=1, stress_weight=1e4, dtype="float64",
                  checkpoint_every=1, plateau_patience=1)
LOSS_KEYS = ("train_loss", "val_loss", "val_force_rmse", "val_stress_rmse", "lr")


def cell() -> object:
    return bulk("C", "diamond", a=3.57, cubic=True)


def losses(history: list[dict]) -> np.ndarray:
    return np.array([[row[k] for k in LOSS_KEYS] for row in history])


def test_training_writes_metrics_and_a_loadable_checkpoint(tmp_path: Path) -> None:
    result = train([cell()], tmp_path / "run", CARBON, NOISE, CFG, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert all(np.isfinite(r["val_loss"]) and r["frames_per_s"] > 0 for r in rows)
    assert [r["lr"] for r in rows][:2] == [pytest.approx(0.01), pytest.approx(0.01)]  # after 1 warm-up epoch
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["epochs"] == 4
    data = torch.load(result.best_checkpoint, weights_only=True)
    summary = data["training_summary"]
    assert summary["best_epoch"] == int(np.argmin([r["val_loss"] for r in rows]))
    assert summary["epochs_done"] == summary["best_epoch"] + 1 and summary["epochs_planned"] == 4
    assert summary["validation"] == "fresh noise of the training structures"
    assert data["noise_config"]["kind"] == "crystal" and data["volume_fit"] == {6: pytest.approx(5.6874, 1e-3)}
    atoms = cell()
    atoms.rattle(0.05, rng=np.random.default_rng(0))
    atoms.calc = RMCalculator.from_checkpoint(result.best_checkpoint)
    assert np.isfinite(atoms.get_stress()).all()


def test_training_reduces_the_validation_loss(tmp_path: Path) -> None:
    noise = NOISE.replace(levels=(0, 1, 2, 4, 8), strain_scales=(-0.05, -0.02, 0.0, 0.02, 0.05))
    cfg = CFG.replace(epochs=15, batch_size=1, plateau_patience=10, warmup_epochs=2, checkpoint_every=0)
    rows = train([cell()], tmp_path / "run", CARBON, noise, cfg, progress=False).history
    assert min(r["val_loss"] for r in rows[8:]) < 0.8 * rows[0]["val_loss"]


def test_cosine_schedule_decays_to_lr_final_and_resumes_on_the_same_curve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ase_rm.training import loop

    cfg = CFG.replace(epochs=5, schedule="cosine", lr_final=0.1, checkpoint_every=1)
    rows = train([cell()], tmp_path / "run", CARBON, NOISE, cfg, progress=False).history
    lrs = [r["lr"] for r in rows]
    assert lrs[0] == pytest.approx(0.01)  # the warm-up's end
    assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[-1] == pytest.approx(0.001)  # lr * lr_final at the last step
    # stopped inside epoch 3 (2 training steps and 1 validation call per epoch), then
    # resumed: the same learning rates and losses
    real, calls = loop.batch_loss, {"n": 0}

    def stop_in_epoch_3(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(loop, "batch_loss", stop_in_epoch_3)
        with pytest.raises(KeyboardInterrupt):
            train([cell()], tmp_path / "part", CARBON, NOISE, cfg, progress=False)
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 3
    resumed = train([cell()], tmp_path / "part", CARBON, NOISE, cfg, progress=False, resume=True).history
    assert [r["lr"] for r in resumed] == pytest.approx(lrs)
    assert np.allclose(losses(resumed), losses(rows), rtol=1e-10, atol=1e-12)
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(schedule="linear")
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_resume_accepts_a_state_written_before_a_train_field_existed(tmp_path: Path) -> None:
    """A state without a newer TrainConfig field (here the schedule) resumes when the field
    is at its default, i.e. what the old run did, and is refused when it is not."""
    cfg = CFG.replace(epochs=2, checkpoint_every=0)
    first = train([cell()], tmp_path / "run", CARBON, NOISE, cfg, progress=False).history
    path = tmp_path / "run" / "state.pt"
    state = torch.load(path, weights_only=True)
    for key in ("schedule", "lr_final"):
        del state["configs"]["train"][key]
    torch.save(state, path)
    again = train([cell()], tmp_path / "run", CARBON, NOISE, cfg, resume=True, progress=False).history
    assert np.array_equal(losses(again), losses(first))
    with pytest.raises(ConfigError, match="other configs"):
        train([cell()], tmp_path / "run", CARBON, NOISE, cfg.replace(schedule="cosine"), resume=True, progress=False)


def test_same_seed_same_loss_history(tmp_path: Path) -> None:
    a = train([cell()], tmp_path / "a", CARBON, NOISE, CFG, progress=False)
    b = train([cell()], tmp_path / "b", CARBON, NOISE, CFG, progress=False)
    c = train([cell()], tmp_path / "c", CARBON, NOISE, CFG.replace(seed=1), progress=False)
    assert np.array_equal(losses(a.history), losses(b.history))
    assert not np.allclose(losses(a.history), losses(c.history))


def test_crystal_energy_difference_loss_trains_and_lowers_its_error(tmp_path: Path) -> None:
    """energy_weight on a crystal: the batches carry the equilibrium cell and the energy
    difference enters the loss (its error falls with training, and the loss differs from
    the forces-and-stress-only run of the same seed)."""
    cfg = CFG.replace(epochs=6, energy_weight=1e4)
    result = train([cell()], tmp_path / "e", CARBON, NOISE, cfg, progress=False)
    rows = result.history
    assert all(np.isfinite(r["val_energy_rmse"]) for r in rows)
    assert rows[-1]["train_energy_rmse"] < rows[0]["train_energy_rmse"]
    plain = train([cell()], tmp_path / "p", CARBON, NOISE, CFG.replace(epochs=6), progress=False).history
    assert "val_energy_rmse" not in plain[0] and rows[-1]["train_loss"] != plain[-1]["train_loss"]


def test_molecules_split_by_structure_and_train_forces_only(tmp_path: Path) -> None:
    mols = [molecule(n) for n in ("H2O", "CH4", "NH3", "C2H6", "CH3OH", "HCOOH", "C2H4", "CH3CHO", "H2CO",
                                  "C2H2")]
    train_set, valid_set = split_by_structure(mols, 0.2, seed=0)
    assert len(train_set) == 8 and len(valid_set) == 2
    assert not {a.get_chemical_formula() for a in train_set} & {a.get_chemical_formula() for a in valid_set}
    model = ModelConfig(species=(1, 6, 7, 8), cutoff=3.0, n_embedding=2, hidden=(8,))
    cfg = TrainConfig(epochs=2, batch_size=11, valid_fraction=0.2, dtype="float64")
    result = train(mols, tmp_path / "mol", model, NoiseConfig(), cfg, progress=False)
    assert "val_stress_rmse" not in result.history[-1]
    assert torch.load(result.best_checkpoint, weights_only=True)["training_summary"]["n_valid_structures"] == 2


def test_resume_refuses_a_run_with_other_configs(tmp_path: Path) -> None:
    train([cell()], tmp_path / "part", CARBON, NOISE, CFG.replace(epochs=2), progress=False)
    with pytest.raises(Exception, match="other configs"):
        train([cell()], tmp_path / "part", CARBON, NOISE, CFG, resume=True, progress=False)


KILL_SCRIPT = """
import sys
from ase.build import bulk
from tests.test_train import CARBON, NOISE, CFG
from ase_rm.training.run import train
train([bulk("C", "diamond", a=3.57, cubic=True)], sys.argv[1], CARBON, NOISE, CFG.replace(epochs=30),
      progress=False)
"""


def test_kill_9_then_resume_loses_nothing(tmp_path: Path) -> None:
    run = tmp_path / "killed"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(run)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        metrics = run / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the training finished before it could be killed"
    done = len((run / "metrics.jsonl").read_text().splitlines())
    assert 2 <= done < 30
    resumed = train([cell()], run, CARBON, NOISE, CFG.replace(epochs=30), resume=True, progress=False)
    reference = train([cell()], tmp_path / "ref", CARBON, NOISE, CFG.replace(epochs=30), progress=False)
    assert len(resumed.history) == 30
    assert np.allclose(losses(resumed.history), losses(reference.history), rtol=1e-10, atol=1e-12)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == list(range(30)), "metrics lost or repeated"



def test_resume_mid_epoch_keeps_the_epoch_wall_time_and_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped inside an epoch reports that epoch's frames/s over its whole
    wall time (before and after the resume), not just the part after it."""
    from ase_rm.training import loop

    cfg = CFG.replace(epochs=2, batch_size=1, checkpoint_every=1, valid_fraction=0.0)
    real, calls = loop.batch_loss, {"n": 0}

    def slow_then_stop(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:  # the 4th of epoch 0's 6 steps: 3 are saved (checkpoint_every=1)
            raise KeyboardInterrupt
        time.sleep(0.25)
        return real(*args, **kwargs)

    cells = [cell(), bulk("C", "diamond", a=3.5, cubic=True)]
    with monkeypatch.context() as m:
        m.setattr(loop, "batch_loss", slow_then_stop)
        with pytest.raises(KeyboardInterrupt):
            train(cells, tmp_path / "run", CARBON, NOISE, cfg, progress=False)
    rows = train(cells, tmp_path / "run", CARBON, NOISE, cfg, resume=True, progress=False).history
    frames = [round(r["frames_per_s"] * r["epoch_seconds"]) for r in rows]
    assert frames == [6, 6]
    assert rows[0]["epoch_seconds"] >= 0.75  # the 3 slow steps before the stop count


def test_epoch_fraction_trains_on_a_fresh_seeded_subset_each_epoch(tmp_path: Path) -> None:
    from ase_rm.data import NoisyDataset

    cells = [cell(), bulk("C", "diamond", a=3.5, cubic=True)]
    data = NoisyDataset(cells, NOISE, seed=3)
    assert len(data) == 6 and data.epoch_size(0.5) == 3 and data.epoch_size(1.0) == 6
    first = data.order(0, fraction=0.5)
    assert first.tolist() == data.order(0)[:3].tolist()  # a prefix of the full shuffled epoch
    subsets = {tuple(sorted(data.order(e, fraction=0.5).tolist())) for e in range(8)}
    assert len(subsets) > 1  # a different subset in different epochs
    cfg = CFG.replace(epochs=2, batch_size=1, epoch_fraction=0.5, checkpoint_every=0, valid_fraction=0.0)
    rows = train(cells, tmp_path / "run", CARBON, NOISE, cfg, progress=False).history
    frames = [round(r["frames_per_s"] * r["epoch_seconds"]) for r in rows]
    assert frames == [3, 3]
    with pytest.raises(Exception, match="epoch_fraction"):
        TrainConfig(epoch_fraction=0.0)


def test_valid_limit_validates_on_a_seeded_subset(tmp_path: Path) -> None:
    cells = [bulk("C", "diamond", a=a, cubic=True) for a in (3.45, 3.5, 3.55, 3.6, 3.65)]
    cfg = CFG.replace(epochs=1, checkpoint_every=0)
    result = train([cell()], tmp_path / "run", CARBON, NOISE, cfg, valid_structures=cells, progress=False,
                   valid_limit=2)
    summary = torch.load(result.best_checkpoint, weights_only=True)["training_summary"]
    assert summary["n_valid_structures"] == 2


def test_train_on_valid_rest_trains_on_the_validation_structures_outside_the_subset(tmp_path: Path) -> None:
    cells = [bulk("C", "diamond", a=a, cubic=True) for a in (3.45, 3.5, 3.55, 3.6, 3.65)]
    frozen = CFG.replace(epochs=1, checkpoint_every=0, lr=1e-12, warmup_epochs=0)  # weights stay put
    kept = train([cell()], tmp_path / "kept", CARBON, NOISE, frozen, valid_structures=cells, progress=False,
                 valid_limit=2)
    rest = train([cell()], tmp_path / "rest", CARBON, NOISE, frozen, valid_structures=cells, progress=False,
                 valid_limit=2, train_on_valid_rest=True)
    summary = torch.load(rest.best_checkpoint, weights_only=True)["training_summary"]
    assert (summary["n_train_structures"], summary["n_valid_structures"]) == (4, 2)
    # same weights, same validation subset: the same validation loss with or without the option
    assert rest.history[0]["val_loss"] == pytest.approx(kept.history[0]["val_loss"], rel=1e-9)
    assert rest.history[0]["train_loss"] != pytest.approx(kept.history[0]["train_loss"], rel=1e-6)
    with pytest.raises(ConfigError, match="on 4 training and 2 validation structures, not 1 and 2"):
        train([cell()], tmp_path / "rest", CARBON, NOISE, frozen, valid_structures=cells, progress=False,
              valid_limit=2, resume=True)  # the same run without the option: other data
    with pytest.raises(RMError, match="train_on_valid_rest needs"):
        train([cell()], tmp_path / "bad", CARBON, NOISE, frozen, progress=False, train_on_valid_rest=True)
    with pytest.raises(ConfigError, match="train_on_valid_rest needs valid_data"):
        RunConfig(data="x.extxyz", train_on_valid_rest=True)


def test_init_starts_from_a_checkpoint_and_refuses_another_model(tmp_path: Path) -> None:
    first = train([cell()], tmp_path / "first", CARBON, NOISE, CFG.replace(epochs=3), progress=False)
    best_val = min(r["val_loss"] for r in first.history)
    frozen = CFG.replace(epochs=1, lr=1e-12, warmup_epochs=0)  # the weights stay where they start
    tuned = train([cell()], tmp_path / "tuned", CARBON, NOISE, frozen, progress=False,
                  init=first.best_checkpoint)
    fresh = train([cell()], tmp_path / "fresh", CARBON, NOISE, frozen, progress=False)
    assert tuned.history[0]["val_loss"] == pytest.approx(best_val, rel=1e-9)
    assert fresh.history[0]["val_loss"] != pytest.approx(best_val, rel=1e-3)
    summary = torch.load(tuned.best_checkpoint, weights_only=True)["training_summary"]
    assert summary["init"] == str(first.best_checkpoint)
    moved = first.best_checkpoint.rename(tmp_path / "moved.pt")  # a resumed run reads its own state, not init
    resumed = train([cell()], tmp_path / "tuned", CARBON, NOISE, frozen, progress=False, resume=True,
                    init=first.best_checkpoint)
    assert resumed.history == tuned.history
    other = CARBON.replace(hidden=(4,))
    with pytest.raises(ConfigError, match="differs from this run's in hidden"):
        train([cell()], tmp_path / "other", other, NOISE, frozen, progress=False, init=moved)


def test_run_file_init_is_a_file_beside_it_or_a_shipped_name(tmp_path: Path) -> None:
    (tmp_path / "start.pt").write_bytes(b"")
    (tmp_path / "a.toml").write_text('data = "d.extxyz"\ninit = "start.pt"\n')
    (tmp_path / "b.toml").write_text('data = "d.extxyz"\ninit = "qm7b"\n')
    assert load_run_config(tmp_path / "a.toml").init == str(tmp_path / "start.pt")
    assert load_run_config(tmp_path / "b.toml").init == "qm7b"


def test_snapshots_keep_the_ema_model_of_every_nth_epoch(tmp_path: Path) -> None:
    plain = train([cell()], tmp_path / "plain", CARBON, NOISE, CFG, progress=False)
    result = train([cell()], tmp_path / "run", CARBON, NOISE, CFG.replace(snapshot_every=2), progress=False)
    assert not (tmp_path / "plain" / "snapshots").exists()
    assert np.array_equal(losses(result.history), losses(plain.history))  # snapshots change no number
    assert sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir()) == ["epoch_0001.pt", "epoch_0003.pt"]
    snap = torch.load(tmp_path / "run" / "snapshots" / "epoch_0001.pt", weights_only=True)
    assert snap["training_summary"]["snapshot_epoch"] == 1
    assert snap["training_summary"]["val_loss"] == result.history[1]["val_loss"]
    atoms = cell()
    atoms.rattle(0.05, rng=np.random.default_rng(0))
    atoms.calc = RMCalculator.from_checkpoint(tmp_path / "run" / "snapshots" / "epoch_0001.pt")
    assert np.isfinite(atoms.get_forces()).all()
    # a run may resume with snapshot_every changed (not with a changed recipe)
    assert len(train([cell()], tmp_path / "plain", CARBON, NOISE, CFG.replace(snapshot_every=1), resume=True,
                     progress=False).history) == 4
    with pytest.raises(ConfigError, match="other configs"):
        train([cell()], tmp_path / "plain", CARBON, NOISE, CFG.replace(lr=0.02), resume=True, progress=False)
    with pytest.raises(ConfigError, match="snapshot_every"):
        CFG.replace(snapshot_every=-1)
