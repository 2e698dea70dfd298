"""The diamond demo: structure classification, the Fig. 5 checks, and (slow) the full run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from ase_rm import keys
from ase_rm.demo.carbon import classify, polytype, reference_polytypes
from ase_rm.demo.run import DemoConfig, checks, demo_attempts, training_cell

pytest.importorskip("pymatgen")


def graphite(c: float = 6.7) -> Atoms:
    atoms = Atoms("C4", cell=[[2.46, 0, 0], [-1.23, 2.13, 0], [0, 0, c]], pbc=True)
    atoms.set_scaled_positions([[0, 0, 0.25], [1 / 3, 2 / 3, 0.25], [0, 0, 0.75], [2 / 3, 1 / 3, 0.75]])
    return atoms


def test_reference_polytypes_are_distinct_and_labelled() -> None:
    refs = {seq: (label, n) for label, seq, _, n in reference_polytypes()}
    assert refs["ABC"] == ("cubic diamond", 2) and refs["AB"] == ("hexagonal diamond", 4)
    assert refs["ABAC"] == ("stacking-faulted diamond", 8)  # 4H
    assert len(refs) == len(set(refs))


@pytest.mark.parametrize(
    ("atoms", "expected"),
    [
        (bulk("C", "diamond", a=3.279, cubic=True), "cubic diamond"),
        (bulk("C", "diamond", a=3.57), "cubic diamond"),
        (polytype("AB", bond=1.5).repeat((1, 1, 2)), "hexagonal diamond"),
        (polytype("ABCB"), "stacking-faulted diamond"),
        (polytype("ABCACB"), "stacking-faulted diamond"),
        (graphite(), "graphite"),
        (bulk("C", "sc", a=1.6), "other"),
    ],
)
def test_classify(atoms: Atoms, expected: str) -> None:
    assert classify(atoms) == expected


def test_classify_is_rotation_and_strain_tolerant() -> None:
    atoms = polytype("AB").repeat((2, 1, 1))
    atoms.rotate(37, "x", rotate_cell=True)
    atoms.set_cell(atoms.cell.array * 1.03, scale_atoms=True)
    assert classify(atoms) == "hexagonal diamond"


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
    assert out["found_hexagonal"] and out["found_graphite"]


def test_attempts_cover_sizes_and_volumes() -> None:
    cfg = DemoConfig(sizes=(2, 4), volumes=(4.0, 5.0), attempts=3)
    att = demo_attempts(cfg)
    assert len(att) == 12 and len({a.index for a in att}) == 12
    assert {a.start.volume_per_atom for a in att} == {4.0, 5.0}
    cell = training_cell(DemoConfig())
    assert len(cell) == 72 and cell.get_volume() / 72 == pytest.approx(4.41, abs=1e-3)  # the published cell


@pytest.mark.slow
def test_full_demo_reproduces_fig5(tmp_path: Path) -> None:
    """The whole demo; cubic diamond lowest everywhere, minimum at 4.4 +/- 0.15, hex diamond and graphite."""
    from ase_rm.demo.run import run_demo

    result = run_demo(tmp_path, DemoConfig(), progress=False)
    c = result.checks
    assert c["cubic_lowest_at_every_volume"], c["volumes_where_cubic_is_not_lowest"]
    assert abs(c["cubic_minimum_volume"] - 4.41) <= 0.15
    assert c["found_hexagonal"] and c["found_graphite"]
    for name in ("structures.extxyz", "summary.csv", "energy_vs_volume.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert np.isfinite([a.info["energy_per_atom"] for a in result.structures]).all()
