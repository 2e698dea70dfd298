"""``ase-rm demo``: the quick mode's message, verdict, exit code and outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from ase.io import read

from ase_rm.cli.main import main


def test_quick_demo_says_what_it_is_and_writes_its_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    rc = main(["--threads", "1", "demo", "--quick", "--out", str(out), "--no-progress",
               "--epochs", "1", "--sizes", "2,4", "--volumes", "4.2:4.6:2", "--attempts", "1"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "quick mode: a small smoke run" in text and "not expected to pass the Fig. 5 checks" in text
    assert "the full run (`ase-rm demo`) checks:" in text and "stacking-faulted diamond" in text
    assert "quick smoke run: ok" in text
    assert "all Fig. 5 checks passed" not in text  # the full run's verdict is not printed in quick mode
    for name in ("structures.png", "energy_vs_volume.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frames = read(out / "structures.extxyz", ":")
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(frames) == len(rows) == 4
    assert {int(r["n_atoms"]) for r in rows} == {2, 4}
    assert all(r["class"] in {"cubic diamond", "hexagonal diamond", "stacking-faulted diamond", "graphite", "other"}
               for r in rows)
    checks = json.loads((out / "checks.json").read_text())
    assert sum(checks["counts"].values()) == checks["converged"]


def test_full_demo_exits_1_when_a_check_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two 2-atom attempts at one volume cannot find graphite or stacking faults: the verdict is NO, rc 1."""
    rc = main(["--threads", "1", "demo", "--out", str(tmp_path), "--no-progress", "--checkpoint", "diamond",
               "--sizes", "2", "--volumes", "4.4:4.4:1", "--attempts", "2"])
    text = capsys.readouterr().out
    assert rc == 1
    assert "all Fig. 5 checks passed: NO" in text and "quick" not in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--sizes", "2,x"], "--sizes must be comma-separated integers"),
     (["--attempts", "0"], "sizes and attempts must be positive"),
     (["--volumes", "4.0"], "--volumes must be LOW:HIGH[:N]"),
     (["--starts", "magic"], "unknown starts 'magic'"),
     (["--attempts", "2,x"], "--attempts must be an integer or comma-separated integers"),
     (["--attempts", "1,2"], "attempts: one number or one per size (5)"),
     (["--label-repulsion-rc", "0"], "label_repulsion_rc must be > 0"),
     (["--energy-weight", "-1"], "energy_weight must be >= 0")],
)
def test_demo_arguments_fail_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                         message: str) -> None:
    rc = main(["demo", "--out", str(tmp_path / "d"), "--checkpoint", "diamond", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()  # refused before any work


def test_demo_options_reach_the_config() -> None:
    """One attempt count per size and the core repulsion go from the command line into DemoConfig."""
    from ase_rm.cli.demo import _config
    from ase_rm.cli.main import build_parser

    args = build_parser().parse_args(["demo", "--attempts", "4,4,8,16,8", "--core-radius", "1.1",
                                      "--core-energy", "2", "--energy-weight", "1000",
                                      "--label-repulsion-rc", "1.2"])
    cfg = _config(args)
    assert cfg.attempts_per_size() == {2: 4, 4: 4, 6: 8, 8: 16, 12: 8}
    assert (cfg.core_radius, cfg.core_energy, cfg.energy_weight) == (1.1, 2.0, 1000.0)
    assert cfg.label_repulsion_rc == 1.2
    assert _config(build_parser().parse_args(["demo"])).energy_weight == 0.0
    assert _config(build_parser().parse_args(["demo", "--attempts", "3"])).attempts == 3
    assert _config(build_parser().parse_args(["demo", "--repulsion", "1.1,5"])).repulsion == (1.1, 5.0)
    assert _config(build_parser().parse_args(["demo", "--repulsion", "off"])).repulsion is None
    assert _config(build_parser().parse_args(["demo"])).repulsion is None  # default: the model alone


@pytest.mark.parametrize("value", ["1.1", "1.1,5,2", "0,5", "1.1,nan", "x,5"])
def test_bad_repulsion_is_one_line_from_argparse(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ase_rm.cli.main import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["demo", f"--repulsion={value}"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert exc.value.code == 2 and last.startswith("ase-rm demo: error: argument --repulsion:")
