"""Random structure search: CLI, protocols, determinism, the ASE path, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import ase.build
import ase.io
import numpy as np
import pytest
import torch
from ase.neighborlist import neighbor_list

from ase_rm import RMCalculator, keys
from ase_rm.checkpoint import load_potential
from ase_rm.cli.main import main
from ase_rm.errors import ConfigError
from ase_rm.rss import PROTOCOLS, Stage, attempts_for, expand_compositions, search
from ase_rm.rss.output import append_frames, read_done
from ase_rm.testing import ase_stages, search_with_ase

FAST_MOLECULE = replace(PROTOCOLS["molecule"], stages=(
    Stage(fmax=1e-3, max_steps=30, name="relax"), Stage(fmax=1e-3, max_steps=20, kick=0.2, name="kick")))
FAST_CRYSTAL = replace(PROTOCOLS["crystal"], start=replace(PROTOCOLS["crystal"].start, volume_per_atom=9.0),
                       stages=(Stage(cell="constant_volume", fmax=0.1, max_steps=15),
                               Stage(cell="full", fmax=0.05, max_steps=15)))


@pytest.fixture(autouse=True)
def one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_molecule_search_outputs_documented_keys(tiny_checkpoint: Path) -> None:
    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    comps = expand_compositions("CH4O")
    out = search(potential, attempts_for(comps, FAST_MOLECULE, 3), FAST_MOLECULE, seed=1)
    assert [a.info[keys.RM_ATTEMPT] for a in out] == [0, 1, 2]
    for atoms in out:
        assert atoms.get_chemical_formula() == "CH4O" and not atoms.pbc.any()
        assert isinstance(atoms.info[keys.RM_ENERGY], float) and isinstance(atoms.info[keys.RM_CONVERGED], bool)
        assert 0 < atoms.info[keys.RM_STEPS] <= 50 and len(atoms.info["rm_stage_converged"]) == 2


def test_same_seed_same_structures_and_batch_independence(tiny_checkpoint: Path) -> None:
    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    att = attempts_for(expand_compositions("C2H6"), FAST_MOLECULE, 4)
    a = search(potential, att, FAST_MOLECULE, seed=3)
    b = search(potential, att, FAST_MOLECULE, seed=3, max_atoms_per_batch=8)  # one structure at a time
    c = search(potential, att, FAST_MOLECULE, seed=4)
    for x, y in zip(a, b, strict=True):
        assert np.allclose(x.positions, y.positions, atol=1e-10) and x.info[keys.RM_STEPS] == y.info[keys.RM_STEPS]
    assert not np.allclose(a[0].positions, c[0].positions)


def test_batched_engine_matches_the_ase_path(tiny_checkpoint: Path) -> None:
    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    calc = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64)
    att = attempts_for(expand_compositions("CH3NO"), FAST_MOLECULE, 2)
    batched = search(potential, att, FAST_MOLECULE, seed=0)
    serial = search_with_ase(calc, att, FAST_MOLECULE, seed=0)
    for x, y in zip(batched, serial, strict=True):
        assert abs(x.info[keys.RM_ENERGY] - y.info[keys.RM_ENERGY]) < 1e-4
        assert x.info[keys.RM_STEPS] == y.info[keys.RM_STEPS]


def test_accept_lower_keeps_the_better_of_before_and_after_a_stage(tiny_checkpoint: Path) -> None:
    """Stage(accept="lower"), zero-temperature basin hopping: each attempt ends as
    the same protocol with accept="always" would, unless the structure before
    the stage had converged and the stage's result did not or is higher in E~;
    then the structure before it is kept (marked R), with all the steps counted.
    (Both engines share this rule; the ASE path's relaxations of this random
    model end in coincident atoms, which its calculator refuses.)"""
    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    base = replace(FAST_MOLECULE, stages=(Stage(fmax=0.03, max_steps=60), Stage(fmax=0.03, max_steps=60, kick=0.3)))
    hop = Stage(fmax=0.03, max_steps=60, kick=0.3, accept="lower")
    att = attempts_for(expand_compositions("CH3NO"), base, 8)
    before = search(potential, att, base, seed=0)
    always = search(potential, att, replace(base, stages=(*base.stages, replace(hop, accept="always"))), seed=0)
    lower = search(potential, att, replace(base, stages=(*base.stages, hop)), seed=0)
    kept = 0
    for b, a, low in zip(before, always, lower, strict=True):
        worse = b.info[keys.RM_CONVERGED] and (
            not a.info[keys.RM_CONVERGED] or a.info[keys.RM_ENERGY] > b.info[keys.RM_ENERGY])
        winner = b if worse else a
        np.testing.assert_array_equal(low.positions, winner.positions)
        assert low.info[keys.RM_ENERGY] == winner.info[keys.RM_ENERGY]
        assert low.info[keys.RM_CONVERGED] == winner.info[keys.RM_CONVERGED]
        assert low.info[keys.RM_STEPS] == a.info[keys.RM_STEPS]
        stages = low.info["rm_stage_converged"]
        assert stages[:2] == b.info["rm_stage_converged"] and (stages[2] == "R") == bool(worse)
        kept += bool(worse)
    assert 0 < kept < len(att)  # both outcomes occur in this case


def test_crystal_protocol_keeps_cell_and_respects_start_distances(tiny_checkpoint: Path) -> None:
    potential, meta = load_potential(tiny_checkpoint, dtype=torch.float64)
    att = attempts_for(expand_compositions("C2N2"), FAST_CRYSTAL, 2)
    out = search(potential, att, FAST_CRYSTAL, seed=0, element_volumes=meta["volume_fit"])
    for atoms in out:
        assert atoms.pbc.all() and atoms.get_chemical_formula() == "C2N2"
        assert atoms.info[keys.RM_STEPS] <= 30
    from ase_rm.rss.search import make_start

    start = make_start(att[0], 0, None)
    assert start.get_volume() == pytest.approx(9.0 * 4)
    assert neighbor_list("d", start, 1.0).size == 0  # min distance 1.0 Å, periodic images included


def test_search_takes_a_start_maker(tiny_checkpoint: Path) -> None:
    """start_maker replaces random_start and gets the attempt's own rng: a maker
    that calls random_start gives the default run's structures, with its mark."""
    from ase_rm.rss import random_start

    def marked(spec, composition, rng, volumes):  # type: ignore[no-untyped-def]
        atoms = random_start(spec, composition, rng, volumes)
        atoms.info["made_by"] = "marked"
        return atoms

    potential, meta = load_potential(tiny_checkpoint, dtype=torch.float64)
    att = attempts_for(expand_compositions("C2N2"), FAST_CRYSTAL, 2)
    plain = search(potential, att, FAST_CRYSTAL, seed=4, element_volumes=meta["volume_fit"])
    made = search(potential, att, FAST_CRYSTAL, seed=4, element_volumes=meta["volume_fit"], start_maker=marked)
    assert [a.info["made_by"] for a in made] == ["marked", "marked"]
    for a, b in zip(plain, made, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)


def test_search_gives_the_attempt_index_to_makers_that_take_it(tiny_checkpoint: Path) -> None:
    """A maker with ``takes_attempt`` gets ``attempt=`` (each attempt's index)."""
    from ase_rm.rss import random_start

    class ByIndex:
        takes_attempt = True

        def __init__(self) -> None:
            self.seen: list[int] = []

        def __call__(self, spec, composition, rng, volumes, *, attempt):  # type: ignore[no-untyped-def]
            self.seen.append(attempt)
            atoms = random_start(spec, composition, rng, volumes)
            atoms.info["from_attempt"] = attempt
            return atoms

    potential, meta = load_potential(tiny_checkpoint, dtype=torch.float64)
    att = attempts_for(expand_compositions("C2N2"), FAST_CRYSTAL, 3)
    maker = ByIndex()
    made = search(potential, att, FAST_CRYSTAL, seed=4, element_volumes=meta["volume_fit"], start_maker=maker)
    assert sorted(maker.seen) == [0, 1, 2] and [a.info["from_attempt"] for a in made] == [0, 1, 2]


def test_cli_generate_molecule_crystal_and_diamond(tiny_checkpoint: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    mol = tmp_path / "mol.extxyz"
    assert main(["generate", str(tiny_checkpoint), "--composition", "C2O", "--enumerate-h", "--n", "1",
                 "--protocol", "molecule", "--out", str(mol), "--no-progress"]) == 2  # n_max = 2C+N-Cl-2 < 6
    assert "no hydrogen count >= 6" in capsys.readouterr().err
    assert main(["generate", str(tiny_checkpoint), "--composition", "C4O", "--enumerate-h", "--n", "1",
                 "--protocol", "molecule", "--out", str(mol), "--no-progress"]) == 0
    assert [f.get_chemical_formula() for f in ase.io.read(mol, ":")] == ["C4H6O"]
    assert "1 structures" in capsys.readouterr().out
    dia = tmp_path / "dia.extxyz"
    assert main(["generate", str(tiny_checkpoint), "--composition", "C4", "--n", "1", "--protocol", "diamond",
                 "--volume-per-atom", "4.4:4.6", "--out", str(dia), "--no-progress"]) == 0
    for f in ase.io.read(dia, ":"):
        assert f.pbc.all() and 4.4 <= f.get_volume() / 4 <= 4.6 and keys.RM_ENERGY in f.info
    # A protocol file: two short stages, the second a basin hop.
    hop = tmp_path / "hop.toml"
    hop.write_text('[start]\nkind = "molecule"\n[[stages]]\nfmax = 0.05\nmax_steps = 10\n'
                   '[[stages]]\nfmax = 0.05\nmax_steps = 10\nkick = 0.2\naccept = "lower"\n')
    out = tmp_path / "hop.extxyz"
    assert main(["generate", str(tiny_checkpoint), "-c", "CH4", "--n", "2", "--protocol", str(hop),
                 "--out", str(out), "--no-progress"]) == 0
    assert [len(f.info["rm_stage_converged"]) for f in ase.io.read(out, ":")] == [2, 2]
    assert main(["generate", str(tiny_checkpoint), "-c", "CH4", "--protocol", "nope.toml",
                 "--out", str(out), "--no-progress"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_relax_user_structures(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from ase.build import bulk, molecule

    ase.io.write(tmp_path / "in.extxyz", [molecule("CH4"), bulk("C", "diamond", a=3.6)])
    assert main(["relax", str(tiny_checkpoint), str(tmp_path / "in.extxyz"), str(tmp_path / "out.extxyz"),
                 "--cell", "--fmax", "0.05", "--steps", "50", "--no-progress"]) == 2  # cell mode needs 3-D pbc
    ase.io.write(tmp_path / "in.extxyz", [bulk("C", "diamond", a=3.6)])
    assert main(["relax", str(tiny_checkpoint), str(tmp_path / "in.extxyz"), str(tmp_path / "out.extxyz"),
                 "--cell", "--fmax", "0.05", "--steps", "50", "--no-progress"]) == 0
    out = ase.io.read(tmp_path / "out.extxyz")
    assert keys.RM_CONVERGED in out.info and out.pbc.all()


def test_torn_output_is_repaired_on_resume(tmp_path: Path) -> None:
    from ase.build import molecule

    path = tmp_path / "gen.extxyz"
    frames = []
    for k in range(3):
        atoms = molecule("H2O")
        atoms.info[keys.RM_ATTEMPT] = k
        frames.append(atoms)
    append_frames(path, frames)
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # a kill in the middle of the last write
    done = read_done(path, keys.RM_ATTEMPT)
    assert sorted(done) == [0, 1]
    assert len(ase.io.read(path, ":")) == 2


KILL = """
import sys, torch
torch.set_num_threads(1)
from dataclasses import replace
from ase_rm.checkpoint import load_potential
from ase_rm.rss import attempts_for, expand_compositions, search
from tests.test_generate import FAST_MOLECULE
potential, _ = load_potential(sys.argv[1], dtype=torch.float64)
att = attempts_for(expand_compositions("C2H6O"), FAST_MOLECULE, 24)
search(potential, att, FAST_MOLECULE, seed=2, out=sys.argv[2], resume=True, max_atoms_per_batch=27)
"""


def test_killed_generation_resumes_without_loss_or_repeats(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen.extxyz"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", KILL, str(tiny_checkpoint), str(out)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("rm_attempt") >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "generation finished before it could be killed"
    partial = read_done(out, keys.RM_ATTEMPT)
    assert 3 <= len(partial) < 24
    subprocess.run([sys.executable, "-c", KILL, str(tiny_checkpoint), str(out)], cwd=root, check=True,
                   env={**os.environ, "PYTHONPATH": str(root)})
    frames = ase.io.read(out, ":")
    assert sorted(f.info[keys.RM_ATTEMPT] for f in frames) == list(range(24))
    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    ref = search(potential, attempts_for(expand_compositions("C2H6O"), FAST_MOLECULE, 24), FAST_MOLECULE, seed=2)
    by_attempt = {f.info[keys.RM_ATTEMPT]: f for f in frames}
    for r in ref:
        assert np.allclose(by_attempt[r.info[keys.RM_ATTEMPT]].positions, r.positions, atol=1e-6)


def test_an_attempt_a_stage_cannot_run_on_counts_as_failed_and_the_rest_go_on(tiny_checkpoint: Path) -> None:
    """Two atoms that fell onto each other in a stage fail that attempt only, in both engines."""
    from ase_rm.rss.search import _batched_stages

    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    calc = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64)
    stages = (Stage(fmax=1e-3, max_steps=5), Stage(fmax=1e-3, max_steps=5))
    previous = []
    for k in range(3):
        atoms = ase.build.molecule("CH3OH")
        atoms.info[keys.RM_ATTEMPT] = k
        previous.append(atoms)
    previous[1].positions[2] = previous[1].positions[1]  # coincident atoms: no stage can run on it
    for stream in (_batched_stages(potential, iter(previous), stages, 0, 4096),
                   ase_stages(calc, iter(previous), stages, 0, "FIRE")):
        out = {a.info[keys.RM_ATTEMPT]: a for a in stream}
        assert sorted(out) == [0, 1, 2]
        bad = out[1]
        assert bad.info[keys.RM_CONVERGED] is False and bad.info[keys.RM_STAGE_CONVERGED] == "F"
        assert "sits on atom" in bad.info[keys.RM_ERROR] and bad.info[keys.RM_STEPS] == 0
        assert np.isnan(bad.info[keys.RM_ENERGY]) and np.allclose(bad.positions, previous[1].positions)
        for k in (0, 2):
            assert keys.RM_ERROR not in out[k].info and len(out[k].info[keys.RM_STAGE_CONVERGED]) == 2
            assert out[k].info[keys.RM_STEPS] > 0
    # failing in a later stage keeps what the earlier stages gave
    from ase_rm.rss.search import _one_stage

    for atoms in previous:
        atoms.info.update({keys.RM_ENERGY: -1.0, keys.RM_CONVERGED: True, keys.RM_STEPS: 7,
                           keys.RM_STAGE_CONVERGED: "C"})
    out = {a.info[keys.RM_ATTEMPT]: a for a in _one_stage(potential, iter(previous), stages[1], 1, 0, 4096)}
    assert out[1].info[keys.RM_STAGE_CONVERGED] == "CF" and out[1].info[keys.RM_STEPS] == 7
    assert out[1].info[keys.RM_ENERGY] == -1.0 and out[1].info[keys.RM_CONVERGED] is False
    assert out[0].info[keys.RM_STAGE_CONVERGED] in ("CC", "CN") and out[0].info[keys.RM_STEPS] > 7


def test_search_shards_attempts_and_part_files_merge(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from ase_rm.rss.output import merge_parts, part_path

    potential, _ = load_potential(tiny_checkpoint, dtype=torch.float64)
    att = attempts_for(expand_compositions("CH4O"), FAST_MOLECULE, 5)
    out = tmp_path / "gen.extxyz"
    whole = search(potential, att, FAST_MOLECULE, seed=1)
    parts = [search(potential, att, FAST_MOLECULE, seed=1, out=out, shard=(r, 2)) for r in (0, 1)]
    assert [a.info[keys.RM_ATTEMPT] for a in parts[0]] == [0, 2, 4]
    assert [a.info[keys.RM_ATTEMPT] for a in parts[1]] == [1, 3]
    assert part_path(out, 1, 2).name == "gen.rank1-of-2.extxyz" and not out.exists()
    merged = merge_parts(out, 2, keys.RM_ATTEMPT)
    assert [a.info[keys.RM_ATTEMPT] for a in merged] == [0, 1, 2, 3, 4] and not part_path(out, 0, 2).exists()
    for x, y in zip(merged, whole, strict=True):
        assert np.allclose(x.positions, y.positions, atol=1e-8)
    with pytest.raises(ConfigError, match="shard"):
        search(potential, att, FAST_MOLECULE, shard=(2, 2))


FAST_MOLECULE_TOML = """extends = "molecule"
[[stages]]
fmax = 1e-3
max_steps = 30
name = "relax"
[[stages]]
fmax = 1e-3
max_steps = 20
kick = 0.2
name = "kick"
[engine]
dtype = "float64"
"""
"""FAST_MOLECULE as a protocol file, in float64 (what the CLI runs)."""


def test_protocol_file_extends_a_preset_and_sets_the_engine(tmp_path: Path) -> None:
    from ase_rm.errors import ConfigError
    from ase_rm.rss import Engine, Protocol, get_protocol

    path = tmp_path / "fast.toml"
    path.write_text(FAST_MOLECULE_TOML)
    protocol = get_protocol(path)
    assert protocol.stages == FAST_MOLECULE.stages and protocol.start == FAST_MOLECULE.start
    assert protocol.engine == Engine(dtype="float64") and protocol.name == "fast"
    assert Protocol.from_dict(protocol.to_dict()) == protocol  # the engine table round-trips
    assert get_protocol("molecule").engine == Engine()  # presets: float32, not compiled
    (tmp_path / "bad.toml").write_text('extends = "molecule"\n[engine]\ndtype = "float16"\n')
    with pytest.raises(ConfigError, match="Engine.dtype must be 'float32' or 'float64'"):
        get_protocol(tmp_path / "bad.toml")
    (tmp_path / "nobase.toml").write_text('extends = "molecules"\n')
    with pytest.raises(ConfigError, match="extends must name a preset"):
        get_protocol(tmp_path / "nobase.toml")


def test_generate_best_of_k_is_select_best_of_k_of_k_times_the_attempts(
        tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate --best-of K: K times the attempts (all in OUT's .restarts file), then the selection of
    select --best-of K; a killed run resumes from the .restarts file; the result is the same."""
    from ase_rm.rss.output import restarts_path
    from ase_rm.rss.select import rank_key

    protocol = tmp_path / "fast.toml"
    protocol.write_text(FAST_MOLECULE_TOML)
    gen = ["generate", str(tiny_checkpoint), "-c", "CH4O", "-c", "C2H6", "--protocol", str(protocol), "--seed", "5",
           "--no-progress"]
    out = tmp_path / "best.extxyz"
    assert main([*gen, "--n", "2", "--best-of", "3", "--out", str(out)]) == 0
    assert main([*gen, "--n", "6", "--out", str(tmp_path / "plain.extxyz")]) == 0
    assert main(["select", str(tmp_path / "plain.extxyz"), str(tmp_path / "sel.extxyz"), "--best-of", "3"]) == 0
    best, plain = ase.io.read(out, ":"), ase.io.read(tmp_path / "plain.extxyz", ":")
    selected = ase.io.read(tmp_path / "sel.extxyz", ":")
    assert [a.info[keys.RM_ATTEMPT] for a in best] == [a.info[keys.RM_ATTEMPT] for a in selected] == [0, 1, 2, 3]
    for i, atoms in enumerate(best):
        block = plain[3 * i:3 * i + 3]
        assert {b.info[keys.RM_FORMULA] for b in block} == {atoms.info[keys.RM_FORMULA]}
        winner = min(block, key=lambda b: (*rank_key(b), b.info[keys.RM_ATTEMPT]))
        assert atoms.info[keys.RM_RELAXATION] == winner.info[keys.RM_ATTEMPT] and atoms.info[keys.RM_BEST_OF] == 3
        assert np.allclose(atoms.positions, winner.positions, atol=1e-8)
        assert np.allclose(atoms.positions, selected[i].positions, atol=1e-8)
    restarts = read_done(restarts_path(out), keys.RM_ATTEMPT)
    assert sorted(restarts) == list(range(12))
    # a run killed after some relaxations: those in the .restarts file are kept, the rest are made
    ase.io.write(restarts_path(out), [restarts[k] for k in (0, 1, 2, 3, 7)], format="extxyz")
    out.unlink()
    assert main([*gen, "--n", "2", "--best-of", "3", "--out", str(out), "--resume"]) == 0
    again = ase.io.read(out, ":")
    assert [a.info[keys.RM_RELAXATION] for a in again] == [a.info[keys.RM_RELAXATION] for a in best]
    assert sorted(read_done(restarts_path(out), keys.RM_ATTEMPT)) == list(range(12))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([*gen, "--best-of", "0", "--out", str(out)])
    assert exc.value.code == 2 and "must be a positive integer, not 0" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "hint"), [
    (["--engine", "ase"], "ase_rm.testing.search_with_ase"),
    (["--optimizer", "BFGS"], "search_with_ase(..., optimizer=...)"),
    (["--dtype", "float64"], 'dtype = "float64"'),
    (["--compile"], "compile = true"),
    (["--rank-by", "valence"], "ase-rm select gen.restarts.extxyz best.extxyz --best-of K --rank-by RULE"),
])
def test_removed_generate_options_say_what_to_write_instead(
        flag: list[str], hint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["generate", "qm7b", "-c", "CH4", *flag, "--out", str(tmp_path / "x.extxyz")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {flag[0]} was removed; " in err and hint in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.extxyz").exists()


def test_a_kick_before_the_first_stage_is_not_the_starts_random_stream() -> None:
    """numpy's SeedSequence ignores trailing zeros: stage 0's kick must not reuse the start's stream."""
    from ase_rm.rss.search import kick

    atoms = ase.build.molecule("H2O")
    atoms.info[keys.RM_ATTEMPT] = 4
    moved = kick(atoms, Stage(kick=0.5), 0, seed=7).positions - atoms.positions
    start_stream = np.random.default_rng([7, 4]).uniform(-0.5, 0.5, size=moved.shape)
    assert not np.allclose(moved, start_stream)
    later = kick(atoms, Stage(kick=0.5), 1, seed=7).positions - atoms.positions  # unchanged numbering
    assert np.allclose(later, np.random.default_rng([7, 4, 1]).uniform(-0.5, 0.5, size=moved.shape))


def test_every_protocol_file_under_experiments_loads() -> None:
    """The protocol files that docs/results.md runs (experiments/*/*.toml with [[stages]]) still parse."""
    from ase_rm.rss import get_protocol

    files = [p for p in (Path(__file__).parents[1] / "experiments").glob("*/*.toml") if "[[stages]]" in p.read_text()]
    assert {p.name for p in files} >= {"hop.toml", "vc_only.toml"}
    for path in files:
        protocol = get_protocol(str(path))
        assert protocol.stages and protocol.name == path.stem
