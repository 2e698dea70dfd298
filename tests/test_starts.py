"""Random structure search: compositions, hydrogen enumeration, random starts, protocols."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_rm import RMError
from ase_rm.errors import ConfigError
from ase_rm.rss import (
    PROTOCOLS,
    HydrogenRule,
    Protocol,
    Stage,
    StartError,
    StartSpec,
    composition_numbers,
    crystal_start,
    enumerate_hydrogens,
    expand_compositions,
    format_formula,
    get_protocol,
    molecule_start,
    multiply,
    parse_formula,
    random_cell,
    random_start,
    target_volume,
)
from ase_rm.rss.starts import distance_matrix
from ase_rm.structures import check_atoms


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def closest_violation(atoms: Atoms, dmin: np.ndarray) -> float:
    """Smallest d_ij - dmin_ij over all pairs within reach, periodic images included (ASE)."""
    i, j, d = neighbor_list("ijd", atoms, float(dmin.max()) + 1e-9, self_interaction=False)
    return float((d - dmin[i, j]).min()) if len(d) else np.inf


# --- compositions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("C5H9NO", (("C", 5), ("H", 9), ("N", 1), ("O", 1))),
        ("KZnF3", (("K", 1), ("Zn", 1), ("F", 3))),
        ("C8", (("C", 8),)),
        ("Si2C4N8", (("Si", 2), ("C", 4), ("N", 8))),
        ("Li2S", (("Li", 2), ("S", 1))),
        ("C5O1N1", (("C", 5), ("O", 1), ("N", 1))),
        ("CH3CH3", (("C", 2), ("H", 6))),
        (" C7Cl ", (("C", 7), ("Cl", 1))),
    ],
)
def test_parse_formula(formula: str, expected: tuple) -> None:
    assert parse_formula(formula) == expected


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Xx2", "unknown element 'Xx'"),
        ("X", "unknown element 'X'"),
        ("C0H4", "zero count"),
        ("c5h9", "malformed"),
        ("C5-H9", "malformed"),
        ("Ca(OH)2", "malformed"),
        ("CL", "unknown element 'L'"),
    ],
)
def test_parse_formula_errors(formula: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_formula(formula)


def test_numbers_multiply_and_format() -> None:
    assert composition_numbers("Li2S").tolist() == [3, 3, 16]
    assert multiply("KZnF3", 2) == (("K", 2), ("Zn", 2), ("F", 6))
    assert format_formula(parse_formula("C5H9NO")) == "C5H9NO"
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="formula_units"):
            multiply("C", bad)  # type: ignore[arg-type]


SPEC_HYDROGENS = {
    "C5O1N1": ["C5H9NO", "C5H7NO"],
    "C4O1N2": ["C4H8N2O", "C4H6N2O"],
    "C6O1": ["C6H10O", "C6H8O", "C6H6O"],
    "C5O2Cl1": ["C5H7ClO2"],
    "C6O1N1": ["C6H11NO", "C6H9NO", "C6H7NO"],
    "C6O1S1": ["C6H10OS", "C6H8OS", "C6H6OS"],
    "C7Cl1": ["C7H11Cl", "C7H9Cl", "C7H7Cl"],
    "C7O1Cl1": ["C7H11ClO", "C7H9ClO", "C7H7ClO"],
    "C7O1N1": ["C7H13NO", "C7H11NO", "C7H9NO", "C7H7NO"],
    "C6O1N1Cl1": ["C6H10ClNO", "C6H8ClNO", "C6H6ClNO"],
}


@pytest.mark.parametrize("heavy", sorted(SPEC_HYDROGENS))
def test_hydrogen_enumeration_spec(heavy: str) -> None:
    """n_H = n_max, n_max - 2, ... >= 6 with n_max = 2 C + N - Cl - 2 (docs/method.md)."""
    comp = dict(parse_formula(heavy))
    n_max = 2 * comp.get("C", 0) + comp.get("N", 0) - comp.get("Cl", 0) - 2
    got = [format_formula(c) for c in enumerate_hydrogens(heavy)]
    assert got == SPEC_HYDROGENS[heavy]
    assert dict(enumerate_hydrogens(heavy)[0])["H"] == n_max


def test_hydrogen_rule_options_and_errors() -> None:
    saturated = HydrogenRule(unsaturation=0)
    assert saturated.n_max("C5ON") == 13
    assert [format_formula(c) for c in enumerate_hydrogens("C2", HydrogenRule(min_h=0))] == ["C2H2", "C2"]
    assert HydrogenRule.from_dict(saturated.to_dict()) == saturated
    with pytest.raises(ConfigError, match="no hydrogen count >= 6"):
        enumerate_hydrogens("C2O")
    with pytest.raises(ConfigError, match="no valence for K"):
        enumerate_hydrogens("C5K")
    with pytest.raises(ConfigError, match="contains H"):
        expand_compositions("C5H9NO", enumerate_h=True)
    assert expand_compositions("C5H9NO") == [parse_formula("C5H9NO")]
    assert [format_formula(c) for c in expand_compositions("C5ON", enumerate_h=True, formula_units=2)] == [
        "C10H18N2O2",
        "C10H14N2O2",
    ]


# --- molecule starts ----------------------------------------------------------


def test_molecule_start_box_composition_distance() -> None:
    atoms = molecule_start("C5H9NO", rng(3))
    assert atoms.get_chemical_formula() == "C5H9NO"
    assert not atoms.pbc.any()
    assert np.all(atoms.positions >= 0) and np.all(atoms.positions < [10.0, 5.0, 5.0])
    assert closest_violation(atoms, distance_matrix(atoms.numbers, 0.7)) >= 0
    check_atoms(atoms)


def test_molecule_start_pair_distances_and_small_box() -> None:
    pairs = {("H", "H"): 1.2, ("C", "O"): 1.5}
    atoms = molecule_start("C3H6O", rng(1), box=(3.0, 3.0, 3.0), min_distance=0.9, pair_distances=pairs)
    dmin = distance_matrix(atoms.numbers, 0.9, pairs)
    assert dmin[atoms.numbers == 1][:, atoms.numbers == 1].min() == 1.2
    assert closest_violation(atoms, dmin) >= 0
    assert np.all(atoms.positions < 3.0)


def test_same_seed_same_start_different_seed_differs() -> None:
    a, b, c = (molecule_start("C7H11NO", rng(s)) for s in (5, 5, 6))
    assert np.array_equal(a.positions, b.positions)
    assert not np.allclose(a.positions, c.positions)
    spec = PROTOCOLS["diamond"].start
    x, y, z = (random_start(spec, "C8", rng(s)) for s in (7, 7, 8))
    assert np.array_equal(x.cell.array, y.cell.array) and np.array_equal(x.positions, y.positions)
    assert not np.allclose(x.cell.array, z.cell.array)


@pytest.mark.parametrize("box", [(1.0, 1.0, 1.0), (3.0, 3.0, 3.0)])
def test_impossible_molecule_raises_fast(box: tuple[float, float, float]) -> None:
    start = time.perf_counter()
    with pytest.raises(StartError, match="box"):
        molecule_start("C40H40", rng(), box=box, tries_per_atom=200, restarts=3)
    assert time.perf_counter() - start < 5.0


# --- crystal starts -----------------------------------------------------------


def test_target_volume_sources() -> None:
    z = composition_numbers("KZnF3")
    volumes = {19: 40.0, 30: 15.0, 9: 10.0}
    assert target_volume(z, element_volumes=volumes) == pytest.approx(85.0)
    assert target_volume(z, element_volumes={"K": 40.0, "Zn": 15.0, "F": 10.0}) == pytest.approx(85.0)
    assert target_volume(z, volume_per_atom=12.0) == pytest.approx(60.0)
    draws = [target_volume(z, volume_range=(3.8, 5.6), rng=rng(s)) / 5 for s in range(50)]
    assert 3.8 <= min(draws) < max(draws) <= 5.6
    with pytest.raises(StartError, match="no fitted volume for F"):
        target_volume(z, element_volumes={19: 40.0, 30: 15.0})
    with pytest.raises(StartError, match="exactly one"):
        target_volume(z, volume_per_atom=1.0, volume_range=(1.0, 2.0), rng=rng())
    with pytest.raises(StartError, match="not positive"):
        target_volume(z, element_volumes={19: -40.0, 30: 1.0, 9: 1.0})


def test_random_cell_exact_volume_and_shape() -> None:
    for seed in range(20):
        cell = random_cell(37.5, rng(seed))
        assert abs(np.linalg.det(cell) / 37.5 - 1) < 1e-8
    assert not np.allclose(random_cell(10.0, rng(1)), np.eye(3) * 10 ** (1 / 3))
    assert np.allclose(random_cell(8.0, rng(1), shear=0.0), 2 * np.eye(3))


@pytest.mark.parametrize("seed", range(4))
def test_crystal_start_volume_and_periodic_distances(seed: int) -> None:
    volumes = {19: 40.0, 30: 15.0, 9: 10.0}
    spec = PROTOCOLS["crystal"].start
    atoms = random_start(spec, multiply("KZnF3", 2), rng(seed), element_volumes=volumes)
    assert atoms.pbc.all() and atoms.get_chemical_formula() == "F6K2Zn2"
    assert abs(atoms.get_volume() / 170.0 - 1) < 1e-8
    assert closest_violation(atoms, distance_matrix(atoms.numbers, 1.0)) >= 0
    check_atoms(atoms)


def test_small_cell_respects_periodic_images() -> None:
    """2 atoms in 8 Å^3 at 1.6 Å: only possible because images are checked."""
    for seed in range(10):
        atoms = crystal_start("C2", rng(seed), 8.0, min_distance=1.6)
        assert abs(atoms.get_volume() / 8.0 - 1) < 1e-8
        i, j, d = neighbor_list("ijd", atoms, 1.6 - 1e-9)
        assert len(d) == 0, f"pair {i[0]}-{j[0]} at {d[0]:.3f} Å (periodic image)"
    # the same check with mixed per-pair distances
    pairs = [("Si", "Si", 2.0), ("Si", "C", 1.5)]
    atoms = crystal_start("Si2C4", rng(2), 6 * 9.0, min_distance=1.2, pair_distances=pairs)
    assert closest_violation(atoms, distance_matrix(atoms.numbers, 1.2, pairs)) >= 0


def test_diamond_volume_range() -> None:
    per_atom = []
    for seed in range(10):
        atoms = random_start(PROTOCOLS["diamond"].start, "C4", rng(seed))
        per_atom.append(atoms.get_volume() / 4)
        assert closest_violation(atoms, distance_matrix(atoms.numbers, 0.7)) >= 0
    assert 3.8 <= min(per_atom) < max(per_atom) <= 5.6


@pytest.mark.parametrize(("volume", "match"), [(1.0, "cannot fit"), (22.0, "could not place")])
def test_impossible_crystal_raises_fast(volume: float, match: str) -> None:
    start = time.perf_counter()
    with pytest.raises(StartError, match=match):
        crystal_start("C8", rng(), volume, min_distance=1.5, tries_per_atom=200, restarts=5)
    assert time.perf_counter() - start < 5.0


def test_crystal_start_errors() -> None:
    with pytest.raises(StartError, match="per-element volumes"):
        random_start(PROTOCOLS["crystal"].start, "KZnF3", rng())
    with pytest.raises(RMError, match="unknown element 'Qq'"):
        distance_matrix([6], 1.0, [("Qq", "C", 1.0)])
    with pytest.raises(ConfigError, match="empty"):
        molecule_start("", rng())


# --- protocols ----------------------------------------------------------------


def test_protocol_presets_match_method() -> None:
    mol, dia, cry = PROTOCOLS["molecule"], PROTOCOLS["diamond"], PROTOCOLS["crystal"]
    assert mol.start.box == (10.0, 5.0, 5.0) and mol.start.min_distance == 0.7 and mol.attempts == 32
    assert [(s.cell, s.fmax, s.max_steps, s.kick) for s in mol.stages] == [
        (None, 1e-3, 500, None),
        (None, 2e-4, 1000, 0.75),
    ]
    assert dia.start.volume_range == (3.8, 5.6) and dia.start.min_distance == 0.7
    assert [(s.cell, s.fmax, s.max_steps, s.maxstep) for s in dia.stages] == [("constant_volume", 5e-4, 500, 0.01)]
    assert cry.start.min_distance == 1.0 and cry.attempts == 30
    assert [(s.cell, s.fmax, s.max_steps) for s in cry.stages] == [("constant_volume", 0.05, 100), ("full", 0.01, 2000)]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_protocol_round_trip(name: str) -> None:
    protocol = get_protocol(name)
    data = protocol.to_dict()
    assert isinstance(data["start"], dict) and isinstance(data["stages"][0], dict)
    assert Protocol.from_dict(data) == protocol


def test_protocol_files(tmp_path: Path) -> None:
    """--protocol takes a TOML/YAML file: the shipped basin-hopping file keeps the
    published molecule stages and adds two accept="lower" stages; a file's
    errors name the file."""
    hop = get_protocol(Path(__file__).parents[1] / "experiments" / "qm7b" / "hop.toml")
    assert hop.name == "hop" and hop.stages[:2] == PROTOCOLS["molecule"].stages
    assert [s.accept for s in hop.stages[2:]] == ["lower", "lower"] and hop.start == PROTOCOLS["molecule"].start
    preset = PROTOCOLS["molecule-hop"]  # the same stages and two more hops
    assert preset.stages[:4] == hop.stages and [s.name for s in preset.stages[4:]] == ["hop-3", "hop-4"]
    assert all(s.replace(name="hop") == hop.stages[2].replace(name="hop") for s in preset.stages[4:])
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("start: {kind: crystal, volume_per_atom: 9.0}\nstages: [{cell: full, fmax: 0.02}]\n")
    mine = get_protocol(yaml_file)
    assert mine.name == "mine" and mine.start.volume_per_atom == 9.0 and mine.stages[0].cell == "full"
    bad = tmp_path / "bad.toml"
    bad.write_text('[start]\nkind = "molecule"\n[[stages]]\naccept = "sometimes"\n')
    with pytest.raises(ConfigError, match="bad.toml.*Stage.accept"):
        get_protocol(bad)
    with pytest.raises(ConfigError, match="no such file"):
        get_protocol(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="unknown protocol 'mine.json'"):
        get_protocol("mine.json")


def test_protocol_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown protocol"):
        get_protocol("nope")
    with pytest.raises(ConfigError, match="Stage.cell"):
        Stage(cell="sideways")
    assert Stage.from_dict({"cell": "none"}).cell is None
    with pytest.raises(ConfigError, match="unknown Stage keys"):
        Stage.from_dict({"fmx": 0.1})
    with pytest.raises(ConfigError, match="cannot relax the cell"):
        Protocol(name="x", start=StartSpec(), stages=(Stage(cell="full"),))
    with pytest.raises(ConfigError, match="not both"):
        StartSpec(kind="crystal", volume_per_atom=5.0, volume_range=(4.0, 6.0))
    spec = StartSpec.from_dict({"kind": "crystal", "pair_distances": [["C", "H", 0.9]], "volume_per_atom": 9})
    assert spec.pair_distances == (("C", "H", 0.9),)
    assert StartSpec.from_dict(spec.to_dict()) == spec
