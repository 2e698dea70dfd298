"""ase_rm_phonopy: the trained diamond cell is a minimum of E~; simple-cubic carbon is a saddle.

The saddle: shifting diamond's second fcc sublattice along [111] by t
(t = 1/4 is diamond) reaches, at t = 1/2, simple-cubic carbon (rocksalt with
one element) at the same density. Every atom is then an inversion centre, so
all forces vanish by symmetry, and the cell is cubic, so the stress is
hydrostatic: a stationary point of E~ at fixed volume, which a
constant-volume relaxation does not leave. E(t) = E(1 - t) (the two
sublattices swap), so t = 1/2 sits between diamond and its inverted twin:
along the sublattice shift (the Gamma optical mode of the 8-atom cell) the
curvature is negative. The tests check each of these statements.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

pytest.importorskip("phonopy")

from ase_rm_phonopy import mode_displacement, phonon_check, supercell_for  # noqa: E402

from ase_rm import MODEL_PRESETS, NOISE_PRESETS, TRAIN_PRESETS, InvalidStructureError, RMCalculator  # noqa: E402
from ase_rm.checkpoint import load_potential  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402
from ase_rm.relaxation import relax  # noqa: E402

LATTICE = 3.279
"""Å: the training cell (C-C 1.42 Å, 4.41 Å^3/atom)."""
PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "ase_rm_phonopy"
CORE = Path(__file__).resolve().parents[2] / "ase_rm"
PUBLIC = {"ase_rm", "ase_rm.calculator", "ase_rm.checkpoint", "ase_rm.relaxation", "ase_rm.rss", "ase_rm.data",
          "ase_rm.keys", "ase_rm.config", "ase_rm.cli.args", "ase_rm.outputs"}


@pytest.fixture(scope="session")
def diamond_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick diamond model (~10 s): its minimum is the 8-atom training cell."""
    from ase_rm.training.run import train

    result = train([training_cell()], tmp_path_factory.mktemp("diamond"), MODEL_PRESETS["diamond"],
                   NOISE_PRESETS["crystal"], TRAIN_PRESETS["diamond"].replace(epochs=30), progress=False,
                   name="diamond")
    return Path(result.best_checkpoint)


@pytest.fixture(scope="module")
def calc(diamond_model: Path) -> RMCalculator:
    return RMCalculator.from_checkpoint(diamond_model, dtype=torch.float64)


def training_cell() -> Atoms:
    return bulk("C", "diamond", a=LATTICE, cubic=True)


def sublattice_shift(t: float) -> Atoms:
    """The training cell with the second fcc sublattice at (t, t, t) instead of (1/4, 1/4, 1/4)."""
    atoms = training_cell()
    scaled = atoms.get_scaled_positions()
    scaled[1::2] += t - 0.25
    atoms.set_scaled_positions(scaled)
    return atoms


def energy(atoms: Atoms, calc: RMCalculator) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    return float(atoms.get_potential_energy())


def test_plugin_uses_only_public_ase_rm_and_core_never_imports_plugins() -> None:
    for path in PLUGIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ase_rm":
                assert node.module in PUBLIC, (path, node.module)
                assert not [a.name for a in node.names if a.name.startswith("_")], path
    assert not [p for p in CORE.rglob("*.py") if "ase_rm_phonopy" in p.read_text()]


def test_supercell_for_reaches_the_minimum_width() -> None:
    np.testing.assert_array_equal(supercell_for(training_cell(), 6.0), np.diag([2, 2, 2]))
    np.testing.assert_array_equal(supercell_for(training_cell(), 3.0), np.eye(3))
    prim = bulk("C", "diamond", a=LATTICE)  # fcc cell: plane spacing a / sqrt(3)
    assert supercell_for(prim, 6.0).diagonal().tolist() == [4, 4, 4]


def test_training_cell_is_a_minimum(calc: RMCalculator) -> None:
    result = phonon_check(training_cell(), calc)
    assert result.max_force < 1e-8  # stationary by symmetry
    np.testing.assert_array_equal(result.supercell_matrix, np.diag([2, 2, 2]))
    assert result.stable and result.n_imaginary == 0
    gamma = result.frequencies[0]
    assert np.abs(gamma[:3]).max() < 1e-3  # acoustic modes
    assert gamma[3] > 1.0 and result.frequencies[1:].min() > 1.0  # THz: every other mode clearly real


def test_simple_cubic_carbon_is_a_saddle(calc: RMCalculator, diamond_model: Path) -> None:
    path = [energy(sublattice_shift(t), calc) for t in (0.25, 0.3, 0.4, 0.5, 0.6, 0.75)]
    assert path[0] < path[1] < path[2] < path[3] and path[3] > path[4] > path[5]  # maximum at t = 1/2
    assert path[0] == pytest.approx(path[5]) and path[2] == pytest.approx(path[4])  # E(t) = E(1 - t)
    potential, _ = load_potential(diamond_model, dtype=torch.float64)
    (saddle,) = relax(potential, [sublattice_shift(0.5)], fmax=1e-4, steps=200, cell="constant_volume")
    assert saddle.info["rm_converged"]  # the relaxation stops on it ...
    assert np.abs(saddle.positions - sublattice_shift(0.5).positions).max() < 1e-8  # ... without moving
    result = phonon_check(saddle, calc)
    assert result.max_force < 1e-8
    assert not result.stable and result.lowest_frequency < -1.0
    np.testing.assert_allclose(result.lowest_qpoint, 0.0)  # the sublattice-shift (Gamma optical) mode
    mode = mode_displacement(result, q_index=0, mode=0)
    e0 = energy(saddle, calc)
    for h in (0.03, -0.03):  # negative curvature both ways along the unstable mode
        moved = saddle.copy()
        moved.positions = moved.positions + h * mode
        assert energy(moved, calc) < e0 - 1e-4


def test_accepts_pymatgen_and_rejects_molecules(calc: RMCalculator) -> None:
    pytest.importorskip("pymatgen")
    from pymatgen.io.ase import AseAtomsAdaptor

    result = phonon_check(AseAtomsAdaptor.get_structure(training_cell()), calc, supercell=1)
    assert result.stable and result.frequencies.shape == (1, 24)
    with pytest.raises(InvalidStructureError, match="3-D periodic"):
        phonon_check(Atoms("C2", positions=[[0, 0, 0], [1.4, 0, 0]]), calc)
    with pytest.raises(ValueError, match="supercell"):
        phonon_check(training_cell(), calc, supercell=[1, 2])


def test_phonons_cli(diamond_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rattled = training_cell()
    rattled.positions[0] += [0.05, 0.0, 0.0]
    path = tmp_path / "three.extxyz"
    ase.io.write(path, [training_cell(), sublattice_shift(0.5), rattled], format="extxyz")
    assert main(["phonons", str(diamond_model), str(path), "--supercell", "1", "1", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-1] == "minimum" and "saddle" in lines[2] and "not stationary" in lines[3]
    assert lines[1].split()[2] == "1x1x1"
    assert main(["phonons", str(diamond_model), str(tmp_path / "nope.cif")]) == 2


def test_analyse_reports_phonons(diamond_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pymatgen")
    path = tmp_path / "gen.extxyz"
    ase.io.write(path, [training_cell(), sublattice_shift(0.5)], format="extxyz")
    assert main(["analyse", str(path), "--phonons", str(diamond_model)]) == 0
    header, stable, saddle = capsys.readouterr().out.splitlines()[:3]
    assert header.split()[-2:] == ["phonon_lowest_thz", "phonon_stable"]
    assert stable.split()[-1] == "yes" and saddle.split()[-1] == "no"


@pytest.mark.parametrize("bad", [["--supercell", "0", "1", "1"], ["--supercell", "2", "-1", "2"],
                                 ["--min-length", "0"], ["--displacement", "-0.01"], ["--tolerance", "-1"]])
def test_phonons_cli_refuses_bad_numbers_at_parse_time(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["phonons", "m", "in.cif", *bad])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ase-rm phonons: error: argument") and "Traceback" not in "\n".join(err)
