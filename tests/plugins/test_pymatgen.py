"""ase_rm_pymatgen: pymatgen in and out, space groups, duplicates, pseudo hull, CIFs, ``ase-rm analyse``."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule

pytest.importorskip("pymatgen")

from ase_rm_pymatgen import (  # noqa: E402
    RM_SPACEGROUP,
    RM_SPACEGROUP_NUMBER,
    RM_TIMES_FOUND,
    analyse_structures,
    find_duplicates,
    format_table,
    generate_structures,
    noise_structures,
    predict,
    pseudo_hull,
    relax_structures,
    spacegroup,
    to_atoms,
    to_pymatgen,
    write_cifs,
)
from pymatgen.core import Lattice, Molecule, Structure  # noqa: E402

from ase_rm import InvalidStructureError, RMCalculator, RMError, keys  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402
from ase_rm.rss import Stage, get_protocol  # noqa: E402

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "ase_rm_pymatgen"
CORE = Path(__file__).resolve().parents[2] / "ase_rm"
PUBLIC = {"ase_rm", "ase_rm.calculator", "ase_rm.checkpoint", "ase_rm.relaxation", "ase_rm.rss", "ase_rm.data",
          "ase_rm.keys", "ase_rm.outputs", "ase_rm.cli.args"}


def plugin_imports(folder: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every ``from ase_rm... import`` in a plugin."""
    out = []
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ase_rm":
                out.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "ase_rm"]
    return out


def test_plugin_uses_only_public_ase_rm_and_core_never_imports_plugins() -> None:
    for module, names in plugin_imports(PLUGIN):
        assert module in PUBLIC, module
        assert not [n for n in names if n.startswith("_")], (module, names)
    for path in CORE.rglob("*.py"):
        assert "ase_rm_pymatgen" not in path.read_text(), path


def diamond_structure(a: float = 3.57) -> Structure:
    structure = to_pymatgen(bulk("C", "diamond", a=a))
    assert isinstance(structure, Structure)
    return structure


def test_round_trip_keeps_properties() -> None:
    atoms = bulk("C", "diamond", a=3.57)
    atoms.info[keys.RM_ENERGY] = -1.5
    structure = to_pymatgen(atoms)
    assert isinstance(structure, Structure) and structure.properties[keys.RM_ENERGY] == -1.5
    back = to_atoms(structure)
    assert type(back) is Atoms and back.info[keys.RM_ENERGY] == -1.5
    np.testing.assert_allclose(back.positions, atoms.positions, atol=1e-10)
    mol = to_pymatgen(molecule("H2O"))
    assert isinstance(mol, Molecule) and not to_atoms(mol).pbc.any()
    slab = bulk("C", "diamond", a=3.57)
    slab.pbc = (True, True, False)
    with pytest.raises(InvalidStructureError, match="periodic along"):
        to_pymatgen(slab)


def test_noise_structures_returns_pymatgen_frames() -> None:
    frames = noise_structures(diamond_structure(), "crystal", seed=1)
    assert len(frames) == 11 and all(isinstance(f, Structure) for f in frames)
    assert np.asarray(frames[3].site_properties[keys.RM_FORCES]).shape == (2, 3)
    assert len(frames[3].properties[keys.RM_STRESS]) == 6
    again = noise_structures(diamond_structure(), "crystal", seed=1)
    assert np.allclose(frames[5].cart_coords, again[5].cart_coords)
    water = Molecule(["O", "H", "H"], [[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
    mols = noise_structures(water, "molecule")
    assert all(isinstance(m, Molecule) for m in mols)


def test_predict_matches_the_calculator(tiny_checkpoint: Path) -> None:
    calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    structure = diamond_structure()
    out = predict(structure, calc)
    atoms = to_atoms(structure)
    atoms.calc = calc
    assert out["energy"] == pytest.approx(atoms.get_potential_energy())
    np.testing.assert_allclose(out["forces"], atoms.get_forces())
    assert out["stress"].shape == (6,)
    mol = predict(Molecule(["C", "O"], [[0.0, 0.0, 0.0], [1.13, 0.0, 0.0]]), tiny_checkpoint)
    assert "stress" not in mol and mol["forces"].shape == (2, 3)


def test_relax_structures_annotates_results(tiny_checkpoint: Path) -> None:
    start = diamond_structure().copy()
    start.perturb(0.05, min_distance=0.05)
    (out,) = relax_structures(start, tiny_checkpoint, fmax=0.05, steps=20)
    assert isinstance(out, Structure) and out is not start
    for key in (keys.RM_ENERGY, keys.RM_CONVERGED, keys.RM_STEPS, RM_SPACEGROUP):
        assert key in out.properties
    mol = relax_structures([Molecule(["C", "O"], [[0.0, 0.0, 0.0], [1.3, 0.0, 0.0]])], tiny_checkpoint, steps=5)[0]
    assert isinstance(mol, Molecule) and RM_SPACEGROUP not in mol.properties


def test_spacegroup_of_known_crystals() -> None:
    assert spacegroup(diamond_structure()) == ("Fd-3m", 227)
    assert spacegroup(bulk("Cu", "fcc", a=3.6))[1] == 225
    with pytest.raises(RMError, match="molecule"):
        spacegroup(Molecule(["C"], [[0, 0, 0]]))  # type: ignore[arg-type]


def with_energy(structure: Structure, per_atom: float) -> Structure:
    s = structure.copy()
    s.properties[keys.RM_ENERGY] = per_atom * len(s)
    return s


def test_duplicates_point_to_the_lowest_energy_match() -> None:
    prim = diamond_structure()
    conventional = Structure(Lattice.cubic(3.57), ["C"] * 8, bulk("C", "diamond", a=3.57, cubic=True)
                             .get_scaled_positions())
    shifted = prim.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.1, 0.2, 0.3])
    simple_cubic = Structure(Lattice.cubic(1.8), ["C"], [[0, 0, 0]])
    structures = [with_energy(prim, -1.0), with_energy(simple_cubic, -3.0), with_energy(conventional, -2.0),
                  with_energy(shifted, -1.5)]
    assert find_duplicates(structures) == [2, -1, -1, 2]


def test_pseudo_hull_distances_and_missing_elements() -> None:
    lat = Lattice.cubic(3.0)
    c = with_energy(Structure(lat, ["C"], [[0, 0, 0]]), -1.0)
    o = with_energy(Structure(lat, ["O"], [[0, 0, 0]]), -1.0)
    co_low = with_energy(Structure(lat, ["C", "O"], [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]), -2.0)
    co_high = with_energy(Structure(lat, ["C", "O"], [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]), -1.5)
    assert pseudo_hull([co_low, co_high], references=[c, o]) == pytest.approx([0.0, 0.5])
    with pytest.raises(RMError, match="elemental structure of O"):
        pseudo_hull([co_low, c])


def test_write_cifs_round_trip(tmp_path: Path) -> None:
    (path,) = write_cifs([diamond_structure()], tmp_path / "cifs", symprec=0.1)
    assert path.name == "0000_C.cif"
    back = Structure.from_file(path)
    assert back.composition.reduced_formula == "C" and spacegroup(back)[1] == 227


def short_crystal_protocol():  # type: ignore[no-untyped-def]
    proto = get_protocol("crystal")
    return replace(proto, stages=(Stage(cell="constant_volume", fmax=0.05, max_steps=15),
                                  Stage(cell="full", fmax=0.05, max_steps=15)))


def test_generate_structures_ranked_deduplicated_reproducible(tiny_checkpoint: Path) -> None:
    kwargs = dict(n=4, protocol=short_crystal_protocol(), seed=3, volume_per_atom=8.0)
    found = generate_structures(tiny_checkpoint, "CO", **kwargs)  # type: ignore[arg-type]
    assert found and all(isinstance(s, Structure) for s in found)
    per_atom = [s.properties["rm_energy_per_atom"] for s in found]
    assert per_atom == sorted(per_atom)
    assert sum(s.properties[RM_TIMES_FOUND] for s in found) == 4
    assert all(1 <= s.properties[RM_SPACEGROUP_NUMBER] <= 230 for s in found)
    again = generate_structures(tiny_checkpoint, "CO", **kwargs)  # type: ignore[arg-type]
    assert [s.properties[keys.RM_ENERGY] for s in again] == [s.properties[keys.RM_ENERGY] for s in found]
    every = generate_structures(tiny_checkpoint, "CO", dedupe=False, **kwargs)  # type: ignore[arg-type]
    assert len(every) == 4


def test_generate_molecules_are_not_deduplicated(tiny_checkpoint: Path) -> None:
    proto = replace(get_protocol("molecule"), stages=(Stage(fmax=0.05, max_steps=10),))
    found = generate_structures(tiny_checkpoint, "CH4", n=2, protocol=proto)
    assert len(found) == 2 and all(isinstance(m, Molecule) for m in found)


def generated_file(tmp_path: Path) -> Path:
    frames = []
    for atoms, per_atom in [(bulk("C", "diamond", a=3.57), -2.0), (bulk("C", "diamond", a=3.57, cubic=True), -1.9),
                            (bulk("C", "sc", a=1.8), -1.0), (molecule("CH4"), -0.5)]:
        atoms.info.update({keys.RM_ENERGY: per_atom * len(atoms), keys.RM_CONVERGED: True})
        frames.append(atoms)
    path = tmp_path / "gen.extxyz"
    ase.io.write(path, frames, format="extxyz")
    return path


def test_analyse_table() -> None:
    frames = [bulk("C", "diamond", a=3.57), bulk("C", "diamond", a=3.57, cubic=True), molecule("CH4")]
    for atoms, e in zip(frames, (-2.0, -1.9, -0.5), strict=True):
        atoms.info[keys.RM_ENERGY] = e * len(atoms)
    rows = analyse_structures(frames, dedupe=True, hull=True, phonons=lambda a: (1.0, True))
    assert [r["duplicate_of"] for r in rows[:2]] == [-1, 0] and "duplicate_of" not in rows[2]
    assert rows[0]["e_above_hull"] == pytest.approx(0.0) and rows[1]["e_above_hull"] == pytest.approx(0.1)
    assert rows[0]["spacegroup"] == "Fd-3m" and rows[2]["spacegroup"] is None
    assert rows[0]["phonon_stable"] is True and "phonon_stable" not in rows[2]
    assert "Fd-3m" in format_table(rows).splitlines()[1]


def test_analyse_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = generated_file(tmp_path)
    args = ["analyse", str(path), "--dedupe", "--sort", "--cif-dir", str(tmp_path / "cifs"),
            "--csv", str(tmp_path / "t.csv")]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["index", "formula", "n_atoms", "energy_per_atom", "converged", "spacegroup",
                                "duplicate_of"]
    assert lines[1].split()[:6] == ["0", "C", "2", "-2.0000", "yes", "Fd-3m"]
    assert sorted(p.name for p in (tmp_path / "cifs").iterdir()) == ["0000_C.cif", "0002_C.cif"]
    assert (tmp_path / "t.csv").read_text().startswith("index,formula")


def test_analyse_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "co.extxyz"
    atoms = Atoms("CO", positions=[[0, 0, 0], [1.5, 1.5, 1.5]], cell=np.eye(3) * 3.0, pbc=True)
    atoms.info[keys.RM_ENERGY] = -2.0
    ase.io.write(path, [atoms], format="extxyz")
    assert main(["analyse", str(path), "--hull"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ase-rm analyse: error:") and "elemental structure of C, O" in err
    assert len(err.splitlines()) == 1
    assert main(["analyse", str(tmp_path / "missing.extxyz")]) == 2


def test_float64_checkpoint_load(tiny_checkpoint: Path) -> None:
    out = predict(diamond_structure(), tiny_checkpoint, dtype=torch.float64)
    assert np.isfinite(out["energy"])
