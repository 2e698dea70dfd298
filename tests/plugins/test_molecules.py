"""ase_rm_molecules: bond perception, PoseBusters checks, counting rules, CLI."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

pytest.importorskip("rdkit")
pytest.importorskip("posebusters")

from ase_rm_molecules import (  # noqa: E402
    ALL_CHECKS,
    PAPER_CHECKS,
    MoleculeRecord,
    canonical_smiles,
    check_molecule,
    evaluate_frames,
    evaluate_molecules,
    format_markdown,
    is_neutral,
    known_smiles,
    perceive,
    qm7b_reference,
    summarise,
)
from ase_rm_molecules.reference import evenly_spaced  # noqa: E402

from ase_rm import RMError  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402


def failed(atoms: Atoms) -> set[str]:
    return {name for name, ok in check_molecule(perceive(atoms)).items() if not ok}


def stretched_co(length: float) -> Atoms:
    """Methanol with the C-O bond set to ``length`` Å (O and its H moved together)."""
    atoms = molecule("CH3OH")  # C, O, H(O), H, H, H
    assert atoms.get_chemical_symbols()[:3] == ["C", "O", "H"]
    bond = atoms.positions[1] - atoms.positions[0]
    atoms.positions[[1, 3]] += bond / np.linalg.norm(bond) * (length - np.linalg.norm(bond))
    return atoms


def record(group: str, ok: bool = True, converged: bool = True, smiles: str | None = "CCO",
           neutral: bool = True) -> MoleculeRecord:
    return MoleculeRecord(index=0, group=group, converged=converged, perceived=smiles is not None,
                          neutral=neutral, smiles=smiles, checks=dict.fromkeys(ALL_CHECKS, ok))


# --- perception and checks ---------------------------------------------------

@pytest.mark.parametrize(("name", "smiles"), [("CH3OH", "CO"), ("C6H6", "c1ccccc1")])
def test_ase_molecules_pass_every_check(name: str, smiles: str) -> None:
    atoms = molecule(name)
    before = atoms.positions.copy()
    mol = perceive(atoms)
    assert mol is not None and is_neutral(mol)
    assert mol.GetNumAtoms() == len(atoms)
    assert canonical_smiles(mol) == smiles
    assert failed(atoms) == set()
    np.testing.assert_array_equal(atoms.positions, before)  # input not modified


def test_water_fails_only_internal_energy() -> None:
    # PoseBusters' internal-energy check divides by the mean UFF energy of an
    # ensemble of conformers; for a rigid tiny molecule (H2O, CH4) that mean
    # is ~0, so the ratio explodes. Every other check passes.
    assert canonical_smiles(perceive(molecule("H2O"))) == "O"
    assert failed(molecule("H2O")) <= {"internal_energy"}


@pytest.mark.parametrize("length", [1.0, 1.8])
def test_bad_bond_length_fails_bond_lengths(length: float) -> None:
    bad = failed(stretched_co(length))
    assert "bond_lengths" in bad
    assert {"sanitization", "all_atoms_connected", "bond_angles", "internal_steric_clash"}.isdisjoint(bad)


def test_unperceivable_frame_fails_every_check() -> None:
    atoms = molecule("CH3CH2OH")  # C, C, O, H...
    atoms.positions[2] += [0.0, 0.0, 4.0]  # the O flies off: no closed-shell neutral bond orders
    assert perceive(atoms) is None
    assert canonical_smiles(None) is None and not is_neutral(None)
    assert check_molecule(None) == dict.fromkeys(ALL_CHECKS, False)
    (rec,) = evaluate_frames([atoms])
    assert not rec.perceived and not rec.all_pass and rec.smiles is None
    assert not any(rec.checks.values())


def test_charge_separated_perception_is_not_neutral() -> None:
    atoms = molecule("CH3CH2OH")
    atoms.positions[8] += [6.0, 0.0, 0.0]  # one H far away: perceived as [CH2-]CO.[H+]
    mol = perceive(atoms)
    assert mol is not None and not is_neutral(mol)
    assert {"all_atoms_connected"} <= failed(atoms)


def test_perceive_returns_none_for_empty_or_nan() -> None:
    assert perceive(Atoms()) is None
    assert perceive(Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]])) is None


# --- counting rules ----------------------------------------------------------

def test_rates_are_over_all_attempts() -> None:
    records = [
        record("A"), record("A"),
        record("A", converged=False),  # passes on geometry, but did not converge
        record("A", ok=False, smiles=None),  # not perceived
        record("B", neutral=False, smiles="[CH2-][NH3+]"),
    ]
    table = summarise(records)
    a = table.loc["A"]
    assert a["n_attempts"] == 4
    assert a["converged_pct"] == 75.0 and a["perceived_pct"] == 75.0
    assert a["all_pass"] == 50.0 and a["sanitization"] == 50.0
    assert table.loc["B", "all_pass"] == 100.0 and table.loc["B", "all_pass_neutral"] == 0.0
    assert list(table.index) == ["A", "B", "all"]
    assert table.loc["all", "n_attempts"] == 5 and table.loc["all", "all_pass"] == 60.0
    judged = summarise(records, unconverged_fail=False)
    assert judged.loc["A", "all_pass"] == 75.0 and judged.loc["A", "converged_pct"] == 75.0


def test_uniqueness_and_novelty_against_a_tiny_reference() -> None:
    reference = [molecule("CH3CH2OH"), molecule("C6H6")]
    known = known_smiles(reference)
    assert known == {"CCO", "c1ccccc1"}
    records = [record("G", smiles="CCO"), record("G", smiles="CCO"), record("G", smiles="COC"),
               record("G", ok=False, smiles="CC")]  # a failing molecule counts for neither
    row = summarise(records, known_smiles=known).loc["G"]
    assert row["n_all_pass"] == 3 and row["n_unique"] == 2
    assert row["unique_pct"] == pytest.approx(200 / 3)
    assert row["n_novel"] == 1 and row["novel_pct"] == 50.0
    assert math.isnan(summarise(records).loc["G", "novel_pct"])


def test_evaluate_molecules_groups_and_reference_row() -> None:
    frames = [molecule("CH3OH"), stretched_co(1.8)]
    frames[1].info.update(rm_formula="CH4O", rm_converged=True)
    frames[0].info["rm_converged"] = False
    table = evaluate_molecules(frames, reference=[molecule("C6H6")], known_smiles={"c1ccccc1"})
    assert list(table.index) == ["CH4O", "QM7b"]
    assert table.loc["CH4O", "n_attempts"] == 2
    assert table.loc["CH4O", "all_pass"] == 0.0  # one not converged, one bad bond
    assert table.loc["CH4O", "converged_pct"] == 50.0
    assert table.loc["QM7b", "all_pass"] == 100.0
    text = format_markdown(table, ["n_attempts", "all_pass"])
    assert "| CH4O | 2 | 0.0 |" in text


def test_evenly_spaced() -> None:
    frames = [Atoms("H", info={"i": i}) for i in range(10)]
    assert [a.info["i"] for a in evenly_spaced(frames, 4)] == [0, 3, 6, 9]
    assert len(evenly_spaced(frames, None)) == 10 and evenly_spaced(frames, 0) == []
    with pytest.raises(RMError):
        evenly_spaced(frames, -2)


# --- CLI ---------------------------------------------------------------------

def test_cli_writes_tables_and_heatmap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen = [molecule("CH3OH"), molecule("CH3OH"), molecule("C6H6")]
    for i, atoms in enumerate(gen):
        atoms.info.update(rm_formula=atoms.get_chemical_formula(), rm_converged=i != 1, rm_attempt=i)
    ase.io.write(tmp_path / "gen.extxyz", gen)
    ref_path = tmp_path / "ref.extxyz.gz"
    with gzip.open(ref_path, "wt") as fh:
        ase.io.write(fh, [molecule("C6H6"), molecule("CH3CH2OH")], format="extxyz")
    out = tmp_path / "eval"
    rc = main(["evaluate", "molecules", str(tmp_path / "gen.extxyz"), "--qm7b", str(ref_path),
               "--reference-limit", "1", "--out", str(out)])
    assert rc == 0
    for name in ("summary.csv", "summary.md", "molecules.csv", "heatmap.png", "molecules.png"):
        assert (out / name).stat().st_size > 0
    for name in ("heatmap.png", "molecules.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from ase_rm_molecules.gallery import SIZE
    from PIL import Image

    with Image.open(out / "molecules.png") as image:  # a valid PNG: two compositions, one row each
        image.verify()
    with Image.open(out / "molecules.png") as image:
        assert image.format == "PNG" and image.size == (SIZE[0], 2 * SIZE[1])  # one distinct molecule each
    printed = capsys.readouterr().out
    assert "| CH4O | 2 | 50.0 |" in printed and "QM7b (1)" in printed
    assert "molecules.png (representative molecules)" in printed
    lines = (out / "molecules.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("index,composition,converged")


def test_cli_missing_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "molecules", str(tmp_path / "nope.extxyz"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


# --- QM7b sample (shared data) -----------------------------------------------

def test_qm7b_sample_passes(shared_data: Path) -> None:
    sample = qm7b_reference(shared_data / "qm7b.extxyz.gz", limit=40)
    assert len(sample) == 40
    rates = summarise(evaluate_frames(sample, group="QM7b")).loc["QM7b"]
    assert rates["perceived_pct"] == 100.0
    assert rates["all_pass"] >= 95.0
    assert all(rates[c] >= 95.0 for c in PAPER_CHECKS)


def test_representatives_are_distinct_molecules_best_first() -> None:
    from ase_rm_molecules import representatives

    methanol, ethanol = molecule("CH3OH"), molecule("CH3CH2OH")
    frames = []
    for k, (atoms, energy, converged) in enumerate([(methanol, -2.0, False), (methanol, -1.0, True),
                                                   (methanol, -3.0, True), (ethanol, -1.0, True)]):
        atoms = atoms.copy()
        atoms.info.update(rm_energy=energy * len(atoms), rm_converged=converged, rm_attempt=k)
        frames.append(atoms)
    rows = representatives(frames, evaluate_frames(frames))
    assert [[r.index for r in row] for row in rows] == [[2], [3]]  # one methanol: the converged, lowest E~
    assert representatives(frames, evaluate_frames(frames), max_groups=1)[0][0].group == "CH4O"
