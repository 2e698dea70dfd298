"""Reading structures: every documented input format, and clear errors."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk, molecule

from ase_rm import RMError, as_atoms, read_structures
from ase_rm.structures import structures_from


def test_extxyz_and_gzip(tmp_path: Path) -> None:
    mols = [molecule("H2O"), molecule("CH4")]
    ase.io.write(tmp_path / "m.extxyz", mols)
    with gzip.open(tmp_path / "m.extxyz.gz", "wt") as fh:
        ase.io.write(fh, mols, format="extxyz")
    for name in ("m.extxyz", "m.extxyz.gz"):
        got = read_structures(tmp_path / name)
        assert [a.get_chemical_formula() for a in got] == ["H2O", "CH4"]


def test_ase_database(tmp_path: Path) -> None:
    from ase.db import connect

    db = connect(tmp_path / "s.db")
    db.write(bulk("Si"))
    db.write(bulk("Cu"))
    assert [a.get_chemical_formula() for a in read_structures(tmp_path / "s.db")] == ["Si2", "Cu"]


def test_folder_of_cifs(tmp_path: Path) -> None:
    ase.io.write(tmp_path / "a.cif", bulk("Si"))
    ase.io.write(tmp_path / "b.cif", bulk("NaCl", "rocksalt", a=5.6))
    got = read_structures(tmp_path)
    assert sorted(a.get_chemical_formula() for a in got) == ["ClNa", "Si2"]
    assert all(a.pbc.all() for a in got)


def test_mp20_csv_layout(tmp_path: Path) -> None:
    import io

    buf = io.BytesIO()
    ase.io.write(buf, bulk("Si"), format="cif")
    path = tmp_path / "mini.csv.gz"
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["material_id", "pretty_formula", "cif"])
        w.writerow(["mp-149", "Si", buf.getvalue().decode()])
    got = read_structures(path)
    assert got[0].get_chemical_formula() == "Si2" and got[0].info["material_id"] == "mp-149"


def test_shared_mp20_and_qm7b_files(shared_data: Path) -> None:
    qm7b = read_structures(shared_data / "qm7b.extxyz.gz", index=":50")
    assert len(qm7b) == 50 and not qm7b[0].pbc.any()
    rows = read_structures(shared_data / "diffcsp_15_compositions.csv")
    assert len(rows) == 15 and all(a.pbc.all() for a in rows)


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RMError, match="no such file"):
        read_structures(tmp_path / "missing.xyz")
    (tmp_path / "junk.xyz").write_text("this is not\nan xyz file\n")
    with pytest.raises(RMError, match="could not read structures"):
        read_structures(tmp_path / "junk.xyz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RMError, match="no \\*.cif"):
        read_structures(tmp_path / "empty")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RMError, match="no 'cif' column"):
        read_structures(tmp_path / "x.csv")


def test_pymatgen_objects_are_accepted() -> None:
    pytest.importorskip("pymatgen")
    from pymatgen.core import Lattice, Molecule, Structure

    s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    m = Molecule(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    a = as_atoms(s)
    assert type(a).__name__ == "Atoms" and a.pbc.all() and np.isclose(a.get_volume(), 64.0)
    assert [x.get_chemical_formula() for x in structures_from([s, m])] == ["ClNa", "H2O"]
