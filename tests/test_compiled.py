"""The compiled edge-gradient path of Potential: same energy, forces, stress and
training gradients as the autograd path. Traced by dynamo with the "eager"
backend here (no code generation: quick); the inductor build is a slow test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from ase_rm import Potential, TrainConfig
from ase_rm.graph import Frame, build_graph
from ase_rm.training.run import train

from .conftest import tiny_model
from .test_train import CARBON, CFG, LOSS_KEYS, NOISE, cell, losses


def structures() -> list:
    mol = molecule("CH3CH2OH")
    mol.rattle(0.05, rng=np.random.default_rng(1))
    crystal = bulk("C", "diamond", a=3.6, cubic=True)
    crystal.rattle(0.1, rng=np.random.default_rng(2))
    sheared = bulk("NC", "zincblende", a=3.7) * (2, 1, 1)
    sheared.set_cell(sheared.cell.array + [[0, 0.2, 0], [0, 0, 0.1], [0.1, 0, 0]], scale_atoms=True)
    sheared.rattle(0.1, rng=np.random.default_rng(3))
    return [mol, crystal, sheared]


def graph(atoms: list, dtype: torch.dtype = torch.float64):  # type: ignore[no-untyped-def]
    return build_graph([Frame.from_atoms(a) for a in atoms], tiny_model().cutoff, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compiled_path_gives_the_autograd_energy_forces_and_stress(dtype: torch.dtype) -> None:
    model = tiny_model(dtype)
    mol, *crystals = structures()
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    for batch, stress in (([mol, *crystals], False), (crystals, True)):
        g = graph(batch, dtype)
        ref = Potential(model)(g, forces=True, stress=stress)
        new = Potential(model, compiled=True, backend="eager")(g, forces=True, stress=stress)
        assert set(new) == set(ref)
        for key in ref:
            assert torch.allclose(new[key], ref[key], atol=tol, rtol=tol), key
        assert not any(v.requires_grad for v in new.values())


def test_static_degree_path_gives_the_autograd_forces_and_stress() -> None:
    """static_degree pads every atom to a multiple of 8 edges: same numbers, and
    graphs of other sizes run through the same compiled function."""
    model = tiny_model()
    mol, *crystals = structures()
    potential = Potential(model, compiled=True, backend="eager", static_degree=True)
    for batch, stress in (([mol, *crystals], False), (crystals, True), ([mol], False)):
        g = graph(batch)
        ref = Potential(model)(g, forces=True, stress=stress)
        new = potential(g, forces=True, stress=stress)
        for key in ref:
            assert torch.allclose(new[key], ref[key], atol=1e-10, rtol=1e-10), key
    g = graph([mol])
    _, _, slots, degree = model.layout(g.edge_index[0], g.edge_index[1], g.numbers, 8)
    _, _, _, exact = model.layout(g.edge_index[0], g.edge_index[1], g.numbers)
    assert degree % 8 == 0 and exact <= degree < exact + 8 and int(slots.max()) < g.numbers.shape[0] * degree
    with pytest.raises(ValueError, match="compiled path"):
        Potential(model, static_degree=True)


def test_compiled_path_gives_the_autograd_training_gradients() -> None:
    model = tiny_model()
    g = graph(structures()[1:])
    grads = []
    for potential in (Potential(model), Potential(model, compiled=True, backend="eager")):
        out = potential(g, forces=True, stress=True, create_graph=True)
        loss = (out["forces"] ** 2).sum() + 100 * (out["stress"] ** 2).sum()
        params = list(model.parameters())  # output biases never reach a force: zero gradient
        grads.append([torch.zeros_like(p) if d is None else d
                      for p, d in zip(params, torch.autograd.grad(loss, params, allow_unused=True), strict=True)])
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, atol=1e-10, rtol=1e-8)
    assert sum(float(a.abs().max()) > 0 for a in grads[0]) >= len(grads[0]) - 2


def test_compiled_path_needs_a_model_with_a_layout() -> None:
    class Pairwise(torch.nn.Module):
        cutoff = 3.0

        def forward(self, vectors, receivers, senders, numbers):  # type: ignore[no-untyped-def]
            return torch.zeros(numbers.shape[0])

    with pytest.raises(TypeError, match="layout"):
        Potential(Pairwise(), compiled=True)


def test_training_with_compile_gives_the_same_loss_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Potential, "default_backend", "eager")
    a = train([cell()], tmp_path / "a", CARBON, NOISE, CFG, progress=False)
    b = train([cell()], tmp_path / "b", CARBON, NOISE, CFG.replace(compile=True), progress=False)
    assert np.allclose(losses(a.history), losses(b.history), rtol=1e-8, atol=1e-10), LOSS_KEYS


def test_a_run_resumes_with_compile_switched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Potential, "default_backend", "eager")
    full = train([cell()], tmp_path / "full", CARBON, NOISE, CFG, progress=False)
    train([cell()], tmp_path / "run", CARBON, NOISE, CFG.replace(epochs=4), progress=False)
    # same run directory, compile on: accepted (a speed-only key), nothing to redo
    resumed = train([cell()], tmp_path / "run", CARBON, NOISE, CFG.replace(compile=True), resume=True,
                    progress=False)
    assert np.allclose(losses(resumed.history), losses(full.history))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside inductor's code generation
def test_inductor_build_matches_eager_for_inference_and_training() -> None:
    model = tiny_model(torch.float32)
    g = graph(structures()[1:], torch.float32)
    ref = Potential(model)(g, forces=True, stress=True)
    compiled = Potential(model, compiled=True)
    new = compiled(g, forces=True, stress=True)
    for key in ref:
        assert torch.allclose(new[key], ref[key], atol=1e-4, rtol=1e-4), key
    out = compiled(g, forces=True, stress=True, create_graph=True)
    loss = (out["forces"] ** 2).sum()
    (grad,) = torch.autograd.grad(loss, [model.mixing])
    ref_out = Potential(model)(g, forces=True, stress=True, create_graph=True)
    (ref_grad,) = torch.autograd.grad((ref_out["forces"] ** 2).sum(), [model.mixing])
    assert torch.allclose(grad, ref_grad, atol=1e-4, rtol=1e-3)
    assert TrainConfig(compile=True).compile
    static = Potential(model, compiled=True, static_degree=True)
    for batch in (structures()[1:], structures()[1:] + structures()[2:]):  # a second size: same function
        g = graph(batch, torch.float32)
        ref = Potential(model)(g, forces=True, stress=True)
        new = static(g, forces=True, stress=True)
        for key in ref:
            assert torch.allclose(new[key], ref[key], atol=1e-4, rtol=1e-4), key


def test_cli_generate_compile_gives_the_same_structures(tiny_checkpoint: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A protocol file's [engine] table switches torch.compile (and the precision) on for generate."""
    import ase.io

    from ase_rm import keys
    from ase_rm.cli.main import main

    monkeypatch.setattr(Potential, "default_backend", "eager")
    for name, compile_ in (("plain", "false"), ("compiled", "true")):
        (tmp_path / f"{name}.toml").write_text(
            f'extends = "diamond"\n[engine]\ndtype = "float64"\ncompile = {compile_}\n')
    args = ["generate", str(tiny_checkpoint), "--composition", "C4", "--n", "2", "--volume-per-atom", "4.5",
            "--no-progress"]
    for name in ("plain", "compiled"):
        protocol = str(tmp_path / f"{name}.toml")
        assert main([*args, "--protocol", protocol, "--out", str(tmp_path / f"{name}.extxyz")]) == 0
    plain, compiled = (ase.io.read(tmp_path / f"{n}.extxyz", ":") for n in ("plain", "compiled"))
    assert len(plain) == len(compiled) == 2
    for a, b in zip(plain, compiled, strict=True):
        assert a.info[keys.RM_ENERGY] == pytest.approx(b.info[keys.RM_ENERGY], abs=1e-8)
        assert np.allclose(a.positions, b.positions, atol=1e-6)
