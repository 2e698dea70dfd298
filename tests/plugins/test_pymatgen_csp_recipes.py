"""ase_rm_pymatgen.csp: recipes, ground truths and subsets, ranked candidates, the physical stage, the benchmark."""

from __future__ import annotations

from pathlib import Path

import ase.io
import pytest
from ase import Atoms
from ase.build import bulk

pytest.importorskip("pymatgen")

from ase_rm_pymatgen.csp.groundtruth import read_ground_truths, select_subset  # noqa: E402
from ase_rm_pymatgen.csp.physical import PHYSICAL_ENERGY_PER_ATOM, relax_physical  # noqa: E402
from ase_rm_pymatgen.csp.predict import rank  # noqa: E402
from ase_rm_pymatgen.csp.ranking import CSP_ID, CSP_RANK, CSP_TIMES_FOUND, rank_candidates  # noqa: E402
from ase_rm_pymatgen.csp.recipes import Recipe, load_recipe, shipped_recipes  # noqa: E402
from ase_rm_pymatgen.csp.standard import run_benchmark, score, summarise  # noqa: E402

from ase_rm import RMError, keys  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402

from .test_pymatgen_csp import rocksalt, write_targets  # noqa: E402


def with_energy(atoms: Atoms, per_atom: float) -> Atoms:
    out = atoms.copy()
    out.info[keys.RM_ENERGY] = per_atom * len(out)
    return out


def cu_pool() -> list[Atoms]:
    """fcc Cu4 twice (E~ -1 and -3 eV/atom), bcc Cu4 once (-2): two distinct structures."""
    fcc = bulk("Cu", "fcc", a=3.61, cubic=True)
    bcc = bulk("Cu", "bcc", a=2.87) * (2, 2, 1)
    shifted = fcc.copy()
    shifted.translate([0.3, 0.1, 0.2])
    return [with_energy(fcc, -1.0), with_energy(bcc, -2.0), with_energy(shifted, -3.0)]


def test_shipped_recipes_and_errors(tmp_path: Path) -> None:
    assert {"paper", "templates", "recommended"} <= set(shipped_recipes())
    paper = load_recipe("paper")
    assert (paper.starts, paper.rank_by, paper.templates) == ("random", "rm_energy", None)
    best = load_recipe("recommended")
    assert (best.starts, best.templates, best.rank_by, best.calculator) == ("template", "builtin", "physical", "chgnet")
    own = tmp_path / "mine.toml"
    own.write_text('starts = "random"\nrank_by = "physical"\ncalculator = "emt"\nrefine_top = 2\n')
    assert load_recipe(own) == Recipe(name="mine", rank_by="physical", calculator="emt", refine_top=2)
    own.write_text('starts = "random"\nranking = "x"\n')
    with pytest.raises(RMError, match="unknown keys ranking"):
        load_recipe(own)
    with pytest.raises(RMError, match="no recipe 'nope'"):
        load_recipe("nope")
    with pytest.raises(RMError, match="go together"):
        Recipe(starts="template")


def test_subset_is_seeded_and_keeps_file_order() -> None:
    items = list(range(100))
    a, b = select_subset(items, 10, seed=3), select_subset(items, 10, seed=3)
    assert a == b == sorted(a) and len(set(a)) == 10
    assert select_subset(items, 10, seed=4) != a
    assert select_subset(items, None) == items == select_subset(items, 500)


def test_read_ground_truths_csv_and_extxyz(tmp_path: Path) -> None:
    cif = rocksalt().to(fmt="cif")
    csv_path = write_targets(tmp_path / "truths.csv", [{"material_id": "mp-1", "cif": cif},
                                                       {"material_id": "", "cif": cif.replace("Na", "Li")}])
    truths = read_ground_truths(csv_path)
    assert [(t.csp_id, t.composition) for t in truths] == [("mp-1", "NaCl"), ("2", "LiCl")]
    frames = [bulk("Cu", "fcc", a=3.6), bulk("NaCl", "rocksalt", a=5.6)]
    frames[0].info["material_id"] = "cu"
    ase.io.write(tmp_path / "t.extxyz", frames)
    assert [(t.csp_id, t.composition) for t in read_ground_truths(tmp_path / "t.extxyz")] == [("cu", "Cu"),
                                                                                            ("2", "NaCl")]
    bad = write_targets(tmp_path / "bad.csv", [{"composition": "KCl", "cif": cif}])
    with pytest.raises(RMError, match="ground truth is NaCl, not KCl"):
        read_ground_truths(bad)
    with pytest.raises(RMError, match="not found"):
        read_ground_truths(tmp_path / "nope.csv")


def test_rank_candidates_merges_duplicates_before_ranking() -> None:
    pool = cu_pool()
    ranked = rank_candidates(pool, "mp-30")
    assert [a.info[CSP_RANK] for a in ranked] == [1, 2]
    assert [a.info[CSP_TIMES_FOUND] for a in ranked] == [2, 1]  # the two fcc merged, -3 eV/atom kept
    assert ranked[0].info["csp_energy_per_atom"] == pytest.approx(-3.0)
    assert all(a.info[CSP_ID] == "mp-30" for a in ranked)
    assert CSP_RANK not in pool[0].info  # inputs untouched


def test_physical_stage_with_emt_reranks() -> None:
    """EMT prefers fcc Cu over bcc; E~ (made up here) prefers bcc: the physical ranking puts fcc first."""
    fcc = with_energy(bulk("Cu", "fcc", a=3.7, cubic=True), -1.0)
    bcc = with_energy(bulk("Cu", "bcc", a=2.95) * (2, 2, 1), -2.0)
    relaxed = relax_physical([fcc, bcc], "emt", fmax=0.02, steps=200)
    assert relaxed[0].info[PHYSICAL_ENERGY_PER_ATOM] < relaxed[1].info[PHYSICAL_ENERGY_PER_ATOM]
    assert relaxed[0].get_volume() / 4 == pytest.approx(11.6, abs=0.4)  # EMT's fcc Cu: a ~ 3.59 Å
    by_rm = rank([fcc, bcc], "x", Recipe())
    by_emt = rank([fcc, bcc], "x", Recipe(rank_by="physical", calculator="emt", refine_top=2))
    assert [a.get_chemical_formula() for a in by_rm] == ["Cu4", "Cu4"]
    assert by_rm[0].info["csp_energy_per_atom"] == pytest.approx(-2.0)
    assert by_emt[0].info["csp_ranked_by"] == "emt" and by_emt[0].info[CSP_RANK] == 1
    e_fcc, e_bcc = (a.info[PHYSICAL_ENERGY_PER_ATOM] for a in relaxed)
    assert e_bcc - e_fcc > 0.02
    assert by_emt[0].info["csp_energy_per_atom"] == pytest.approx(e_fcc, abs=1e-3)
    assert by_emt[1].info["csp_energy_per_atom"] == pytest.approx(e_bcc, abs=1e-3)


@pytest.mark.filterwarnings("ignore")  # CHGNet's own warnings (torch.tensor of a tensor)
def test_chgnet_stage_when_installed() -> None:
    pytest.importorskip("chgnet")
    si = bulk("Si", "diamond", a=5.6)
    (relaxed,) = relax_physical([si], "chgnet", fmax=0.1, steps=20)
    assert -6.0 < relaxed.info[PHYSICAL_ENERGY_PER_ATOM] < -4.5  # CHGNet's Si: about -5.4 eV/atom


def test_score_match_at_one_and_k() -> None:
    truth = read_ground_truths_one()
    fcc, bcc = bulk("Cu", "fcc", a=3.6, cubic=True), bulk("Cu", "bcc", a=2.9) * (2, 2, 1)
    hit = score(truth, [fcc, bcc], [bcc, fcc], 1.0)
    assert (hit["match_at_1"], hit["match_at_k"], hit["best_rank"]) == (False, True, 2)
    assert hit["rms_at_k"] == pytest.approx(0.0, abs=1e-6)
    first = score(truth, [fcc], [fcc], 1.0)
    summary = summarise([hit, first], k=2)
    assert (summary["match_rate_at_1"], summary["match_rate_at_2"]) == (50.0, 100.0)


def read_ground_truths_one():  # type: ignore[no-untyped-def]
    from ase_rm_pymatgen.convert import to_pymatgen
    from ase_rm_pymatgen.csp.groundtruth import GroundTruth

    return GroundTruth("cu", "Cu4", to_pymatgen(bulk("Cu", "fcc", a=3.6)))


def test_benchmark_resumes_and_cli(salt_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cif = rocksalt().to(fmt="cif")
    truths_csv = write_targets(tmp_path / "truths.csv", [{"material_id": "a", "cif": cif},
                                                         {"material_id": "b", "cif": cif.replace("Na", "Li")}])
    truths = read_ground_truths(truths_csv)
    out = tmp_path / "bench"
    rows, summary = run_benchmark(salt_checkpoint, truths, out, n=2, recipe=Recipe(protocol="crystal"), max_steps=5)
    assert [r["csp_id"] for r in rows] == ["a", "b"] and summary["n_truths"] == 2
    assert (out / "results" / "NaCl.csv").exists() and (out / "candidates" / "LiCl.extxyz").exists()
    cands = ase.io.read(out / "candidates" / "NaCl.extxyz", ":")
    assert [a.info[CSP_RANK] for a in cands] == list(range(1, len(cands) + 1))
    (out / "results" / "LiCl.csv").unlink()
    before = (out / "results" / "NaCl.csv").stat().st_mtime_ns
    again, _ = run_benchmark(salt_checkpoint, truths, out, n=2, recipe=Recipe(protocol="crystal"), max_steps=5)
    assert (out / "results" / "NaCl.csv").stat().st_mtime_ns == before  # skipped, not redone
    assert [r["match_at_k"] for r in again] == [r["match_at_k"] for r in rows]
    argv = ["csp", str(salt_checkpoint), "--ground-truths", str(truths_csv), "--subset", "1", "--n", "2",
            "--max-steps", "5", "--out", str(tmp_path / "cli"), "--no-progress"]
    assert main(argv) == 0
    assert "match_rate_at_1" in capsys.readouterr().out
    assert len((tmp_path / "cli" / "benchmark.csv").read_text().splitlines()) == 2


def test_predict_cli_writes_ranked_candidates_and_picture(salt_checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    comps = write_targets(tmp_path / "c.csv", [{"composition": "NaCl"}, {"composition": "Li2S"}])
    out = tmp_path / "pred"
    argv = ["csp", str(salt_checkpoint), "--compositions", str(comps), "--n", "3", "--max-steps", "5",
            "--out", str(out), "--no-progress", "--pictures", "2"]
    assert main(argv) == 0
    frames = ase.io.read(out / "candidates.extxyz", ":")
    assert {str(a.info[CSP_ID]) for a in frames} == {"1", "2"}  # extxyz reads "1" back as 1
    assert sorted(a.info[CSP_RANK] for a in frames if str(a.info[CSP_ID]) == "1")[0] == 1
    assert (out / "top.png").stat().st_size > 1000 and (out / "ranking.csv").exists()


def test_template_recipe_with_shipped_library_and_exclusion() -> None:
    from ase_rm_pymatgen.csp.predict import template_starts
    from ase_rm_pymatgen.csp.prototypes import PROTOTYPES

    if not PROTOTYPES.exists():
        pytest.skip("prototype library not built")
    starts = template_starts(load_recipe("templates"))
    assert starts is not None and starts.library.source.startswith("prototypes:")
    nacl = bulk("NaCl", "rocksalt", a=5.6)
    with_same = starts.library.ranked(nacl.numbers)
    without = starts.library.ranked(nacl.numbers, exclude_same_formula=True)
    assert with_same and without and len(without) <= len(with_same)
    with pytest.raises(RMError, match="needs a recipe with template starts"):
        template_starts(load_recipe("paper"), templates="x.csv")
