"""ase_rm_molecules energy correlation (Fig. 1): E~ in batches, Pearson R, held-out split, CLI, plots."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import logging
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase_rm_molecules.correlation import (
    ALL_LABEL,
    PER_ATOM,
    PER_MOLECULE,
    correlations,
    pearson,
    top_compositions,
)
from ase_rm_molecules.energies import EnergyTable, energy_table, pseudo_energies, reference_energies
from ase_rm_molecules.heldout import heldout_split

from ase_rm import ModelConfig, NoiseConfig, RMCalculator, RMError, TrainConfig, load_potential
from ase_rm.checkpoint import read_checkpoint
from ase_rm.cli.main import main
from ase_rm.training import run as train_run

NAMES = ("CH4", "NH3", "H2O", "C2H6", "CH3OH", "HCOOH", "C2H4", "CH3CHO", "H2CO", "C2H2", "CH3CH2OH", "CH3OCH3",
         "H3CNH2", "HCN", "CH3CN", "C3H8", "CH3COOH", "SH2", "CH3SH", "CH3Cl")
QM7B_SPECIES = (1, 6, 7, 8, 16, 17)
SMALL = ModelConfig(species=QM7B_SPECIES, cutoff=3.5, n_embedding=2, hidden=(8,))
SPLIT = TrainConfig(epochs=1, batch_size=40, valid_fraction=0.2, seed=3, warmup_epochs=0, checkpoint_every=0)


def small_molecules() -> list[Atoms]:
    """20 molecules of the QM7b elements with a made-up ``ae_pbe0`` (kcal/mol) and their position as ``tag``."""
    rng = np.random.default_rng(0)
    frames = []
    for k, name in enumerate(NAMES):
        atoms = molecule(name)
        atoms.info["ae_pbe0"] = -100.0 * len(atoms) + float(rng.normal(0.0, 5.0))
        atoms.info["tag"] = k
        frames.append(atoms)
    return frames


def read_list(source: Path | io.StringIO, format: str | None = None) -> list[Atoms]:
    frames = ase.io.read(source, index=":", format=format)
    assert isinstance(frames, list)
    return frames


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, set[int]]]:
    """A 1-epoch run on the 20 molecules (written to a file): checkpoint, data file, and the tags of the
    validation structures the trainer was really given (recorded by a spy on the Trainer)."""
    folder = tmp_path_factory.mktemp("energies")
    data = folder / "mols.extxyz"
    ase.io.write(data, small_molecules(), format="extxyz")
    seen: dict[str, list[Atoms]] = {}

    class Spy(train_run.Trainer):
        def __init__(self, run_dir, train_structures, valid_structures, *args, **kwargs):
            seen["train"], seen["valid"] = list(train_structures), list(valid_structures)
            super().__init__(run_dir, train_structures, valid_structures, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_run, "Trainer", Spy)
        result = train_run.train(str(data), folder / "run", SMALL, NoiseConfig(), SPLIT, progress=False)
    assert len(seen["train"]) == 16 and len(seen["valid"]) == 4
    yield result.best_checkpoint, data, {int(a.info["tag"]) for a in seen["valid"]}


# --- Pearson R and grouping ------------------------------------------------------


def test_pearson_equals_numpy_corrcoef() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    for y in (2.0 * x + rng.normal(size=50), -x + 0.1 * rng.normal(size=50), rng.normal(size=50)):
        assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
    assert pearson([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)  # signed


def test_pearson_is_nan_without_warnings_when_undefined() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(pearson([1.0], [2.0]))
        assert math.isnan(pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="same length"):
        pearson([1.0, 2.0], [1.0, 2.0, 3.0])


def table_of(formulas: list[str], n_atoms: list[int], pseudo: list[float], reference: list[float]) -> EnergyTable:
    return EnergyTable(np.arange(len(formulas)), tuple(formulas), np.array(n_atoms), np.array(pseudo, float),
                       np.array(reference, float))


def test_correlations_group_by_composition_per_atom() -> None:
    formulas = ["C2H6O"] * 4 + ["CH4O"] * 3 + ["CH4"] * 2 + ["H2O"]
    n_atoms = [9] * 4 + [6] * 3 + [5] * 2 + [3]
    rng = np.random.default_rng(2)
    pseudo = rng.normal(size=10) - np.array(n_atoms)
    reference = rng.normal(size=10) - 100.0 * np.array(n_atoms)
    table = table_of(formulas, n_atoms, list(pseudo), list(reference))
    assert top_compositions(table.formula, 2) == [("C2H6O", 4), ("CH4O", 3)]
    assert top_compositions(["b", "a", "b", "a", "c"], 3) == [("a", 2), ("b", 2), ("c", 1)]  # ties: alphabetical
    rows = correlations(table, top=3)
    assert [(r.label, r.n, r.quantity) for r in rows] == [
        (ALL_LABEL, 10, PER_MOLECULE), (ALL_LABEL, 10, PER_ATOM),
        ("C2H6O", 4, PER_ATOM), ("CH4O", 3, PER_ATOM), ("CH4", 2, PER_ATOM)]
    assert rows[0].r == pytest.approx(np.corrcoef(pseudo, reference)[0, 1])
    n = np.array(n_atoms)
    assert rows[1].r == pytest.approx(np.corrcoef(pseudo / n, reference / n)[0, 1])
    assert rows[2].r == pytest.approx(np.corrcoef(pseudo[:4] / 9, reference[:4] / 9)[0, 1])
    assert rows[3].r == pytest.approx(np.corrcoef(pseudo[4:7], reference[4:7])[0, 1])  # same n: same R
    assert abs(rows[4].r) == pytest.approx(1.0)  # two points
    assert len(correlations(table, top=0)) == 2


# --- energies --------------------------------------------------------------------


def test_missing_energy_key_is_a_clear_error() -> None:
    frames = small_molecules()
    with pytest.raises(RMError, match=r"frame 0 has no reference energy 'energy'.*ae_pbe0, tag"):
        reference_energies(frames, "energy")
    np.testing.assert_allclose(reference_energies(frames), [a.info["ae_pbe0"] for a in frames])


def test_batched_energies_equal_the_calculator(tiny_checkpoint: Path) -> None:
    frames = [molecule(n) for n in ("CH4", "C2H6", "CH3OH", "HCOOH", "CH3CHO", "H2O")]
    before = [a.positions.copy() for a in frames]
    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    expected = []
    for atoms in frames:
        a = atoms.copy()
        a.calc = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64)
        expected.append(a.get_potential_energy())
    calls: list[int] = []
    for max_atoms in (1, 10, 4096):  # one molecule per batch, a few, all at once
        np.testing.assert_allclose(pseudo_energies(potential, frames, max_atoms, calls.append), expected,
                                   rtol=1e-10, atol=1e-10)
    assert sum(calls) == 3 * len(frames)
    assert all(np.array_equal(a.positions, b) for a, b in zip(frames, before, strict=True))


def test_energy_table_rejects_unknown_elements(tiny_checkpoint: Path) -> None:
    potential, meta = load_potential(tiny_checkpoint)
    frames = small_molecules()
    table = energy_table(potential, frames[:5], species=meta["species"], indices=[4, 0])
    assert list(table.index) == [4, 0] and table.formula == ("CH4O", "CH4") and table.unit == "kcal/mol"
    with pytest.raises(RMError, match="frame 17 contains S"):
        energy_table(potential, frames, species=meta["species"])


# --- the held-out split ----------------------------------------------------------


def test_heldout_split_is_the_training_runs_validation_set(trained: tuple[Path, Path, set[int]]) -> None:
    checkpoint, data, valid_tags = trained
    meta = read_checkpoint(checkpoint)
    assert meta["train_config"]["seed"] == 3 and meta["training_summary"]["n_train_structures"] == 16
    frames = read_list(data)
    split = heldout_split(meta, frames)
    assert {int(frames[k].info["tag"]) for k in split.indices} == valid_tags
    assert list(split.indices) == sorted(valid_tags) and split.checked
    assert "4 of 20 molecules held out" in split.describe()


def test_heldout_split_refuses_other_data(trained: tuple[Path, Path, set[int]]) -> None:
    meta = read_checkpoint(trained[0])
    with pytest.raises(RMError, match="not what the model was trained on"):
        heldout_split(meta, small_molecules()[:15])
    no_split = {**meta, "training_summary": {"validation": "fresh noise of the training structures"}}
    with pytest.raises(RMError, match="trained on all"):
        heldout_split(no_split, small_molecules())
    with pytest.raises(RMError, match="no training config"):
        heldout_split({"train_config": {}}, small_molecules())


def test_heldout_split_without_counts_warns(caplog: pytest.LogCaptureFixture) -> None:
    meta = {"train_config": {"seed": 3, "valid_fraction": 0.2}, "training_summary": {}}
    with caplog.at_level(logging.WARNING, logger="ase_rm_molecules.heldout"):
        split = heldout_split(meta, small_molecules())
    assert len(split.indices) == 4 and not split.checked
    assert "cannot confirm" in caplog.text


# --- command line ----------------------------------------------------------------


def test_cli_heldout_writes_table_and_plots(trained: tuple[Path, Path, set[int]], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    checkpoint, data, valid_tags = trained
    out = tmp_path / "eval"
    assert main(["evaluate", "energies", str(checkpoint), str(data), "--heldout", "--out", str(out),
                 "--top-compositions", "2"]) == 0
    printed = capsys.readouterr().out
    assert "4 of 20 molecules held out" in printed and "| all | 4 | per molecule |" in printed
    with open(out / "energies.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["index"]) for r in rows] == sorted(valid_tags)  # tag == position in the file
    assert list(rows[0]) == ["index", "formula", "n_atoms", "e_pseudo_eV", "reference"]
    frames = small_molecules()
    for row in rows:
        atoms = frames[int(row["index"])]
        assert row["formula"] == atoms.get_chemical_formula() and int(row["n_atoms"]) == len(atoms)
        assert float(row["reference"]) == pytest.approx(atoms.info["ae_pbe0"], abs=1e-6)
    assert "Pearson R" in (out / "correlation.md").read_text()
    for name in ("scatter.png", "scatter_compositions.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_missing_key_is_one_clear_error(trained: tuple[Path, Path, set[int]], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint, data, _ = trained
    assert main(["evaluate", "energies", str(checkpoint), str(data), "--energy-key", "U0",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ase-rm evaluate: error: frame 0 has no reference energy 'U0'") and err.count("\n") == 1


def test_qm7b_default_key_and_units(shared_data: Path) -> None:
    lines = []
    with gzip.open(shared_data / "qm7b.extxyz.gz", "rt") as fh:  # the first 3 frames, without reading them all
        for _ in range(3):
            count = fh.readline()
            lines += [count, *itertools.islice(fh, int(count) + 1)]
    frames = read_list(io.StringIO("".join(lines)), format="extxyz")
    energies = reference_energies(frames)  # the default key: QM7b's ae_pbe0, kcal/mol
    assert energies[0] == pytest.approx(-420.93375)  # methane, as the data README states
    np.testing.assert_allclose(reference_energies(frames, "ae_pbe0_eV"), np.asarray(energies) / 23.045108)


# --- the QM7b experiment driver ----------------------------------------------------

DRIVER = Path(__file__).resolve().parents[2] / "experiments" / "qm7b" / "run.sh"


def run_driver(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "ASE_RM": f"{sys.executable} -m ase_rm.cli.main", **env}
    return subprocess.run(["bash", str(DRIVER), *args], capture_output=True, text=True, env=environ, check=False)


def test_driver_usage_and_missing_data(tmp_path: Path) -> None:
    usage = run_driver("--help")
    assert usage.returncode == 0 and "Usage:  bash experiments/qm7b/run.sh [--quick]" in usage.stdout
    assert run_driver("only-one-argument").returncode == 2
    assert run_driver("--fast", "m", "o").returncode == 2
    missing = run_driver("model.pt", str(tmp_path / "out"), DATA=str(tmp_path / "none.extxyz"))
    assert missing.returncode == 2 and "no QM7b file at" in missing.stderr


@pytest.mark.slow  # about 2 min on a busy 2-core machine: 1,500 FIRE steps per attempt with a 1-epoch model
def test_driver_quick_runs_every_step(trained: tuple[Path, Path, set[int]], tmp_path: Path) -> None:
    pytest.importorskip("rdkit")
    pytest.importorskip("posebusters")
    checkpoint, data, valid_tags = trained
    out = tmp_path / "qm7b"
    done = run_driver("--quick", str(checkpoint), str(out), DATA=str(data), THREADS="1")
    assert done.returncode == 0, done.stderr
    with open(out / "energies" / "energies.csv", newline="") as fh:
        assert {int(r["index"]) for r in csv.DictReader(fh)} == valid_tags
    formulas = {"in": {"C5H9NO", "C5H7NO"}, "ood": {"C5H7ClO2"}}  # C5O1N1 -> H 9, 7; C5O2Cl1 -> H 7
    for part, expected in formulas.items():
        frames = read_list(out / f"gen_{part}.extxyz")
        assert {a.info["rm_formula"] for a in frames} == expected and len(frames) == 2 * len(expected)
        assert (out / f"eval_{part}" / "summary.md").is_file() and (out / f"eval_{part}" / "heatmap.png").is_file()
