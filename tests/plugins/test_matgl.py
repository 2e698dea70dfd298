"""matgl plugin: TensorNet / M3GNet as the RM denoiser through ase_rm's Potential,
checkpoint hook, RMCalculator and Trainer. Tiny configs, float64 contracts."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

pytest.importorskip("matgl")

from ase_rm_matgl import ARCHITECTURE, MatglConfig, MatglDenoiser  # noqa: E402

from ase_rm import NoiseConfig, Potential, RMCalculator, TrainConfig  # noqa: E402
from ase_rm.checkpoint import (  # noqa: E402
    MODEL_ENTRY_POINTS,
    atomic_save,
    config_class,
    load_potential,
    make_checkpoint,
    model_from_checkpoint,
)
from ase_rm.errors import CheckpointError, ConfigError  # noqa: E402
from ase_rm.testing import check_calculator_matches, default_structures, evaluate, run_contracts  # noqa: E402
from ase_rm.training.run import train  # noqa: E402

TINY = {
    "tensornet": MatglConfig(species=(1, 6, 8), net="tensornet", cutoff=3.0, units=8, nblocks=1, num_rbf=8),
    "m3gnet": MatglConfig(species=(1, 6, 8), net="m3gnet", cutoff=3.0, units=8, nblocks=1, max_n=2, max_l=2),
}


def test_architecture_entry_point_is_installed() -> None:
    """pyproject.toml registers the matgl architecture for checkpoint loading."""
    assert metadata.entry_points(group=MODEL_ENTRY_POINTS, name=ARCHITECTURE), (
        "reinstall ase-rm (pip install -e .) so the ase_rm.models entry point is registered"
    )


def model(net: str, dtype: torch.dtype = torch.float64, seed: int = 0) -> MatglDenoiser:
    return MatglDenoiser(TINY[net], torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("net", sorted(TINY))
def test_contracts_float64(net: str) -> None:
    run_contracts(Potential(model(net)))


@pytest.mark.parametrize("net", sorted(TINY))
def test_weights_come_from_the_generator_and_leave_the_global_rng_alone(net: str) -> None:
    state = torch.get_rng_state()
    a, b, c = model(net, seed=1), model(net, seed=1), model(net, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), k
    assert any(not torch.equal(x, z) for x, z in zip(a.state_dict().values(), c.state_dict().values(), strict=True))


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="net"):
        MatglConfig(species=(6,), net="megnet")
    with pytest.raises(ConfigError, match="unknown"):
        MatglConfig.from_dict({"species": [6], "n_bessel": 4})
    cfg = TINY["m3gnet"]
    assert MatglConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("net", sorted(TINY))
def test_checkpoint_is_self_describing_and_loads_through_the_hook(net: str, tmp_path: Path) -> None:
    path = tmp_path / f"{net}.pt"
    atomic_save(make_checkpoint(model(net), volume_fit={6: 5.7}), path)
    data = torch.load(path, weights_only=True)
    assert data["architecture"] == ARCHITECTURE and data["model_config"]["net"] == net
    assert config_class(data["architecture"]) is MatglConfig
    rebuilt = model_from_checkpoint(data)
    assert isinstance(rebuilt, MatglDenoiser)
    _, crystal, _ = default_structures(TINY[net].species)
    ref = evaluate(Potential(model(net)), [crystal], stress=True)
    out = evaluate(Potential(rebuilt), [crystal], stress=True)
    for key, value in ref.items():
        np.testing.assert_allclose(out[key], value, atol=1e-12, err_msg=key)
    potential, meta = load_potential(path, dtype=torch.float64)
    assert meta["architecture"] == ARCHITECTURE and meta["species"] == [1, 6, 8]
    check_calculator_matches(potential, lambda: RMCalculator.from_checkpoint(path, dtype=torch.float64), crystal)


def test_unknown_architecture_is_a_clear_error(tmp_path: Path) -> None:
    data = make_checkpoint(model("tensornet"))
    data["architecture"] = "no-such-net"
    with pytest.raises(CheckpointError, match="no-such-net"):
        model_from_checkpoint(data)


def test_native_checkpoints_without_the_key_still_load(tiny_checkpoint: Path) -> None:
    data = torch.load(tiny_checkpoint, weights_only=True)
    assert data["architecture"] == "cace"
    del data["architecture"]
    assert type(model_from_checkpoint(data)).__name__ == "Denoiser"


def test_training_a_matgl_denoiser_through_the_core_trainer(tmp_path: Path) -> None:
    cfg = MatglConfig(species=(6,), net="tensornet", cutoff=3.0, units=8, nblocks=1, num_rbf=8)
    noise = NoiseConfig(kind="crystal", levels=(0, 2, 8), displacement_scale=0.05, repulsion_rc=0.75,
                        label_noise=0.0, strain_scales=(-0.05, 0.0, 0.05))
    tcfg = TrainConfig(epochs=3, batch_size=2, warmup_epochs=1, stress_weight=1e4, dtype="float64",
                       checkpoint_every=0)
    cell = bulk("C", "diamond", a=3.57, cubic=True)
    result = train([cell], tmp_path / "run", cfg, noise, tcfg, progress=False)
    assert len(result.history) == 3 and all(np.isfinite(r["val_loss"]) for r in result.history)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["architecture"] == ARCHITECTURE
    data = torch.load(result.best_checkpoint, weights_only=True)
    assert data["architecture"] == ARCHITECTURE and 0 <= data["training_summary"]["best_epoch"] < 3
    again = train([cell], tmp_path / "run", cfg, noise, tcfg, progress=False, resume=True)  # finished: no-op
    assert len(again.history) == 3
    atoms = cell.copy()
    atoms.rattle(0.05, rng=np.random.default_rng(0))
    atoms.calc = RMCalculator.from_checkpoint(result.best_checkpoint)
    assert np.isfinite(atoms.get_forces()).all() and np.isfinite(atoms.get_stress()).all()
