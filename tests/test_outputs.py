"""Outputs are never destroyed silently: every writing command resumes, refuses
or (only with --overwrite) replaces an output that already holds results."""

from __future__ import annotations

from pathlib import Path

import ase.io
import pytest
from ase.build import molecule

from ase_rm.cli.main import main
from ase_rm.errors import ConfigError, OutputExistsError, OutputLocationError
from ase_rm.outputs import atomic_path, claim_folder, claim_output, write_frames


def test_claim_output_refuses_resumes_or_allows_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out.extxyz"
    assert claim_output(out) is False  # nothing there
    out.write_text("")
    assert claim_output(out) is False  # an empty file holds nothing
    out.write_text("results")
    with pytest.raises(OutputExistsError, match="--resume.*--overwrite"):
        claim_output(out)
    with pytest.raises(OutputExistsError, match="--overwrite") as info:
        claim_output(out, can_resume=False)
    assert "--resume" not in str(info.value)
    assert claim_output(out, resume=True) is True
    assert claim_output(out, overwrite=True) is False
    assert out.read_text() == "results"  # a claim never deletes
    with pytest.raises(ConfigError, match="give one"):
        claim_output(out, resume=True, overwrite=True)
    other = tmp_path / "other.extxyz"
    (tmp_path / "other.restarts.extxyz").write_text("x")
    with pytest.raises(OutputExistsError, match="restarts"):
        claim_output(other, related=[tmp_path / "other.restarts.extxyz"])


def test_claim_output_checks_the_folder_first(tmp_path: Path) -> None:
    with pytest.raises(OutputLocationError, match="does not exist; create it first"):
        claim_output(tmp_path / "missing" / "out.extxyz")
    with pytest.raises(OutputLocationError, match="is a folder"):
        claim_output(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputLocationError, match="is a file"):
        claim_output(tmp_path / "file" / "out.extxyz")


def test_claim_folder_only_looks_at_the_files_it_writes(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert claim_folder(folder, ["a.csv"]) is False  # made later, in an existing parent
    with pytest.raises(OutputLocationError):
        claim_folder(tmp_path / "x" / "y", ["a.csv"])
    assert claim_folder(tmp_path / "x" / "y", ["a.csv"], make_parents=True) is False
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert claim_folder(folder, ["a.csv"]) is False
    (folder / "a.csv").write_text("1,2")
    with pytest.raises(OutputExistsError, match=r"run already holds a\.csv; add --overwrite"):
        claim_folder(folder, ["a.csv", "b.csv"])
    assert claim_folder(folder, ["a.csv"], resume=True, can_resume=True) is True


def test_atomic_path_leaves_the_old_file_on_error(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    write_frames(out, [molecule("H2O")])
    assert len(ase.io.read(out, ":", format="extxyz")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def quick_protocol(folder: Path) -> Path:
    """A molecule protocol of 5 FIRE steps: generation tests in a second."""
    path = folder / "quick.toml"
    path.write_text('[start]\nkind = "molecule"\n[[stages]]\nfmax = 0.05\nmax_steps = 5\n')
    return path


def _frames(tmp_path: Path) -> Path:
    path = tmp_path / "in.extxyz"
    ase.io.write(path, [molecule("H2O"), molecule("CH4")])
    return path


@pytest.mark.parametrize("command", ["noise", "relax", "select"])
def test_writing_commands_refuse_then_overwrite(command: str, tmp_path: Path, tiny_checkpoint: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    src = _frames(tmp_path)
    out = tmp_path / "out.extxyz"
    out.write_text("precious\n")
    if command == "select":
        relaxed = tmp_path / "relaxed.extxyz"
        assert main(["relax", str(tiny_checkpoint), str(src), str(relaxed), "--steps", "2", "--no-progress"]) == 0
        argv = ["select", str(relaxed), str(out), "--lowest", "1"]
    elif command == "relax":
        argv = ["relax", str(tiny_checkpoint), str(src), str(out), "--steps", "2", "--no-progress"]
    else:
        argv = ["noise", str(src), str(out)]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err and "nothing was changed" in err
    assert out.read_text() == "precious\n"
    assert main([*argv, "--overwrite"]) == 0
    assert len(ase.io.read(out, ":")) >= 1


def test_generate_refuses_an_earlier_output(tiny_checkpoint: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gen.extxyz"
    argv = ["generate", str(tiny_checkpoint), "-c", "CH4", "--n", "2", "--out", str(out), "--no-progress",
            "--protocol", str(quick_protocol(tmp_path))]
    assert main(argv) == 0
    before = out.read_text()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and out.read_text() == before
    assert main([*argv, "--resume"]) == 0 and out.read_text() == before  # nothing left to do
    assert main([*argv, "--n", "1", "--overwrite"]) == 0
    assert len(ase.io.read(out, ":")) == 1
    assert main([*argv, "--resume", "--overwrite"]) == 2


def test_generate_refuses_a_missing_folder_before_loading_anything(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "gen.extxyz"
    assert main(["generate", "no-such-model", "-c", "CH4", "--out", str(out), "--no-progress"]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err


def test_search_api_refuses_to_clear_results(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from ase_rm.checkpoint import load_potential
    from ase_rm.rss import attempts_for, expand_compositions, get_protocol, search

    potential, _ = load_potential(tiny_checkpoint)
    protocol = get_protocol("molecule")
    attempts = attempts_for(expand_compositions("CH4"), protocol, 1)
    out = tmp_path / "gen.extxyz"
    out.write_text("precious\n")
    with pytest.raises(OutputExistsError):
        search(potential, attempts, protocol, out=out)
    assert out.read_text() == "precious\n"


def test_train_refuses_a_folder_with_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.pt").write_bytes(b"weights")
    (tmp_path / "run.toml").write_text('data = "none.extxyz"\nout = "run"\npreset = "qm7b"\n')
    assert main(["train", str(tmp_path / "run.toml")]) == 2
    err = capsys.readouterr().err
    assert "already holds best.pt" in err and "--resume" in err and "--overwrite" in err
    assert (tmp_path / "run" / "best.pt").read_bytes() == b"weights"
