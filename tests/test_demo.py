"""The diamond demo: structure classification, the Fig. 5 checks, and (slow) the full run."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from ase_rm import keys
from ase_rm.demo.carbon import describe, graphite, hexagonality, polytype
from ase_rm.demo.run import DemoConfig, DemoResult, checks, demo_attempts, training_cell
from ase_rm.errors import ConfigError


def _junk(seed: int, n: int = 8) -> Atoms:
    rng = np.random.default_rng(seed)
    atoms = Atoms(f"C{n}", cell=np.eye(3) * 3.3 + rng.normal(0, 0.3, (3, 3)), pbc=True)
    atoms.set_scaled_positions(rng.random((n, 3)))
    return atoms


def test_hexagonality_of_stackings() -> None:
    assert hexagonality("ABC") == [False] * 3 and hexagonality("AB") == [True, True]
    assert hexagonality("ABCB") == [True, False, True, False]  # 4H: half hexagonal


@pytest.mark.parametrize(
    ("atoms", "expected", "fraction"),
    [
        (bulk("C", "diamond", a=3.279, cubic=True), "cubic diamond", 0.0),
        (bulk("C", "diamond", a=3.57), "cubic diamond", 0.0),
        (bulk("C", "diamond", a=3.279, cubic=True).repeat((3, 3, 1)), "cubic diamond", 0.0),
        (polytype("ABC"), "cubic diamond", 0.0),
        (bulk("CC", "wurtzite", a=2.52, c=4.12, u=0.375), "hexagonal diamond", 1.0),  # lonsdaleite
        (polytype("AB", bond=1.5).repeat((1, 1, 2)), "hexagonal diamond", 1.0),
        (polytype("ABCB"), "stacking-faulted diamond", 0.5),  # 4H
        (polytype("ABCACB"), "stacking-faulted diamond", 1 / 3),  # 6H
        (polytype("ABCABCAB"), "stacking-faulted diamond", 0.25),  # cubic with one fault
        (graphite(), "graphite", None),
        (graphite(spacing=2.0).repeat((2, 1, 1)), "graphite", None),  # the model's compressed scale
        (bulk("C", "sc", a=1.6), "other", None),
        (_junk(0), "other", None),
        (_junk(1, 12), "other", None),
        (_junk(2, 2), "other", None),
    ],
)
def test_classify_ideal_structures(atoms: Atoms, expected: str, fraction: float | None) -> None:
    cls, frac = describe(atoms)
    assert cls == expected
    assert frac == (pytest.approx(fraction) if fraction is not None else None)


def test_classify_is_rotation_strain_and_noise_tolerant() -> None:
    atoms = polytype("AB").repeat((2, 1, 1))
    atoms.rotate(37, "x", rotate_cell=True)
    atoms.set_cell(atoms.cell.array * 1.03, scale_atoms=True)
    assert describe(atoms)[0] == "hexagonal diamond"
    faulted = polytype("ABCB").repeat((1, 2, 1))
    faulted.rattle(0.03, seed=1)
    assert describe(faulted) == ("stacking-faulted diamond", 0.5)


def test_classify_rejects_broken_networks() -> None:
    """A vacancy or a twisted bond makes a diamond "other"; buckled layers are not graphite."""
    vacancy = bulk("C", "diamond", a=3.279, cubic=True).repeat((2, 1, 1))
    del vacancy[0]
    assert describe(vacancy)[0] == "other"
    sheared = polytype("ABC")
    sheared.set_cell(sheared.cell.array @ np.array([[1, 0, 0], [0.0, 1, 0], [0.35, 0, 1]]), scale_atoms=True)
    assert describe(sheared)[0] == "other"
    buckled = graphite(spacing=2.0)
    buckled.positions[1, 2] += 0.5
    assert describe(buckled)[0] == "other"


def _fake(volume: float, energy: float, cls: str) -> Atoms:
    a = Atoms("C2")
    a.info.update({"volume_per_atom": volume, "energy_per_atom": energy, "class": cls,
                   keys.RM_CONVERGED: True})
    return a


def test_checks_find_the_minimum_and_the_exceptions() -> None:
    data = [_fake(v, (v - 4.4) ** 2 - 1.0, "cubic diamond") for v in (4.0, 4.2, 4.4, 4.6, 4.8)]
    data += [_fake(4.4, -0.5, "hexagonal diamond"), _fake(4.8, -0.9, "graphite")]
    unconverged = _fake(4.4, -5.0, "other")
    unconverged.info[keys.RM_CONVERGED] = False
    out = checks([*data, unconverged])
    assert out["unconverged"] == 1
    assert out["cubic_minimum_volume"] == 4.4 and out["cubic_minimum_fit"] == pytest.approx(4.4)
    assert out["volumes_where_cubic_is_not_lowest"] == [4.8] and not out["passed"]
    assert out["found_hexagonal"] and out["found_graphite"] and not out["found_stacking_faulted"]


def test_attempts_cover_sizes_and_volumes() -> None:
    cfg = DemoConfig(sizes=(2, 4), volumes=(4.0, 5.0), attempts=3)
    att = demo_attempts(cfg)
    assert len(att) == 12 and len({a.index for a in att}) == 12
    assert {a.start.volume_per_atom for a in att} == {4.0, 5.0}
    per_size = demo_attempts(DemoConfig(sizes=(2, 16), volumes=(4.4,), attempts=(1, 3)))
    assert [a.composition for a in per_size] == [(("C", 2),)] + [(("C", 16),)] * 3
    with pytest.raises(ConfigError, match="one per size"):
        DemoConfig(sizes=(2, 4), attempts=(1, 2, 3))
    with pytest.raises(ConfigError, match="one per size"):  # any sequence, e.g. a list from a run file
        DemoConfig(sizes=(2, 4), attempts=[1, 2, 3])  # type: ignore[arg-type]
    # the default: 32 starts per volume for 8 atoms, 4 for the other published sizes, 8 for any other
    assert DemoConfig().attempts_per_size() == {2: 4, 4: 4, 6: 4, 8: 32, 12: 4}
    assert len(demo_attempts(DemoConfig())) == 480
    assert DemoConfig(sizes=(8, 16)).attempts_per_size() == {8: 32, 16: 8}
    cell = training_cell(DemoConfig())
    assert len(cell) == 72 and cell.get_volume() / 72 == pytest.approx(4.41, abs=1e-3)  # the published cell


def test_core_repulsion_reaches_the_trained_model(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DemoConfig.core_radius/core_energy are the trained model's fixed core repulsion and energy_weight its
    energy-difference loss, label_repulsion_rc its noise labels' repulsion; the defaults are the published model."""
    import ase_rm.training.run as training
    from ase_rm.demo.run import train_model

    seen = []

    def fake_train(frames, out, model, noise, train, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((model, train, noise))
        raise RuntimeError("stop before training")

    monkeypatch.setattr(training, "train", fake_train)
    for cfg in (DemoConfig(core_radius=1.1, core_energy=2.0, energy_weight=1000.0, label_repulsion_rc=1.2),
                DemoConfig()):
        with pytest.raises(RuntimeError, match="stop before training"):
            train_model(cfg, tmp_path, progress=False)
    assert (seen[0][0].core_radius, seen[0][0].core_energy, seen[0][1].energy_weight) == (1.1, 2.0, 1000.0)
    assert seen[1][0].core_radius == 0.0 and seen[1][0].species == (6,) and seen[1][1].energy_weight == 0.0
    assert seen[0][2].repulsion_rc == 1.2 and seen[1][2].repulsion_rc == 0.75  # the labels' repulsion
    assert seen[0][2].strain_mode == seen[1][2].strain_mode == "grid"


def test_repulsion_reaches_the_searched_potential(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DemoConfig.repulsion is handed to load_potential for the search (None: the model alone)."""
    import ase_rm.checkpoint as checkpoint
    from ase_rm.demo.run import run_demo

    seen = []

    def fake_load(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("repulsion"))
        raise RuntimeError("stop before the search")

    monkeypatch.setattr(checkpoint, "load_potential", fake_load)
    for cfg in (DemoConfig(repulsion=(1.1, 5.0)), DemoConfig()):
        with pytest.raises(RuntimeError, match="stop before the search"):
            run_demo(tmp_path, cfg, checkpoint="diamond")
    assert seen == [(1.1, 5.0), None]


@pytest.fixture(scope="module")
def full_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    from ase_rm.demo.run import run_demo

    return run_demo(tmp_path_factory.mktemp("demo"), DemoConfig(), progress=False)


@pytest.mark.slow
def test_full_demo_reproduces_the_cubic_findings(full_demo: DemoResult) -> None:
    """The whole demo (about 10 CPU minutes): cubic diamond lowest everywhere, its minimum at
    4.4 +/- 0.15, hexagonal diamond found; every output written."""
    c = full_demo.checks
    assert c["cubic_lowest_at_every_volume"], c["volumes_where_cubic_is_not_lowest"]
    assert abs(c["cubic_minimum_volume"] - 4.41) <= 0.15
    assert c["found_hexagonal"], c["counts"]
    for name in ("structures.extxyz", "summary.csv", "energy_vs_volume.png", "structures.png"):
        assert (full_demo.out / name).stat().st_size > 0
    assert np.isfinite([a.info["energy_per_atom"] for a in full_demo.structures]).all()


@pytest.mark.slow
def test_full_demo_finds_every_family(full_demo: DemoResult) -> None:
    """With the default symmetric starts every family of Fig. 5 forms (from the published random
    starts graphite and stacking faults rarely do: docs/diamond.md)."""
    c = full_demo.checks
    assert c["found_stacking_faulted"] and c["found_graphite"] and c["passed"], c["counts"]

