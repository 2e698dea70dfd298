"""The molecules plugin's bond and valence screens (ase_rm_molecules.screen), and best-of-K ranked
by them through the core's ``ase_rm.rankings`` entry points."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase_rm_molecules.screen import (
    bond_problem,
    passes_bond_screen,
    passes_valence_screen,
    screen_verdicts,
    screened_rank_key,
    valence_problem,
    valence_rank_key,
)

from ase_rm import keys
from ase_rm.cli.main import main
from ase_rm.errors import RMError
from ase_rm.rss import best_of_blocks, rank_key, ranking

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared_rankings() -> dict[str, str]:
    """The ``ase_rm.rankings`` entry points pyproject.toml declares."""
    import tomllib

    return tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["ase_rm.rankings"]


@pytest.fixture(autouse=True)
def installed_rankings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rankings as an installed distribution registers them (pyproject.toml's entry points),
    whatever the environment was installed from: new entry points need a reinstall."""
    import importlib.metadata

    real = importlib.metadata.entry_points

    def entry_points(**select: str):  # type: ignore[no-untyped-def]
        if select.get("group") != "ase_rm.rankings":
            return real(**select)
        declared = declared_rankings().items()
        return importlib.metadata.EntryPoints(
            importlib.metadata.EntryPoint(name, value, "ase_rm.rankings") for name, value in declared)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_the_plugin_registers_bonds_and_valence_and_the_core_finds_them() -> None:
    from ase_rm.rss import ranking_names

    assert declared_rankings() == {"bonds": "ase_rm_molecules.screen:screened_rank_key",
                                   "valence": "ase_rm_molecules.screen:valence_rank_key"}
    assert ranking_names() == ["energy", "bonds", "valence"]
    assert ranking("bonds") is screened_rank_key and ranking("valence") is valence_rank_key
    core = Path(__file__).resolve().parents[2] / "ase_rm"
    assert not [p for p in core.rglob("*.py") if "ase_rm_molecules" in p.read_text()]  # found by entry point only


def overbonded_carbon() -> Atoms:
    """CH4 with a fifth H 1.1 Å below the carbon: a carbon with five bonded neighbours."""
    atoms = molecule("CH4")
    atoms += Atoms("H", positions=[[0.0, 0.0, -1.1]])
    return atoms


def test_real_molecules_pass() -> None:
    for name in ("CH4", "H2O", "CH3CH2OH", "C6H6", "CH3CONH2", "CH3Cl", "CH3SH"):
        assert bond_problem(molecule(name)) is None, name
    assert passes_bond_screen(molecule("NH3"))


def test_over_coordination_and_fragments_fail() -> None:
    problem = bond_problem(overbonded_carbon())
    assert problem is not None and "(C) has 5 bonded neighbours (at most 4)" in problem
    apart = molecule("CH4") + Atoms("H2O", positions=molecule("H2O").positions + [8.0, 0.0, 0.0])
    problem = bond_problem(apart)
    assert problem is not None and "3 of 8 atoms are not bonded to the rest" in problem
    # an H between two carbons 1.2 Å from each: H with two neighbours
    bridge = Atoms("CHC", positions=[[0, 0, 0], [1.2, 0, 0], [2.4, 0, 0]])
    assert "(H) has 2 bonded neighbours (at most 1)" in str(bond_problem(bridge))
    nan = molecule("CH4")
    nan.positions[0, 0] = np.nan
    assert bond_problem(nan) == "non-finite positions"
    assert bond_problem(Atoms()) == "no atoms"


def test_scale_sets_the_bond_length() -> None:
    stretched = Atoms("H2", positions=[[0, 0, 0], [0.9, 0, 0]])  # 1.45 x the sum of H radii (0.62 Å)
    assert not passes_bond_screen(stretched)  # two fragments at the default 1.3
    assert passes_bond_screen(stretched, scale=1.5)
    with pytest.raises(RMError, match="scale must be > 0"):
        bond_problem(stretched, scale=0.0)
    with pytest.raises(RMError, match="periodic"):
        bond_problem(bulk("C", "diamond", a=3.57))


def _relaxation(atoms: Atoms, attempt: int, energy_per_atom: float, converged: bool) -> Atoms:
    atoms = atoms.copy()
    atoms.info.update({keys.RM_ENERGY: energy_per_atom * len(atoms), keys.RM_CONVERGED: converged,
                       keys.RM_ATTEMPT: attempt, keys.RM_FORMULA: "CH5"})
    return atoms


def test_screened_ranking_puts_passing_molecules_between_converged_and_energy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad, good = overbonded_carbon(), molecule("CH3CH2OH")  # the formulas do not matter to the ranking
    low_bad = _relaxation(bad, 0, -3.0, True)
    high_good = _relaxation(good, 1, -1.0, True)
    unconverged_good = _relaxation(good, 2, -5.0, False)
    assert rank_key(low_bad) < rank_key(high_good)  # by energy the over-bonded one wins
    assert screened_rank_key(high_good) < screened_rank_key(low_bad)  # the screen puts the valid one first
    assert screened_rank_key(low_bad) < screened_rank_key(unconverged_good)  # converged still comes first
    assert ranking("bonds") is screened_rank_key and ranking("energy") is rank_key
    with pytest.raises(RMError, match="unknown ranking 'volume'"):
        ranking("volume")

    frames = [low_bad, high_good, unconverged_good, _relaxation(bad, 3, -2.0, True)]
    assert [a.info[keys.RM_RELAXATION] for a in best_of_blocks(frames, 2)] == [0, 3]
    by_bonds = best_of_blocks(frames, 2, "bonds")
    assert [a.info[keys.RM_RELAXATION] for a in by_bonds] == [1, 3]
    assert {a.info[keys.RM_RANK_BY] for a in by_bonds} == {"bonds"}
    assert {a.info[keys.RM_RANK_BY] for a in best_of_blocks(frames, 2)} == {"energy"}
    with pytest.raises(RMError, match="unknown ranking"):
        best_of_blocks(frames, 2, "nope")

    ase.io.write(tmp_path / "gen.extxyz", frames, format="extxyz")
    args = ["select", str(tmp_path / "gen.extxyz"), str(tmp_path / "b.extxyz"), "--best-of", "2"]
    assert main([*args, "--rank-by", "bonds"]) == 0
    assert [a.info[keys.RM_RELAXATION] for a in ase.io.read(tmp_path / "b.extxyz", ":")] == [1, 3]
    assert "consecutive attempts, ranked by bonds; 2 kept are converged" in capsys.readouterr().out
    assert main(["select", str(tmp_path / "gen.extxyz"), str(tmp_path / "c.extxyz"), "--lowest", "1",
                 "--rank-by", "bonds"]) != 0
    assert "--rank-by applies to --best-of" in capsys.readouterr().err


def test_select_names_the_rankings_when_one_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Without the plugin's entry points only energy is known, and the error says where bonds come from."""
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **select: importlib.metadata.EntryPoints(()))
    with pytest.raises(RMError, match=r"unknown ranking 'bonds'; choose one of \['energy'\] .*molecules plugin"):
        ranking("bonds")
    frames = [_relaxation(molecule("CH4"), k, -1.0, True) for k in range(2)]
    ase.io.write(tmp_path / "gen.extxyz", frames, format="extxyz")
    assert main(["select", str(tmp_path / "gen.extxyz"), str(tmp_path / "b.extxyz"), "--best-of", "2",
                 "--rank-by", "valence"]) == 2
    assert "unknown ranking 'valence'" in capsys.readouterr().err and not (tmp_path / "b.extxyz").exists()


def without(atoms: Atoms, *drop: int) -> Atoms:
    """``atoms`` less the atoms numbered ``drop``."""
    return atoms[[i for i in range(len(atoms)) if i not in drop]]  # type: ignore[return-value]


def test_neutral_lewis_structures_pass_the_valence_screen() -> None:
    # single, double (C=O, C=C, Kekule ring), triple (HCN, C2H2) and hypervalent S (SO2: S=4)
    for name in ("CH4", "C6H6", "CH3CONH2", "HCN", "C2H2", "H2CO", "CO2", "SO2", "CH3SH", "C4H4S", "CH3CH2OH"):
        assert valence_problem(molecule(name)) is None, name
    assert passes_valence_screen(molecule("C3H4_C2v"))  # cyclopropene
    xenon = Atoms("Xe2", positions=[[0, 0, 0], [3.0, 0, 0]])  # bonded at 1.3 x 2.8 Å; no valence table: unchecked
    assert passes_bond_screen(xenon) and passes_valence_screen(xenon)


def test_radicals_and_unpairable_unsaturation_fail_the_valence_screen() -> None:
    methyl = molecule("CH3")
    assert passes_bond_screen(methyl)  # the bond screen allows it ...
    assert "no neutral Lewis structure: atoms C0" in str(valence_problem(methyl))  # ... the valence screen not
    propane = molecule("C3H8")
    c_end = [i for i in range(3) if sum(propane.get_distance(i, h) < 1.2 for h in range(3, 11)) == 3]
    h_of = [next(h for h in range(3, 11) if propane.get_distance(c, h) < 1.2) for c in c_end]
    diradical = without(propane, *h_of)  # one H off each end carbon: the two are not bonded to each other
    assert passes_bond_screen(diradical) and not passes_valence_screen(diradical)  # even count, no pairing
    propene_like = without(propane, h_of[0], next(h for h in range(3, 11) if h != h_of[0]
                                                 and propane.get_distance(c_end[0], h) < 1.2))
    assert "no neutral Lewis structure" in str(valence_problem(propene_like))  # a carbene end: needs two
    assert not passes_valence_screen(Atoms("C2", positions=[[0, 0, 0], [1.2, 0, 0]]))  # a quadruple bond
    # bond-screen failures come first, in its words
    assert "(C) has 5 bonded neighbours (at most 4)" in str(valence_problem(overbonded_carbon()))
    with pytest.raises(RMError, match="periodic"):
        valence_problem(bulk("C", "diamond", a=3.57))


def test_valence_ranking_orders_lewis_then_bonds_then_energy() -> None:
    lewis, radical, bad = molecule("CH3CH2OH"), molecule("CH3"), overbonded_carbon()
    high_lewis = _relaxation(lewis, 0, -1.0, True)
    low_radical = _relaxation(radical, 1, -2.0, True)
    lowest_bad = _relaxation(bad, 2, -3.0, True)
    unconverged_lewis = _relaxation(lewis, 3, -9.0, False)
    assert screened_rank_key(low_radical) < screened_rank_key(high_lewis)  # bonds alone: the radical
    assert valence_rank_key(high_lewis) < valence_rank_key(low_radical) < valence_rank_key(lowest_bad)
    assert valence_rank_key(lowest_bad) < valence_rank_key(unconverged_lewis)
    assert ranking("valence") is valence_rank_key
    for atoms in (lewis, radical, bad):  # one bond graph, the same verdicts as the two screens
        assert screen_verdicts(atoms) == (passes_bond_screen(atoms), passes_valence_screen(atoms))
    assert [screen_verdicts(a) for a in (lewis, radical, bad)] == [(True, True), (True, False), (False, False)]
    kept = best_of_blocks([high_lewis, low_radical, lowest_bad, unconverged_lewis], 4, "valence")
    assert kept[0].info[keys.RM_RELAXATION] == 0 and kept[0].info[keys.RM_RANK_BY] == "valence"


def test_valence_search_remembers_failed_states(monkeypatch: pytest.MonkeyPatch) -> None:
    """16 six-rings (two Kekule structures each) and then two three-rings that cannot pair up: without
    remembering failed states the search would visit all 2**16 ring structures before failing."""
    from ase_rm_molecules import screen

    calls = 0
    search = screen._saturate

    def counted(*args: object) -> bool:
        nonlocal calls
        calls += 1
        return search(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(screen, "_saturate", counted)  # the recursion goes through the module name
    edges: list[tuple[int, int]] = []
    for ring in range(16):
        edges += [(6 * ring + i, 6 * ring + (i + 1) % 6) for i in range(6)]
    for tri in range(2):
        a = 96 + 3 * tri
        edges += [(a, a + 1), (a + 1, a + 2), (a, a + 2)]
    assert not counted([1] * 102, edges, [0] * len(edges))
    assert calls < 1000, calls
    calls = 0
    assert counted([1] * 96, edges[:96], [0] * 96)  # the rings alone: Kekule structures exist
    assert calls < 1000, calls
