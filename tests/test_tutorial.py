"""docs/tutorial.md runs as written: its ``bash`` and ``python`` blocks, in order.

The slow test runs the tutorial's commands unchanged (about 4 minutes of CPU).
The fast test runs the same commands with a tiny schedule (1 epoch, a few
attempts; about 60 s of CPU, most of it starting 12 processes), so a renamed
option, a moved file or a changed output breaks the default suite, not only
the slow one.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import ase.io
import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)

# The fast variant's edits: each must match the tutorial text, so the test notices when it changes.
FAST_EDITS = {
    "python make_data.py\n": "python make_data.py\nsed -i 's/^epochs = .*/epochs = 1/' molecules.toml crystals.toml\n",
    "--n 64": "--n 4",
    "--first 16": "--first 1",
    "--n 16": "--n 2 --max-steps 100",
}


def tutorial_script() -> str:
    """The tutorial's blocks as one bash script; python blocks become heredocs."""
    parts = ["set -euo pipefail", 'ase-rm() { "$PYTHON" -m ase_rm.cli.main "$@"; }', 'python() { "$PYTHON" "$@"; }']
    for lang, body in BLOCK.findall(TUTORIAL.read_text()):
        parts.append(body if lang == "bash" else f"python - <<'PYTHON_BLOCK'\n{body}PYTHON_BLOCK")
    return "\n".join(parts) + "\n"


def fast_script() -> str:
    script = tutorial_script()
    for old, new in FAST_EDITS.items():
        assert old in script, f"docs/tutorial.md no longer contains {old!r}: update FAST_EDITS"
        script = script.replace(old, new)
    return script


def run_tutorial(script: str, home: Path) -> Path:
    """Run ``script`` from the repository root with HOME=home; returns the tutorial folder."""
    path = os.pathsep.join([str(REPO), str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "HOME": str(home), "PYTHON": sys.executable, "PYTHONPATH": path,
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MPLBACKEND": "Agg"}
    done = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"tutorial failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return home / "rm-tutorial"


def check_outputs(work: Path, attempts: int) -> None:
    """What the tutorial says each step writes is there, with the documented keys."""
    for name in ("molecules", "crystals"):
        rows = [json.loads(line) for line in (work / "runs" / name / "metrics.jsonl").read_text().splitlines()]
        assert rows and all("val_force_rmse" in r for r in rows)
        assert (work / "runs" / name / "best.pt").is_file()
    assert "val_stress_rmse" in rows[-1]  # crystals are validated on stress too
    generated = ase.io.read(work / "gen_mol.extxyz", ":")
    assert len(generated) == 2 * attempts
    assert all("rm_energy" in a.info and not a.pbc.any() for a in generated)
    for selection in ("eval_first", "eval_best"):
        with open(work / selection / "summary.csv") as f:
            compositions = {row["composition"] for row in csv.DictReader(f)}
        assert {"C2H6O", "C3H6O"} <= compositions
    for starts in ("csp_random", "csp_template"):
        with open(work / starts / "csp.csv") as f:
            assert {row["composition"] for row in csv.DictReader(f)} == {"Cl4K4", "AlNi"}


def test_tutorial_blocks_are_found() -> None:
    script = tutorial_script()
    for command in ("ase-rm train molecules.toml", "ase-rm generate", "ase-rm evaluate molecules", "ase-rm csp"):
        assert command in script


def test_tutorial_runs_with_a_tiny_schedule(tmp_path: Path) -> None:
    work = run_tutorial(fast_script(), tmp_path)
    check_outputs(work, attempts=4)


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    work = run_tutorial(tutorial_script(), tmp_path)
    check_outputs(work, attempts=64)
