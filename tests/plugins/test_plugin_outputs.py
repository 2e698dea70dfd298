"""The plugin commands claim their outputs like the core's: refused unless --overwrite,
or (csp, lis) continued, and checked before any work."""

from __future__ import annotations

from pathlib import Path

import ase.io
import pytest
from ase.build import bulk, molecule

from ase_rm.cli.main import main
from ase_rm.errors import OutputLocationError


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_evaluate_molecules_refuses_earlier_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("posebusters")
    ase.io.write(tmp_path / "gen.extxyz", [molecule("CH4")])
    out = tmp_path / "eval"
    out.mkdir()
    (out / "summary.csv").write_text("earlier\n")
    assert main(["evaluate", "molecules", str(tmp_path / "gen.extxyz"), "--out", str(out)]) == 2
    err = _one_error(capsys)
    assert "already holds summary.csv" in err and "--overwrite" in err
    assert (out / "summary.csv").read_text() == "earlier\n"


def test_evaluate_energies_refuses_earlier_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "corr"
    out.mkdir()
    (out / "energies.csv").write_text("earlier\n")
    assert main(["evaluate", "energies", "no-model", str(tmp_path / "d.extxyz"), "--out", str(out)]) == 2
    assert "already holds energies.csv" in _one_error(capsys)


def test_analyse_refuses_an_existing_csv_and_cifs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pymatgen")
    path = tmp_path / "s.extxyz"
    ase.io.write(path, [bulk("NaCl", "rocksalt", a=5.6)])
    (tmp_path / "t.csv").write_text("earlier\n")
    assert main(["analyse", str(path), "--csv", str(tmp_path / "t.csv")]) == 2
    assert "--overwrite" in _one_error(capsys)
    assert main(["analyse", str(path), "--csv", str(tmp_path / "t.csv"), "--overwrite"]) == 0
    assert "earlier" not in (tmp_path / "t.csv").read_text()
    (tmp_path / "cifs").mkdir()
    (tmp_path / "cifs" / "0000_NaCl.cif").write_text("earlier\n")
    capsys.readouterr()
    assert main(["analyse", str(path), "--cif-dir", str(tmp_path / "cifs")]) == 2
    assert "0000_NaCl.cif" in _one_error(capsys)


def test_embeddings_refuses_an_existing_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "e.png").write_bytes(b"earlier")
    assert main(["embeddings", "no-model", "--out", str(tmp_path / "e.png")]) == 2
    assert "--overwrite" in _one_error(capsys)


def test_csp_continues_by_default_and_overwrite_starts_afresh(tmp_path: Path) -> None:
    pytest.importorskip("pymatgen")
    from ase_rm_pymatgen.cli_csp import claim_campaign

    out = tmp_path / "csp"
    claim_campaign(str(out), overwrite=False)  # a new folder: nothing to do
    out.mkdir()
    (out / "generated.extxyz").write_text("frames\n")
    (out / "generated.json").write_text("{}\n")
    claim_campaign(str(out), overwrite=False)
    assert (out / "generated.extxyz").exists()
    claim_campaign(str(out), overwrite=True)
    assert not (out / "generated.extxyz").exists() and not (out / "generated.json").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputLocationError, match="is a file"):
        claim_campaign(str(tmp_path / "f" / "csp"), overwrite=False)
