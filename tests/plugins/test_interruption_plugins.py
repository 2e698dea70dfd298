"""``kill -9`` during the CSP benchmark and during ``evaluate molecules``, then the
documented resume (run the same command again): nothing lost, nothing repeated,
the same tables as an uninterrupted run."""

from __future__ import annotations

import csv
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk, molecule

from ase_rm.cli.main import main

from ..test_interruption import cli, run_then_kill


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_csp_benchmark_killed_then_resumed(salt_checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("pymatgen")
    from ase_rm_pymatgen import to_pymatgen

    truths = tmp_path / "truths.csv"
    crystals = {"nacl": bulk("NaCl", "rocksalt", a=5.64), "licl": bulk("LiCl", "rocksalt", a=5.13),
                "nas": bulk("NaCl", "rocksalt", a=5.7), "lis": bulk("LiCl", "rocksalt", a=5.0)}
    crystals["nas"].symbols[1] = "S"  # NaS and LiS in the rock-salt cell: four compositions
    crystals["lis"].symbols[1] = "S"
    with open(truths, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["material_id", "cif"])
        writer.writeheader()
        writer.writerows({"material_id": k, "cif": to_pymatgen(a).to(fmt="cif")} for k, a in crystals.items())
    argv = ["csp", str(salt_checkpoint), "--ground-truths", str(truths), "--n", "6", "--max-steps", "150",
            "--no-progress", "--no-ground-truth-check", "--pictures", "0", "--out"]
    out, ref = tmp_path / "bench", tmp_path / "ref"
    generated = out / "generated.extxyz"
    run_then_kill(cli(*argv, str(out)), lambda: generated.exists() and generated.read_text().count("rm_attempt") >= 6)
    before = len(ase.io.read(generated, ":"))
    assert 6 <= before < 24 and not (out / "benchmark.csv").exists()
    assert main([*argv, str(out)]) == 0  # the same command continues the campaign
    assert main([*argv, str(ref)]) == 0
    frames = ase.io.read(generated, ":")
    keys = [(a.get_chemical_formula(), int(a.info["rm_attempt"])) for a in frames]
    assert len(keys) == len(set(keys)) == 24  # every attempt of the four compositions, each once
    resumed, uninterrupted = read_rows(out / "benchmark.csv"), read_rows(ref / "benchmark.csv")
    assert [r["csp_id"] for r in resumed] == list(crystals)
    drop = {"seconds", "seconds_per_attempt"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in resumed] == \
        [{k: v for k, v in r.items() if k not in drop} for r in uninterrupted]


def noisy_molecules(n: int) -> list:
    rng = np.random.default_rng(0)
    frames = []
    for k in range(n):
        atoms = molecule(("CH3OH", "CH3CH2OH", "C6H6", "CH3COOH")[k % 4])
        atoms.positions += rng.normal(0, 0.02, atoms.positions.shape)  # each frame distinct
        atoms.info["rm_converged"] = bool(k % 5)
        frames.append(atoms)
    return frames


def test_evaluate_molecules_killed_then_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("posebusters")
    import ase_rm_molecules.evaluate as evaluate
    from ase_rm_molecules.cli import PROGRESS_FILE

    n = 240
    ase.io.write(tmp_path / "gen.extxyz", noisy_molecules(n))
    argv = ["evaluate", "molecules", str(tmp_path / "gen.extxyz"), "--out"]
    out, ref = tmp_path / "eval", tmp_path / "ref"
    partial = out / PROGRESS_FILE
    run_then_kill(cli(*argv, str(out)), lambda: partial.exists() and partial.read_text().count("\n") >= 20)
    done = partial.read_text().count("\n")
    assert 20 <= done < n and not (out / "summary.csv").exists()
    calls = []
    check = evaluate.check_molecule
    monkeypatch.setattr(evaluate, "check_molecule", lambda *a: calls.append(1) or check(*a))
    assert main([*argv, str(out)]) == 0  # the same command continues the evaluation
    assert done + len(calls) == n  # the killed run's records are kept, none made twice
    assert not partial.exists()
    assert main([*argv, str(ref)]) == 0
    for name in ("summary.csv", "molecules.csv"):
        assert (out / name).read_text() == (ref / name).read_text()
    assert main([*argv, str(out)]) == 2  # finished: a rerun is refused, not silently redone


def test_evaluation_cache_after_a_line_cut_short(tmp_path: Path) -> None:
    pytest.importorskip("posebusters")
    from ase_rm_molecules.evaluate import _read_cache, evaluate_frames

    frames = noisy_molecules(3)
    cache = tmp_path / "records.partial.jsonl"
    evaluate_frames(frames[:1], cache=cache)
    cache.write_text(cache.read_text() + '{"key": "cut')  # a kill mid-write
    evaluate_frames(frames, cache=cache)
    assert len(_read_cache(cache)) == 3  # the two new records are readable, not glued to the cut line
