"""The ase-rm command line: subcommands call the library; errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ase.io
import pytest
import torch
from ase.build import bulk, molecule

from ase_rm import keys
from ase_rm.cli.main import main


def test_info_preset_prints_published_parameter_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--preset", "qm7b"]) == 0
    assert "parameters: 16490" in capsys.readouterr().out.splitlines()


def test_console_script_is_installed() -> None:
    out = subprocess.run([sys.executable, "-m", "ase_rm.cli.main", "info", "--preset", "mp20"],
                         capture_output=True, text=True, check=True).stdout
    assert "parameters: 16312" in out


def test_info_lists_each_shipped_model_with_what_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("diamond", "mp20", "qm7b", "qm7b-paper"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{name}:"))
        assert "no description" not in line, line
    assert "qm7b-paper fine-tuned" in out


def test_info_on_a_checkpoint(tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "format_version: 1" in out and "species: [1, 6, 7, 8]" in out


def test_noise_writes_frames_with_documented_keys(tmp_path: Path) -> None:
    ase.io.write(tmp_path / "in.extxyz", [bulk("Si", "diamond", a=5.43), bulk("NaCl", "rocksalt", a=5.6)])
    assert main(["noise", str(tmp_path / "in.extxyz"), str(tmp_path / "out.extxyz"), "--seed", "1"]) == 0
    frames = ase.io.read(tmp_path / "out.extxyz", ":")
    assert len(frames) == 22
    assert frames[3].arrays[keys.RM_FORCES].shape == (2, 3) and len(frames[3].info[keys.RM_STRESS]) == 6
    assert frames[3].calc is None


def test_train_from_a_toml_config_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ase.io.write(tmp_path / "mols.extxyz", [molecule(n) for n in ("H2O", "CH4", "NH3", "CH3OH")])
    (tmp_path / "run.toml").write_text(
        'data = "mols.extxyz"\nout = "run"\npreset = "qm7b"\nspecies = ["H", "C", "N", "O"]\n'
        "[model]\nn_embedding = 1\nhidden = [4]\n[train]\nepochs = 2\nbatch_size = 8\nvalid_fraction = 0.25\n"
    )
    assert main(["train", str(tmp_path / "run.toml"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "best checkpoint:" in out
    data = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert data["species"] == [1, 6, 7, 8] and "ase-rm train" in data["training_summary"]["command"]
    assert main(["train", str(tmp_path / "run.toml"), "--resume", "--no-progress"]) == 0
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["hidden"] == [4]
    tuned = str(tmp_path / "tuned.toml")
    Path(tuned).write_text((tmp_path / "run.toml").read_text().replace('out = "run"', 'out = "tuned"'))
    assert main(["train", tuned, "--init", str(tmp_path / "run" / "best.pt"), "--no-progress"]) == 0
    summary = torch.load(tmp_path / "tuned" / "best.pt", weights_only=True)["training_summary"]
    assert summary["init"] == str(tmp_path / "run" / "best.pt")
    capsys.readouterr()
    assert main(["train", tuned, "--init", "qm7b", "--no-progress", "--overwrite"]) == 2  # the shipped model is bigger
    err = capsys.readouterr().err.strip()
    assert "cannot start from qm7b" in err and "hidden" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["noise", "missing.xyz", "out.xyz"], "no such file"),
        (["info", "nope"], "no checkpoint file"),
        (["train", "missing.toml"], "no such config file"),
    ],
)
def test_errors_are_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unknown_config_key_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.toml").write_text('data = "x.xyz"\n[train]\nepochz = 3\n')
    ase.io.write(tmp_path / "x.xyz", molecule("H2O"))
    assert main(["train", str(tmp_path / "bad.toml")]) == 2
    assert "unknown TrainConfig keys ['epochz']" in capsys.readouterr().err


def test_every_core_option_has_an_example_in_its_help() -> None:
    """Each core subcommand's --help ends with 1-3 example commands that together use every option
    it shows (plugin subcommands are their plugins' own)."""
    import argparse

    from ase_rm.cli.main import SUBCOMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = [m.__name__.rsplit(".", 1)[-1] for m in SUBCOMMANDS]
    assert sorted(names) == ["demo", "generate", "info", "noise", "relax", "select", "train"]
    for name, p in [("", parser), *((n, sub.choices[n]) for n in names)]:
        epilog = p.epilog or ""
        examples = [line for line in epilog.splitlines() if line.strip().startswith(f"ase-rm {name}".strip())]
        assert 1 <= len(examples) <= 3, (name, examples)
        text = epilog.replace("\\\n", " ")
        for action in p._actions:
            if action.help == argparse.SUPPRESS or not action.option_strings or action.dest == "help":
                continue
            if action.dest == "version":
                continue
            assert any(flag in text.split() for flag in action.option_strings), (name, action.option_strings)


def test_removed_top_level_switch_names_its_replacement(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--system-malloc", "info"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--system-malloc was removed; " in err and "GLIBC_TUNABLES" in err
