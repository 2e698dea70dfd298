"""ase_rm_pymatgen symmetric starts: random space groups through PyXtal, the protocol's volume and distances."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

pytest.importorskip("pymatgen")
pytest.importorskip("pyxtal")

import spglib  # noqa: E402
from ase_rm_pymatgen.analysis import quiet_spglib  # noqa: E402
from ase_rm_pymatgen.campaign import generate_compositions  # noqa: E402
from ase_rm_pymatgen.symmetric import START_KIND, START_SPACEGROUP, SymmetricStarts  # noqa: E402
from pyxtal.symmetry import Group  # noqa: E402

from ase_rm import RMError  # noqa: E402
from ase_rm.rss import Stage, get_protocol, parse_formula, target_volume  # noqa: E402

from .test_pymatgen_csp import QUICK  # noqa: E402

VOLUMES = {11: 24.0, 17: 25.0, 3: 20.0, 16: 25.0}


def test_symmetric_start_has_the_composition_volume_distances_and_symmetry() -> None:
    spec = replace(get_protocol("crystal").start, pair_distances=(("Na", "Cl", 2.2),))
    comp = parse_formula("Na4Cl4")
    volume = target_volume([11] * 4 + [17] * 4, element_volumes=VOLUMES)
    make = SymmetricStarts()
    groups = set()
    for k in range(6):
        atoms = make(spec, comp, np.random.default_rng([5, k]), VOLUMES)
        assert atoms.info[START_KIND] == "symmetric" and atoms.pbc.all()
        assert sorted(atoms.numbers.tolist()) == [11] * 4 + [17] * 4
        assert atoms.get_volume() == pytest.approx(volume)
        i, j, d = neighbor_list("ijd", atoms, 2.2)
        pair = atoms.numbers[i] != atoms.numbers[j]
        assert not np.any(d < 1.0) and not np.any(d[pair] < 2.2)  # Na-Cl pairs keep the override
        group = atoms.info[START_SPACEGROUP]
        groups.add(group)
        with quiet_spglib():
            found = spglib.get_symmetry((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-3)
        # at least the drawn group's operations in a primitive cell: its general position's
        # multiplicity over the centring factor (a supergroup may be found)
        assert len(found["rotations"]) >= len(Group(group)[0]) // Group(group).cellsize()
    assert len(groups) > 1  # the space group is drawn per start
    again = make(spec, comp, np.random.default_rng([5, 0]), VOLUMES)
    first = make(spec, comp, np.random.default_rng([5, 0]), VOLUMES)
    np.testing.assert_allclose(again.positions, first.positions)  # seeded by the rng alone


def test_centred_groups_hold_the_primitive_cell() -> None:
    """AlAg4's ground truth is R-3m with 5 atoms (15 in the hexagonal cell), Bi2F8's
    I4/mmm with 10 (20): both groups are drawn for the primitive counts."""
    from ase_rm_pymatgen.symmetric import compatible_groups

    assert 166 in compatible_groups((1, 4)) and 139 in compatible_groups((2, 8))
    assert 225 in compatible_groups((1, 2))  # fluorite: 4a + 8c of the F cell, 1 + 2 in the primitive
    assert 221 not in compatible_groups((1, 2))  # Pm-3m has no 2-fold site


def test_fallbacks_to_the_plain_start() -> None:
    crystal = get_protocol("crystal").start
    comp = parse_formula("Na2Cl2")
    none_left = SymmetricStarts(lowest_group=231)(crystal, comp, np.random.default_rng(0), VOLUMES)
    assert none_left.info[START_KIND] == "random" and none_left.info[START_SPACEGROUP] == 1
    half = SymmetricStarts(fraction=0.5)
    kinds = {half(crystal, comp, np.random.default_rng(k), VOLUMES).info[START_KIND] for k in range(12)}
    assert kinds == {"random", "symmetric"}
    molecule = SymmetricStarts()(get_protocol("molecule").start, parse_formula("CH4"), np.random.default_rng(0), None)
    assert not molecule.pbc.any() and START_KIND not in molecule.info
    with pytest.raises(RMError, match="per-element volumes"):
        SymmetricStarts()(crystal, comp, np.random.default_rng(0), None)
    with pytest.raises(ValueError, match="fraction"):
        SymmetricStarts(fraction=1.5)


def test_campaign_records_the_kind_of_start(salt_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen.extxyz"
    quick = replace(QUICK, stages=(Stage(cell="full", fmax=0.05, max_steps=3, name="quick"),))
    made = generate_compositions(salt_checkpoint, ["Na2Cl2"], out, n=3, seed=1, protocol=quick, starts="symmetric")
    assert all(a.info[START_KIND] == "symmetric" and a.info[START_SPACEGROUP] > 1 for a in made["Na2Cl2"])
    with pytest.raises(RMError, match="different starts"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], out, n=3, seed=1, protocol=quick)
    with pytest.raises(RMError, match="starts must be one of"):
        generate_compositions(salt_checkpoint, ["Na2Cl2"], tmp_path / "x.extxyz", n=1, protocol=quick, starts="nope")


def test_group_weights_and_priors(tmp_path: Path) -> None:
    from ase.build import bulk
    from ase_rm_pymatgen.symmetric import MP20_PRIOR, load_group_prior, main, space_group_counts

    spec = get_protocol("crystal").start
    only = SymmetricStarts(group_weights={221: 1.0, 225: 0.0})
    drawn = {only(spec, parse_formula("NaCl"), np.random.default_rng(k), VOLUMES).info[START_SPACEGROUP]
             for k in range(5)}
    assert drawn == {221}  # Pm-3m (CsCl) is the only weighted compatible group
    none = SymmetricStarts(group_weights={230: 1.0})  # no compatible group weighted: uniform
    assert none(spec, parse_formula("NaCl"), np.random.default_rng(0), VOLUMES).info[START_KIND] == "symmetric"
    with pytest.raises(ValueError, match=">= 0"):
        SymmetricStarts(group_weights={225: -1.0})

    crystals = [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43), bulk("Cu", "fcc", a=3.6)]
    assert space_group_counts(crystals) == {225: 2, 227: 1}
    import ase.io

    ase.io.write(tmp_path / "c.extxyz", crystals)
    assert main([str(tmp_path / "c.extxyz"), str(tmp_path / "prior.json")]) == 0
    assert load_group_prior(tmp_path / "prior.json") == {225: 2.0, 227: 1.0}
    assert load_group_prior("uniform") is None
    mp20 = load_group_prior("mp20")  # shipped with the plugin
    assert MP20_PRIOR.exists() and mp20 is not None and max(mp20, key=mp20.__getitem__) == 225
    with pytest.raises(RMError, match="not found"):
        load_group_prior(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text('{"groups": []}')
    with pytest.raises(RMError, match="not a space group prior"):
        load_group_prior(tmp_path / "bad.json")


def test_named_starts_come_from_the_plugin_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """``symmetric`` and ``mixed`` reach the core by entry point; without them the error names the extra."""
    import importlib.metadata

    from ase_rm.errors import ConfigError
    from ase_rm.rss import named_start_maker, start_names

    assert start_names() == ["random", "mixed", "symmetric"]
    assert named_start_maker("random") is None
    sym, mixed = named_start_maker("symmetric"), named_start_maker("mixed")
    assert isinstance(sym, SymmetricStarts) and sym.fraction == 1.0
    assert isinstance(mixed, SymmetricStarts) and mixed.fraction == 0.5
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **select: importlib.metadata.EntryPoints(()))
    with pytest.raises(ConfigError, match=r"unknown starts 'symmetric'; choose one of \['random'\] .*pyxtal"):
        named_start_maker("symmetric")


def test_demo_attempts_start_symmetric() -> None:
    """``ase-rm demo --starts symmetric``: every start of the demo's attempts in a space group
    above P1, at the attempt's volume; an unknown name fails when the config is made, before training."""
    from ase_rm.demo.run import DemoConfig, demo_attempts
    from ase_rm.errors import ConfigError
    from ase_rm.rss import PROTOCOLS, named_start_maker
    from ase_rm.rss.search import make_start

    cfg = DemoConfig(sizes=(4, 8), volumes=(4.4,), attempts=3, starts="symmetric")
    maker = named_start_maker(cfg.starts)
    starts = [make_start(a, 0, None, maker) for a in demo_attempts(cfg)]
    assert [len(s) for s in starts] == [4] * 3 + [8] * 3
    assert all(s.info[START_KIND] == "symmetric" and s.info[START_SPACEGROUP] > 1 for s in starts)
    assert all(s.get_volume() / len(s) == pytest.approx(4.4) for s in starts)
    assert PROTOCOLS["diamond"].stages[0].cell == "constant_volume"
    with pytest.raises(ConfigError, match="unknown starts 'magic'"):
        DemoConfig(starts="magic")


def test_named_starts_with_a_missing_dependency_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from ase_rm.errors import ConfigError
    from ase_rm.rss import named_start_maker

    broken = importlib.metadata.EntryPoint(name="symmetric", value="no_such_module_here:f", group="ase_rm.starts")
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **select: importlib.metadata.EntryPoints((broken,)))
    with pytest.raises(ConfigError, match=r"missing .*--starts random"):
        named_start_maker("symmetric")
