"""Per-seed table of diamond demo runs: family counts, checks, CPU and wall time.

    python experiments/diamond/table.py runs/diamond_seeds
reads each run folder's checks.json and the /usr/bin/time -v log beside it
(``t{threads}_s{seed}`` and ``t{threads}_s{seed}.time``) and prints a Markdown table;
it also says whether the runs of one seed with different thread counts found the
same structures (same classes and E~ per attempt to 1e-6 eV).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

FAMILIES = ("cubic diamond", "hexagonal diamond", "stacking-faulted diamond", "graphite", "other")


def _time(path: Path) -> tuple[float | None, float | None]:
    """(CPU seconds = user + system, wall seconds) from a /usr/bin/time -v log."""
    if not path.exists():
        return None, None
    text = path.read_text()
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    seconds = None
    if wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        seconds = sum(p * 60**k for k, p in enumerate(reversed(parts)))
    return cpu, seconds


def _rows(run: Path) -> list[tuple[str, str]]:
    with open(run / "summary.csv") as fh:
        return [(r["class"], f"{float(r['energy_per_atom']):.6f}") for r in csv.DictReader(fh)]


def main(root: Path) -> None:
    print("| threads | seed | cubic | hexagonal | stacking-faulted | graphite | other | unconverged "
          "| cubic min (Å^3/atom) | all checks | CPU s | wall s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    runs = sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"t\d+_s\d+", p.name))
    for run in runs:
        threads, seed = (int(x) for x in re.findall(r"\d+", run.name))
        if not (run / "checks.json").exists():
            print(f"| {threads} | {seed} | (no result) |")
            continue
        c = json.loads((run / "checks.json").read_text())
        cpu, wall = _time(run.with_suffix(".time"))
        counts = " | ".join(str(c["counts"][f]) for f in FAMILIES)
        print(f"| {threads} | {seed} | {counts} | {c['unconverged']} | {c['cubic_minimum_volume']} "
              f"| {'yes' if c['passed'] else 'no'} | {cpu or 0:.0f} | {wall or 0:.0f} |")
    for seed in sorted({int(re.findall(r"\d+", p.name)[1]) for p in runs}):
        same = [p for p in runs if p.name.endswith(f"_s{seed}") and (p / "summary.csv").exists()]
        if len(same) > 1:
            first = _rows(same[0])
            agree = all(_rows(p) == first for p in same[1:])
            print(f"\nseed {seed}: {', '.join(p.name for p in same)} give "
                  f"{'the same' if agree else 'DIFFERENT'} classes and E~ per attempt")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/diamond_seeds"))
