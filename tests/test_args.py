"""Bad numbers are refused at parse time (one line, exit 2), and a generation
request is checked (elements, volumes, fit) before any relaxation."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ase.io
import pytest

from ase_rm.cli.args import box_lengths, finite_float, non_negative_int, positive_float, positive_int
from ase_rm.cli.main import main
from ase_rm.errors import ConfigError, UnknownElementError
from ase_rm.rss import StartError, attempts_for, expand_compositions, get_protocol
from ase_rm.rss.preflight import check_request

from .test_outputs import quick_protocol


def test_validators() -> None:
    assert positive_int("3") == 3 and non_negative_int("0") == 0 and positive_float("0.5") == 0.5
    assert finite_float("-2") == -2.0 and box_lengths("12") == (12.0,) * 3 and box_lengths("8,6,5") == (8, 6, 5)
    for parse, text in [(positive_int, "0"), (positive_int, "-3"), (positive_int, "2.5"), (non_negative_int, "-1"),
                        (positive_float, "0"), (positive_float, "-1"), (positive_float, "nan"),
                        (positive_float, "inf"), (finite_float, "x"), (box_lengths, "1,2"), (box_lengths, "0")]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


BAD = [
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--n", "0"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--n", "-3"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--seed", "-1"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--batch-atoms", "0"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--best-of", "0"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--workers", "0"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--formula-units", "0"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--volume-per-atom", "-2"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--volume-per-atom", "9:3"],
    ["generate", "m", "-c", "CH4", "--out", "o.extxyz", "--box", "0"],
    ["relax", "m", "in", "out", "--fmax", "-1"],
    ["relax", "m", "in", "out", "--fmax", "0"],
    ["relax", "m", "in", "out", "--steps", "-3"],
    ["relax", "m", "in", "out", "--batch-atoms", "0"],
    ["relax", "m", "in", "out", "--pressure", "nan"],
    ["noise", "in", "out", "--seed", "-1"],
    ["noise", "in", "out", "--epoch", "-1"],
    ["select", "in", "out", "--lowest", "0"],
    ["select", "in", "out", "--best-of", "-2"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[4:] if a[0] == "generate" else a[3:]) for a in BAD])
def test_bad_numbers_are_one_line_at_parse_time(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"ase-rm {argv[0]}: error: argument") and "Traceback" not in "\n".join(err)


def test_attempts_for_refuses_bad_counts() -> None:
    comps = expand_compositions("CH4")
    protocol = get_protocol("molecule")
    for n in (0, -3, 1.5):
        with pytest.raises(ConfigError, match="positive integer"):
            attempts_for(comps, protocol, n)  # type: ignore[arg-type]
    assert len(attempts_for(comps, protocol, 2)) == 2


def test_noise_api_refuses_negative_seed_and_epoch() -> None:
    from ase.build import molecule

    from ase_rm.config import NOISE_PRESETS
    from ase_rm.data import noise_structures

    for kwargs in ({"seed": -1}, {"epoch": -1}):
        with pytest.raises(ConfigError, match="non-negative"):
            noise_structures([molecule("H2O")], NOISE_PRESETS["molecule"], **kwargs)


def test_preflight_names_the_unknown_element_before_the_volume() -> None:
    crystal = get_protocol("crystal").start
    with pytest.raises(UnknownElementError, match=r"not trained on Og \(it knows H, C\)"):
        check_request(expand_compositions("Og2"), crystal, [1, 6], None)
    with pytest.raises(StartError, match="no start volume for H.*--volume-per-atom"):
        check_request(expand_compositions("CH4"), crystal, [1, 6], {6: 5.7})
    check_request(expand_compositions("CH4"), crystal, [1, 6], {6: 5.7, 1: 3.0})


def test_preflight_refuses_what_cannot_fit_at_once() -> None:
    spec = get_protocol("molecule").start
    t0 = time.perf_counter()
    with pytest.raises(StartError, match=r"C1000: 1000 atoms .* do not fit .* --box"):
        check_request(expand_compositions("C1000"), spec, [6], None)
    assert time.perf_counter() - t0 < 1.0
    check_request(expand_compositions("C80"), spec, [6], None)  # fits: random starts place it


def test_generate_checks_the_request_before_relaxing(tiny_checkpoint: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gen.extxyz"
    base = ["generate", str(tiny_checkpoint), "--out", str(out), "--no-progress"]
    assert main([*base, "-c", "Og2", "--protocol", "crystal"]) == 2
    assert "not trained on Og" in capsys.readouterr().err
    t0 = time.perf_counter()
    assert main([*base, "-c", "C1000"]) == 2
    assert "--box" in capsys.readouterr().err and time.perf_counter() - t0 < 10
    assert main([*base, "-c", "CH4", "--box", "20", "--protocol", "crystal"]) == 2
    assert "--box sets a molecule start box" in capsys.readouterr().err
    assert not out.exists()
    quick = ["--protocol", str(quick_protocol(tmp_path))]
    assert main([*base, "-c", "C12", "--box", "12", "--n", "1", *quick]) == 0  # the box is passed on
    assert ase.io.read(out).cell.lengths().tolist() == [12.0, 12.0, 12.0]
    assert "--box" in main_help("generate")


def main_help(command: str) -> str:
    from ase_rm.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command].format_help()


BATCH_BOUND = [["generate", "m", "-c", "CH4", "--out", "o.extxyz"], ["relax", "m", "in", "out"],
               ["evaluate", "energies", "m", "d.extxyz"], ["csp", "m", "--compositions", "c.csv"],
               ["lis", "m", "--known", "k.csv"]]


@pytest.mark.parametrize("argv", BATCH_BOUND, ids=lambda a: " ".join(a[:2]))
def test_the_batch_memory_bound_has_one_name(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Every command that relaxes or evaluates in batches calls its bound --batch-atoms;
    the old --max-atoms fails at once with a one-line error that names it."""
    pytest.importorskip("pymatgen")  # csp and lis are the pymatgen plugin's
    pytest.importorskip("rdkit")  # evaluate energies is the molecules plugin's
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0 and "--batch-atoms" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--max-atoms", "64"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--max-atoms was removed" in err and "--batch-atoms" in err
    assert len(err.strip().splitlines()) == 1
