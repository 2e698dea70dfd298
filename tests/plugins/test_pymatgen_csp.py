"""ase_rm_pymatgen CSP benchmark: reading targets, matching every attempt, E~ ranks, resume, ``ase-rm csp``."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

pytest.importorskip("pymatgen")

from ase_rm_pymatgen import CSPTarget, evaluate_csp, read_csp_targets, run_csp, to_pymatgen  # noqa: E402
from ase_rm_pymatgen.analysis import quiet_spglib  # noqa: E402
from ase_rm_pymatgen.campaign import ATTEMPT_STRIDE, composition_key, generate_compositions  # noqa: E402
from ase_rm_pymatgen.csp import GT_COLUMNS, energy_ranks, relax_ground_truths  # noqa: E402
from pymatgen.core import Structure  # noqa: E402
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer  # noqa: E402

from ase_rm import Denoiser, ModelConfig, RMError, keys  # noqa: E402
from ase_rm.checkpoint import atomic_save, make_checkpoint  # noqa: E402
from ase_rm.cli.main import main  # noqa: E402
from ase_rm.rss import Stage, get_protocol  # noqa: E402

from ..conftest import SHARED_DATA  # noqa: E402

CSP_CSV = SHARED_DATA / "diffcsp_15_compositions.csv"

# One short stage: a few FIRE steps per attempt keep the tests fast (and a random model's atoms apart).
QUICK = replace(get_protocol("crystal"), stages=(Stage(cell="full", fmax=0.05, max_steps=15, name="quick"),))


def shared_csv() -> Path:
    if not CSP_CSV.exists():
        pytest.skip(f"{CSP_CSV} not found (shared datasets only exist in the project checkout/CI)")
    return CSP_CSV


def rocksalt() -> Structure:
    """NaCl, the 2-atom primitive cell."""
    structure = to_pymatgen(bulk("NaCl", "rocksalt", a=5.64))
    assert isinstance(structure, Structure)
    return structure


def write_targets(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def frame(atoms: Atoms, energy_per_atom: float, converged: bool = True) -> Atoms:
    out = atoms.copy()
    out.info.update({keys.RM_ENERGY: energy_per_atom * len(out), keys.RM_CONVERGED: converged})
    return out


def test_energy_ranks_ties_and_missing_values() -> None:
    assert energy_ranks([-1.0, -3.0, None, -3.0, math.nan, -2.0]) == [4, 1, 5, 2, 6, 3]
    assert energy_ranks([]) == []


def test_ground_truth_among_attempts_is_matched_and_ranked() -> None:
    truth = rocksalt()
    conventional = bulk("NaCl", "rocksalt", a=5.64, cubic=True)  # Na4Cl4: 8 atoms vs the 2-atom ground truth
    cscl = bulk("NaCl", "cesiumchloride", a=3.3) * (2, 2, 1)  # also Na4Cl4, another structure
    rattled = conventional.copy()
    rattled.rattle(0.05, rng=np.random.default_rng(1))
    scaled = conventional.copy()
    scaled.set_cell(conventional.cell * 1.1, scale_atoms=True)  # volumes are scaled before matching
    attempts = [
        frame(cscl, -3.0),  # rank 1, wrong structure
        frame(conventional, -2.0),  # rank 3, the ground truth
        frame(cscl, -2.5, converged=False),  # rank 2, wrong (not converged, still counted)
        frame(rattled, -1.0, converged=False),  # rank 4, matches, not converged
        frame(scaled, math.nan, converged=False),  # no finite energy: ranks last (5), matches
    ]
    result = evaluate_csp([CSPTarget("Na4Cl4", truth, "mp-22862")], {"Na4Cl4": attempts}, top=(1, 2, 3))
    (row,) = result.rows
    assert row["n_attempts"] == 5 and row["n_converged"] == 2
    assert row["n_matched"] == 3 and row["n_matched_converged"] == 1 and row["matched"]
    assert row["best_rank"] == 3 and row["best_rank_converged"] is True
    assert (row["top_1"], row["top_2"], row["top_3"]) == (False, False, True)
    assert row["best_rms"] == pytest.approx(0.0, abs=1e-6)
    assert [a["rank"] for a in result.attempts] == [1, 3, 2, 4, 5]
    assert [a["matched"] for a in result.attempts] == [False, True, False, True, True]
    # two distinct structures: CsCl (ranks 1, 2) and rock salt (ranks 3-5), so the match is 2nd distinct
    assert [(a["distinct_rank"], a["distinct"]) for a in result.attempts] == [
        (1, True), (2, True), (1, False), (2, False), (2, False)]
    assert (row["n_distinct"], row["best_distinct_rank"]) == (2, 2)
    assert (row["top_1_distinct"], row["top_2_distinct"], row["top_3_distinct"]) == (False, True, True)
    assert result.summary() == ("matched: 1/1 (any of 5); top-1: 0/1; top-2: 0/1; top-3: 1/1; "
                                "top-1/2/3 distinct: 0/1/1 of 1")
    assert result.columns[-8:] == ["top_1", "top_2", "top_3", "n_distinct", "best_distinct_rank",
                                   "top_1_distinct", "top_2_distinct", "top_3_distinct"]


def test_ground_truth_check_columns() -> None:
    """gt_rank is 1 + the attempts strictly lower in E~ per atom (no finite
    energy: never lower); a target the check lacks gets empty columns."""
    truth = rocksalt()
    attempts = [frame(bulk("NaCl", "cesiumchloride", a=3.3), e) for e in (-3.0, -1.0, math.nan, -2.0)]
    checked = {"NaCl": {"gt_minimum": True, "gt_rms": 0.01, "gt_energy_per_atom": -2.0}}
    result = evaluate_csp([CSPTarget("NaCl", truth), CSPTarget("Na2Cl2", truth)],
                          {"NaCl": attempts, "Na2Cl2": attempts}, ground_truths=checked)
    first, second = result.rows
    assert (first["gt_minimum"], first["gt_rms"], first["gt_rank"]) == (True, 0.01, 2)
    assert all(second[c] is None for c in GT_COLUMNS)
    assert result.columns[-3:] == list(GT_COLUMNS)
    assert result.ground_truth_summary() == (
        "ground truth a minimum of E~ (still matched after relaxation): 1/1; lowest in E~ of all attempts: 0/1")
    unchecked = evaluate_csp([CSPTarget("NaCl", truth)], {"NaCl": attempts})
    assert "gt_rank" not in unchecked.columns and unchecked.ground_truth_summary() is None


def test_relax_ground_truths(salt_checkpoint: Path) -> None:
    """Rock salt keeps its symmetry under any E~ (forces vanish, the stress is
    isotropic), so after a variable-cell relaxation it still matches itself; a
    ground truth with an element the model lacks is left out."""
    truth = rocksalt()
    potassium = truth.copy()
    potassium.replace_species({"Na": "K"})
    out = relax_ground_truths(salt_checkpoint, [CSPTarget("NaCl", truth), CSPTarget("KCl", potassium)], QUICK)
    assert set(out) == {"NaCl"}
    assert out["NaCl"]["gt_minimum"] and out["NaCl"]["gt_rms"] == pytest.approx(0.0, abs=1e-3)
    assert math.isfinite(out["NaCl"]["gt_energy_per_atom"])


def test_unmatched_and_missing_compositions_count_as_not_found() -> None:
    truth = rocksalt()
    result = evaluate_csp([CSPTarget("NaCl", truth), CSPTarget("Na2Cl2", truth)],
                          {"NaCl": [frame(bulk("NaCl", "cesiumchloride", a=3.3), -1.0)]})
    assert [r["n_attempts"] for r in result.rows] == [1, 0]
    assert not any(r["matched"] for r in result.rows)
    assert result.rows[0]["best_rank"] is None and result.rows[0]["best_rms"] is None
    assert result.summary() == ("matched: 0/2 (any of 1); top-1: 0/2; top-3: 0/2; top-5: 0/2; "
                                "top-1/3/5 distinct: 0/0/0 of 2")
    assert result.rows[1]["n_distinct"] == 0 and result.rows[1]["best_distinct_rank"] is None


def test_shared_targets_and_the_primitive_sr2o4_ground_truth() -> None:
    targets = read_csp_targets(shared_csv())
    assert len(targets) == 15 and targets[0].composition == "Co2Sb2"
    sr = next(t for t in targets if t.composition == "Sr2O4")
    assert len(sr.structure) == 3 and sr.reduced_formula == "SrO2" and sr.material_id == "mp-2697"
    with quiet_spglib():
        conventional = SpacegroupAnalyzer(sr.structure).get_conventional_standard_structure()  # Sr2O4, 6 atoms
    assert len(conventional) == 6
    result = evaluate_csp([sr], {"Sr2O4": [conventional]}, top=(1,))
    assert result.rows[0]["matched"] and result.rows[0]["top_1"]


def test_csv_errors_are_clear(tmp_path: Path) -> None:
    cif = rocksalt().to(fmt="cif")
    with pytest.raises(RMError, match="not found"):
        read_csp_targets(tmp_path / "missing.csv")
    with pytest.raises(RMError, match="no column cif"):
        read_csp_targets(write_targets(tmp_path / "a.csv", [{"composition": "NaCl", "structure": cif}]))
    (tmp_path / "empty.csv").write_text("composition,cif\n")
    with pytest.raises(RMError, match="no rows"):
        read_csp_targets(tmp_path / "empty.csv")
    with pytest.raises(RMError, match=r"row 1 \(NaCl\): the CIF does not parse"):
        read_csp_targets(write_targets(tmp_path / "b.csv", [{"composition": "NaCl", "cif": "not a cif"}]))
    with pytest.raises(RMError, match="ground truth is NaCl, not KCl"):
        read_csp_targets(write_targets(tmp_path / "c.csv", [{"composition": "KCl", "cif": cif}]))
    with pytest.raises(RMError, match="row 1"):
        read_csp_targets(write_targets(tmp_path / "d.csv", [{"composition": "Xx2", "cif": cif}]))
    with pytest.raises(RMError, match="listed twice"):
        read_csp_targets(write_targets(tmp_path / "e.csv", [{"composition": "NaCl", "cif": cif},
                                                            {"composition": "NaCl", "cif": cif}]))


def test_run_csp_counts_every_attempt_and_resumes_without_redoing(salt_checkpoint: Path, tmp_path: Path) -> None:
    truth = rocksalt()
    targets = [CSPTarget("NaCl", truth), CSPTarget("Na2Cl2", truth)]
    out = tmp_path / "csp"
    first = run_csp(salt_checkpoint, targets, out, n=2, seed=3, protocol=QUICK)
    assert [r["n_attempts"] for r in first.rows] == [2, 2] and len(first.attempts) == 4
    assert {p.name for p in first.files} == {"csp.csv", "csp.md", "attempts.csv"}
    assert (out / "csp.md").read_text().strip().endswith(first.summary())
    with open(out / "csp.csv") as fh:
        header = next(csv.reader(fh))
    assert header[:3] == ["material_id", "composition", "n_attempts"]
    assert header[-11:] == ["top_1", "top_3", "top_5", "n_distinct", "best_distinct_rank", "top_1_distinct",
                            "top_3_distinct", "top_5_distinct", *GT_COLUMNS]

    frames = ase.io.read(out / "generated.extxyz", index=":")
    assert sorted(int(a.info[keys.RM_ATTEMPT]) for a in frames) == sorted(
        composition_key(f) * ATTEMPT_STRIDE + k for f in ("NaCl", "Na2Cl2") for k in range(2))
    # Mark attempt 0 of NaCl: a rerun that recomputed it would overwrite the mark.
    for atoms in frames:
        if atoms.info[keys.RM_FORMULA] == "NaCl" and int(atoms.info[keys.RM_ATTEMPT]) % ATTEMPT_STRIDE == 0:
            atoms.info[keys.RM_ENERGY] = -1234.0
    ase.io.write(out / "generated.extxyz", frames, format="extxyz")

    second = run_csp(salt_checkpoint, targets, out, n=3, seed=3, protocol=QUICK)  # one more attempt each
    assert [r["n_attempts"] for r in second.rows] == [3, 3]
    assert len(ase.io.read(out / "generated.extxyz", index=":")) == 6  # 4 kept + 2 new
    nacl = [a for a in second.attempts if a["composition"] == "NaCl"]
    assert nacl[0]["energy_per_atom"] == pytest.approx(-1234.0 / 2) and nacl[0]["rank"] == 1
    for old, new in zip(first.attempts[2:], second.attempts[3:5], strict=True):  # Na2Cl2 kept as it was
        assert new["energy_per_atom"] == pytest.approx(old["energy_per_atom"])

    with pytest.raises(RMError, match="different seed"):
        run_csp(salt_checkpoint, targets, out, n=2, seed=4, protocol=QUICK)
    with pytest.raises(RMError, match="different protocol"):
        run_csp(salt_checkpoint, targets, out, n=2, seed=3, protocol=QUICK, max_steps=5)
    other = Denoiser(ModelConfig(species=(3, 11, 16, 17), cutoff=3.5, n_embedding=2, hidden=(8,)),
                     torch.Generator().manual_seed(1), dtype=torch.float64)
    atomic_save(make_checkpoint(other, volume_fit={3: 20.0, 11: 24.0, 16: 25.0, 17: 25.0}), tmp_path / "other.pt")
    with pytest.raises(RMError, match="different model"):
        run_csp(tmp_path / "other.pt", targets, out, n=2, seed=3, protocol=QUICK)
    # A manifest written before Stage.accept existed still resumes (the field takes its default).
    meta = out / "generated.json"
    manifest = json.loads(meta.read_text())
    for stage in manifest["protocol"]["stages"]:
        del stage["accept"]
    meta.write_text(json.dumps(manifest))
    assert run_csp(salt_checkpoint, targets, out, n=3, seed=3, protocol=QUICK).rows == second.rows
    (out / "generated.json").unlink()
    with pytest.raises(RMError, match="has no manifest"):
        run_csp(salt_checkpoint, targets, out, n=2, seed=3, protocol=QUICK)


def test_generation_does_not_depend_on_the_other_compositions(salt_checkpoint: Path, tmp_path: Path) -> None:
    both = generate_compositions(salt_checkpoint, ["NaCl", "LiS"], tmp_path / "a.extxyz", n=1, seed=0,
                                 protocol=QUICK)
    alone = generate_compositions(salt_checkpoint, ["LiS"], tmp_path / "b.extxyz", n=1, seed=0, protocol=QUICK)
    np.testing.assert_allclose(both["LiS"][0].positions, alone["LiS"][0].positions)
    with pytest.raises(RMError, match="listed twice"):
        generate_compositions(salt_checkpoint, ["NaCl", "Na1Cl1"], tmp_path / "c.extxyz", n=1, protocol=QUICK)


def test_csp_cli(salt_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cif = rocksalt().to(fmt="cif")
    targets = write_targets(tmp_path / "targets.csv", [{"composition": "NaCl", "cif": cif, "material_id": "x-1"},
                                                        {"composition": "LiCl", "cif": cif.replace("Na", "Li")}])
    out = tmp_path / "out"
    argv = ["csp", str(salt_checkpoint), "--compositions", str(targets), "--n", "2", "--out", str(out),
            "--top", "1,2", "--protocol", "diamond", "--max-steps", "10", "--no-progress"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["composition", "n_attempts", "n_converged"]
    assert re.fullmatch(r"matched: [0-2]/2 \(any of 2\); top-1: [0-2]/2; top-2: [0-2]/2; "
                        r"top-1/2 distinct: [0-2]/[0-2] of 2", lines[-3])
    assert re.fullmatch(r"ground truth a minimum of E~ \(still matched after relaxation\): [0-2]/2; "
                        r"lowest in E~ of all attempts: [0-2]/2", lines[-2])
    assert lines[-1].startswith("ranked candidates written to")
    assert (out / "csp.csv").exists() and (out / "csp.md").exists()

    assert main(["csp", str(salt_checkpoint), "--compositions", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ase-rm csp: error: CSV file") and "not found" in err and "\n" not in err
    with pytest.raises(SystemExit):
        main(["csp", str(salt_checkpoint), "--compositions", str(targets), "--out", str(out), "--top", "0,x"])


def test_csp_seeds_script_pools_runs(tmp_path: Path) -> None:
    """experiments/mp20/csp_seeds.py: per-run counts, per-composition pooled hit rates."""
    runs = {"a": ({"X": (True, True), "Y": (False, False)}, {"X": [1, 0], "Y": [0, 0]}),
            "b": ({"X": (False, False), "Y": (True, False)}, {"X": [0, 0], "Y": [0, 1]})}
    for name, (summary, attempts) in runs.items():
        folder = tmp_path / name
        folder.mkdir()
        lines = ["composition,n_attempts,matched,top_1,top_5"]
        lines += [f"{c},2,{m},{t},{t}" for c, (m, t) in summary.items()]
        (folder / "csp.csv").write_text("\n".join(lines) + "\n")
        lines = ["composition,attempt,matched"]
        lines += [f"{c},{k},{bool(v)}" for c, hits in attempts.items() for k, v in enumerate(hits)]
        (folder / "attempts.csv").write_text("\n".join(lines) + "\n")
    script = Path(__file__).parents[2] / "experiments" / "mp20" / "csp_seeds.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "a"), str(tmp_path / "b")],
                         capture_output=True, text=True, check=True).stdout
    assert "| mean | 1.0 | 0.5 | 0.5 |" in out
    assert "| X | 1/2 | 1/4 | 0.44 |" in out  # p = 1/4: 1 - (3/4)^2 = 0.4375
    assert "| Y | 1/2 | 1/4 | 0.44 |" in out
    assert "expected any-of-2 count of one run: 0.9/2; matched in at least one run: 2/2" in out


def write_cu4_pool(folder: Path, pool: Sequence[tuple[Atoms, float, bool]]) -> Path:
    """An ``ase-rm csp`` output folder (generated.extxyz, attempts.csv) of Cu4 attempts given as
    (structure, E~ per atom, matched); all converged, E~ ranks left out (the scripts do not read them)."""
    folder.mkdir()
    frames, lines = [], ["composition,attempt,n_atoms,energy_per_atom,rank,converged,matched,rms"]
    for k, (atoms, energy, matched) in enumerate(pool):
        atoms = atoms.copy()
        atoms.info.update({keys.RM_FORMULA: "Cu4", keys.RM_ATTEMPT: k, keys.RM_ENERGY: energy * 4,
                           keys.RM_CONVERGED: True})
        frames.append(atoms)
        lines.append(f"Cu4,{k},4,{energy},,True,{matched},")
    ase.io.write(folder / "generated.extxyz", frames, format="extxyz")
    (folder / "attempts.csv").write_text("\n".join(lines) + "\n")
    return folder


def run_script(name: str, *args: str) -> str:
    """An experiments/mp20 script's stdout."""
    script = Path(__file__).parents[2] / "experiments" / "mp20" / name
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=True).stdout


def cu4_row(out: str) -> list[float]:
    """The numbers of a script's Cu4 row."""
    row = next(line for line in out.splitlines() if line.startswith("| Cu4 |"))
    return [float(x) for x in row.strip("|").split("|")[1:]]


FCC = bulk("Cu", "fcc", a=3.6, cubic=True)
BCC = bulk("Cu", "bcc", a=2.9, cubic=True) * (2, 1, 1)


def test_csp_selection_script_estimates_best_of_k_by_energy_and_by_symmetry(tmp_path: Path) -> None:
    """experiments/mp20/csp_selection.py: pool of 4 (two symmetric matched attempts, two distorted lower-E~
    unmatched ones), n = 2 attempts of k = 2 starts. By symmetry every draw keeps a matched one (1.0); by
    energy only the draw that pairs the two symmetric ones does (1 of the 3 pairings: 1/3)."""
    rattled = [FCC.copy(), FCC.copy()]
    for k, atoms in enumerate(rattled):
        atoms.rattle(0.2, seed=k + 2)
    folder = write_cu4_pool(tmp_path / "run", [(FCC, -1.0, True), (FCC, -2.0, True), (rattled[0], -3.0, False),
                                               (rattled[1], -4.0, False)])  # the distorted ones are lower
    out = run_script("csp_selection.py", str(folder), "--n", "2", "--k", "1", "2", "--reps", "3000")
    pool_size, matched, exact, e1, e2, s1, s2 = cu4_row(out)
    assert (pool_size, matched) == (4, 2)
    assert exact == pytest.approx(1 - 1 / 6, abs=0.005)  # 1 - C(2, 2) / C(4, 2)
    assert e1 == pytest.approx(exact, abs=0.03) and s1 == pytest.approx(exact, abs=0.03)
    assert e2 == pytest.approx(1 / 3, abs=0.04) and s2 == 1.0


def test_csp_distinct_script_drops_duplicates_before_keeping_the_lowest(tmp_path: Path) -> None:
    """experiments/mp20/csp_distinct.py: three copies of one unmatched low-E~ structure and one matched
    higher-E~ structure. Keeping n = 2 of the whole pool drops the copies, so the matched one is kept (but
    is not the lowest); from random pools of 2, it is kept when it is drawn (1/2 of the pairs)."""
    folder = write_cu4_pool(tmp_path / "run", [(FCC, -4.0, False), (FCC, -3.0, False), (FCC, -2.0, False),
                                               (BCC, -1.0, True)])
    out = run_script("csp_distinct.py", str(folder), "--n", "2", "--pools", "2", "4", "--reps", "400")
    attempts, matched, *rates = cu4_row(out)
    assert (attempts, matched) == (4, 1)
    p2_any, p2_top1, _, _, p4_any, p4_top1, p4_top3, _ = rates
    assert (p4_any, p4_top1, p4_top3) == (1.0, 0.0, 1.0)
    assert p2_any == pytest.approx(0.5, abs=0.08) and p2_top1 == 0.0


def test_csp_distinct_script_frequency_rule_keeps_the_most_often_found(tmp_path: Path) -> None:
    """--rule frequency: two copies of a matched fcc structure beat a lower-E~ bcc found once, so with
    n = 1 the kept structure matches (by energy it would not)."""
    folder = write_cu4_pool(tmp_path / "run", [(BCC, -4.0, False), (FCC, -3.0, True), (FCC, -2.0, True)])
    for rule, expected in (("frequency", 1.0), ("energy", 0.0)):
        out = run_script("csp_distinct.py", str(folder), "--n", "1", "--pools", "3", "--rule", rule)
        assert cu4_row(out)[2] == expected, rule
