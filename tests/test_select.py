"""Selection by E~ (ase-rm select): the K lowest per composition, converged first."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import molecule

from ase_rm import keys
from ase_rm.cli.main import main
from ase_rm.errors import RMError
from ase_rm.rss.select import best_of_blocks, select_first, select_lowest


def frames() -> list:
    out = []
    # (formula asked, energy per atom, converged)
    for k, (name, e, conv) in enumerate([("CH4", -1.0, True), ("CH4", -3.0, False), ("CH4", -2.0, True),
                                         ("CH4", -0.5, True), ("H2O", -1.0, True), ("H2O", float("nan"), True)]):
        atoms = molecule(name)
        atoms.info.update({keys.RM_ENERGY: e * len(atoms), keys.RM_CONVERGED: conv, keys.RM_ATTEMPT: k,
                           keys.RM_FORMULA: name})
        out.append(atoms)
    return out


def test_select_lowest_per_composition_converged_first() -> None:
    kept = select_lowest(frames(), 2)
    # CH4: the converged -2 and -1 beat the unconverged -3; H2O: -1 beats NaN; input order kept
    assert [a.info[keys.RM_ATTEMPT] for a in kept] == [0, 2, 4, 5]
    assert [a.info[keys.RM_ATTEMPT] for a in select_lowest(frames(), 1)] == [2, 4]
    assert len(select_lowest(frames(), 10)) == 6
    with pytest.raises(RMError, match="k must be"):
        select_lowest(frames(), 0)
    bare = molecule("CH4")
    with pytest.raises(RMError, match="rm_energy"):
        select_lowest([bare], 1)


def test_cli_select(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ase.io.write(tmp_path / "gen.extxyz", frames(), format="extxyz")
    assert main(["select", str(tmp_path / "gen.extxyz"), str(tmp_path / "best.extxyz"), "--lowest", "1"]) == 0
    kept = ase.io.read(tmp_path / "best.extxyz", ":")
    assert [a.info[keys.RM_ATTEMPT] for a in kept] == [2, 4]
    assert "kept 2 of 6 structures (2 groups" in capsys.readouterr().out


def test_select_first_takes_the_lowest_attempt_numbers_per_composition(tmp_path: Path) -> None:
    shuffled = frames()[::-1]  # file order is finishing order, not attempt order
    assert [a.info[keys.RM_ATTEMPT] for a in select_first(shuffled, 2)] == [5, 4, 1, 0]
    ase.io.write(tmp_path / "gen.extxyz", shuffled, format="extxyz")
    assert main(["select", str(tmp_path / "gen.extxyz"), str(tmp_path / "first.extxyz"), "--first", "1"]) == 0
    assert [a.info[keys.RM_ATTEMPT] for a in ase.io.read(tmp_path / "first.extxyz", ":")] == [4, 0]
    with pytest.raises(RMError, match="rm_attempt"):
        select_first([molecule("CH4")], 1)


def test_best_of_blocks_keeps_the_best_of_each_block_of_consecutive_attempts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shuffled = frames()[::-1]
    kept = best_of_blocks(shuffled, 2)
    # {0, 1}: the converged -1 beats the unconverged -3; {2, 3}: -2; {4, 5}: -1 beats NaN
    assert [a.info[keys.RM_ATTEMPT] for a in kept] == [0, 1, 2]
    assert [a.info[keys.RM_RELAXATION] for a in kept] == [0, 2, 4]
    assert {a.info[keys.RM_BEST_OF] for a in kept} == {2} and shuffled[-1].info[keys.RM_ATTEMPT] == 0  # copies
    assert [a.info[keys.RM_RELAXATION] for a in best_of_blocks(frames()[:4], 4)] == [2]
    with pytest.raises(RMError, match="mix compositions"):
        best_of_blocks(frames(), 3)
    with pytest.raises(RMError, match=r"needs relaxations 2..3, found \[2\]"):
        best_of_blocks(frames()[:3], 2)
    with pytest.raises(RMError, match="already a best-of selection"):
        best_of_blocks(kept, 1)
    with pytest.raises(RMError, match="k must be"):
        best_of_blocks(frames(), 0)
    ase.io.write(tmp_path / "gen.extxyz", shuffled, format="extxyz")
    assert main(["select", str(tmp_path / "gen.extxyz"), str(tmp_path / "b.extxyz"), "--best-of", "2"]) == 0
    assert [a.info[keys.RM_RELAXATION] for a in ase.io.read(tmp_path / "b.extxyz", ":")] == [0, 2, 4]
    assert "kept 3 of 6 structures (the best of each 2 consecutive attempts; 3 kept are converged)" in \
        capsys.readouterr().out


def _script(name: str, folder: str = "qm7b"):  # type: ignore[no-untyped-def]
    """experiments/FOLDER/NAME.py as a module (a script, not part of the package)."""
    path = Path(__file__).parents[1] / "experiments" / folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_restarts_by_energy_rate_is_the_mean_over_all_k_subsets() -> None:
    """experiments/qm7b/restarts_by_energy.py: the closed form equals enumerating every k-subset."""
    module = _script("restarts_by_energy")
    passes = [False, True, True, False, False, True, False]  # ranked best first
    for k in range(1, len(passes) + 1):
        subsets = list(itertools.combinations(range(len(passes)), k))
        brute = sum(passes[min(s)] for s in subsets) / len(subsets)
        assert module.kept_rate(passes, k) == pytest.approx(brute)
    assert module.kept_rate(passes, 1) == pytest.approx(3 / 7)
    assert module.kept_rate(passes, 7) == 0.0  # the best-ranked one fails
    with pytest.raises(ValueError):
        module.kept_rate(passes, 8)


def test_restarts_by_energy_joins_the_evaluation_by_frame_position(tmp_path: Path) -> None:
    """molecules.csv's index is a frame's position in the generated file, not its attempt number."""
    module = _script("restarts_by_energy")
    out = []
    # written in finishing order: positions 0-3 hold attempts 3, 0, 2, 1
    for attempt, energy, conv in ((3, -4.0, True), (0, -1.0, True), (2, -9.0, False), (1, -2.0, True)):
        atoms = molecule("CH4")
        atoms.info.update({keys.RM_ENERGY: energy, keys.RM_CONVERGED: conv, keys.RM_ATTEMPT: attempt})
        out.append(atoms)
    ase.io.write(tmp_path / "gen.extxyz", out)
    passing = {0: True, 1: False, 2: False, 3: True}  # by position
    rows = ["index,composition,all_pass"] + [f"{i},CH4,{passing[i]}" for i in range(4)]
    (tmp_path / "molecules.csv").write_text("\n".join(rows) + "\n")
    ranked = module.ranked_passes(str(tmp_path / "gen.extxyz"), str(tmp_path / "molecules.csv"))
    # converged by E~: positions 0 (-4), 3 (-2), 1 (-1); then the unconverged position 2
    assert ranked == {"CH4": [True, True, False, False]}


def test_paper_table_averages_the_formulas_of_each_heavy_atom_composition(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """experiments/qm7b/paper_table.py: C5O1N1 is the mean of C5H9NO and C5H7NO, and so on; the "all"
    and QM7b reference rows are left out."""
    table = _script("paper_table")
    rates = dict(zip(table.COMPOSITIONS, range(10, 110, 10), strict=True))  # 10, 20, ... 100
    for part in ("in", "ood"):
        (tmp_path / f"eval_{part}").mkdir()
        lines = ["composition,n_attempts,all_pass,all_pass_neutral"]
        for heavy, rate in rates.items():
            if (part == "in") != (heavy in table.COMPOSITIONS[:3]):
                continue
            counts = "".join(f"{s}{n}" for s, n in table.heavy_key(heavy))
            # two formulas (2 and 4 hydrogens) at rate - 5 and rate + 5: their mean is the rate
            lines += [f"{counts}H2,32,{rate - 5},0", f"{counts}H4,32,{rate + 5},0"]
        lines += ["all,224,99,0", "QM7b (200),200,99,0"]
        (tmp_path / f"eval_{part}" / "summary.csv").write_text("\n".join(lines) + "\n")
    table.main([str(tmp_path)])
    rows = capsys.readouterr().out.splitlines()
    assert rows[2] == "| paper | 77 | 79 | 75 | 69 | 67 | 58 | 67 | 72 | 57 | 60 | 68.1 |"
    assert rows[3] == f"| {tmp_path} | " + " | ".join(f"{r:.1f}" for r in rates.values()) + " | **55.0** |"
    assert table.heavy_key("C5H9NO") == table.heavy_key("C5O1N1") != table.heavy_key("C4O1N2")


def test_better_of_two_best_of_k_selections_is_best_of_2k() -> None:
    """experiments/qm7b/better_of.py: the first of two best-of-2 picks over disjoint relaxations is
    what best of 4 keeps from all of them."""
    module = _script("better_of")
    rng = np.random.default_rng(0)
    every = []
    for k in range(16):  # four attempts of best of 4, then two compositions
        atoms = molecule("CH4" if k < 8 else "H2O")
        atoms.info.update({keys.RM_ENERGY: float(rng.normal()), keys.RM_CONVERGED: bool(rng.random() < 0.7),
                           keys.RM_ATTEMPT: k, keys.RM_FORMULA: atoms.get_chemical_formula()})
        every.append(atoms)
    pools = []
    for half in (0, 1):  # relaxations 4i + 2h, 4i + 2h + 1 are attempt i's pair in pool h
        frames_h = [every[4 * i + 2 * half + j].copy() for i in range(4) for j in range(2)]
        for n, atoms in enumerate(frames_h):
            atoms.info[keys.RM_ATTEMPT] = n
        pools.append(best_of_blocks(frames_h, 2))
    combined = module.better_of(*pools)
    expected = best_of_blocks(every, 4)
    assert [a.info[keys.RM_ENERGY] for a in combined] == [a.info[keys.RM_ENERGY] for a in expected]
    assert {a.info[keys.RM_BEST_OF] for a in combined} == {4}
    assert {a.info["rm_pool"] for a in combined} == {0, 1}  # both pools win somewhere (seeded)
    with pytest.raises(ValueError, match="differ in length"):
        module.better_of(pools[0], pools[1][:3])
    other = [a.copy() for a in pools[1]]
    for atoms in other:
        atoms.info[keys.RM_RANK_BY] = "bonds"  # as a plugin's ranking marks its picks
    with pytest.raises(ValueError, match="rm_rank_by"):
        module.better_of(pools[0], other)
    swapped = pools[1][2:] + pools[1][:2]
    with pytest.raises(ValueError, match="rm_attempt"):
        module.better_of(pools[0], swapped)
    renamed = [a.copy() for a in pools[1]]
    renamed[0].info[keys.RM_FORMULA] = "NH3"
    with pytest.raises(ValueError, match="is CH4 in one and NH3"):
        module.better_of(pools[0], renamed)
