"""Checkpoint format: self-describing, safe loading, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ase_rm import CheckpointError, __version__
from ase_rm.checkpoint import FORMAT_VERSION, atomic_save, load_potential, read_checkpoint

from .conftest import tiny_model


def test_checkpoint_is_self_describing_and_weights_only(tiny_checkpoint: Path) -> None:
    data = torch.load(tiny_checkpoint, weights_only=True)
    for key in ("format_version", "package_version", "model_config", "state_dict", "species", "cutoff",
                "noise_config", "train_config", "training_summary", "volume_fit"):
        assert key in data
    assert data["format_version"] == FORMAT_VERSION and data["package_version"] == __version__
    assert data["species"] == [1, 6, 7, 8] and data["cutoff"] == 3.5


def test_round_trip_gives_the_same_model(tiny_checkpoint: Path) -> None:
    pot, meta = load_potential(tiny_checkpoint, dtype=torch.float64)
    ref = tiny_model()
    for k, v in ref.state_dict().items():
        assert torch.equal(pot.model.state_dict()[k], v)
    assert meta["volume_fit"] == {6: 5.7}


def test_corrupt_file(tmp_path: Path, tiny_checkpoint: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="not a readable ase_rm checkpoint"):
        read_checkpoint(bad)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable"):
        read_checkpoint(text)


@pytest.mark.parametrize("content", ["truncated", "text", "empty", "module", "object"])
def test_a_bad_checkpoint_is_explained_without_unsafe_advice(content: str, tmp_path: Path,
                                                             tiny_checkpoint: Path) -> None:
    import argparse

    bad = tmp_path / "bad.pt"
    if content == "truncated":
        bad.write_bytes(tiny_checkpoint.read_bytes()[:700])
    elif content == "text":
        bad.write_text("hello")
    elif content == "empty":
        bad.write_bytes(b"")
    elif content == "module":
        torch.save(torch.nn.Linear(2, 2), bad)
    else:
        torch.save({"format_version": argparse.Namespace(a=1)}, bad)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(bad)
    message = str(info.value)
    assert "weights_only" not in message and "trust" not in message and "\n" not in message
    expected = "safe loading refuses" if content in ("module", "object") else "damaged, truncated"
    assert expected in message


def test_a_run_folder_points_at_its_best_checkpoint(tmp_path: Path, tiny_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="give the checkpoint file inside it"):
        read_checkpoint(tmp_path)
    (tmp_path / "best.pt").write_bytes(tiny_checkpoint.read_bytes())
    with pytest.raises(CheckpointError, match=f"its checkpoint is {tmp_path / 'best.pt'}"):
        read_checkpoint(tmp_path)


def test_unknown_format_version(tmp_path: Path, tiny_checkpoint: Path) -> None:
    data = torch.load(tiny_checkpoint, weights_only=True)
    data["format_version"] = 99
    atomic_save(data, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        read_checkpoint(tmp_path / "future.pt")


def test_not_a_checkpoint_dict(tmp_path: Path) -> None:
    atomic_save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        read_checkpoint(tmp_path / "other.pt")


def test_atomic_save_leaves_no_partial_file(tmp_path: Path) -> None:
    class Unsaveable:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    target = tmp_path / "x.pt"
    atomic_save({"a": 1}, target)
    with pytest.raises(RuntimeError):
        atomic_save({"a": Unsaveable()}, target)
    assert torch.load(target, weights_only=True) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_damaged_weights_or_config_are_checkpoint_errors(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from ase_rm.checkpoint import load_potential

    data = torch.load(tiny_checkpoint, weights_only=True)
    name = next(iter(data["state_dict"]))
    data["state_dict"][name] = data["state_dict"][name].clone().fill_(float("nan"))
    torch.save(data, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="hold NaN or inf"):
        load_potential(tmp_path / "nan.pt")
    data = torch.load(tiny_checkpoint, weights_only=True)
    data["model_config"]["hidde\x07"] = data["model_config"].pop("hidden")
    torch.save(data, tmp_path / "config.pt")
    with pytest.raises(CheckpointError, match="model config is invalid"):
        load_potential(tmp_path / "config.pt")
