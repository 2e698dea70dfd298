"""Compare checkpoints by what they generate on *validation* compositions.

Validation loss and generation quality part ways during QM7b training
(docs/results.md, session 6), so snapshots of a run (``snapshot_every``) are
ranked by the PoseBusters all-pass rate of random structure search on
formulas that are in QM7b but not among the ten test compositions of the
experiment (C5O1N1, C4O1N2, C6O1 and the seven out-of-distribution ones):

    C5H8O2, C6H11N, C5H8N2, C7H10 (up to 7 heavy atoms) and C7H12O (8 heavy
    atoms; no QM7b molecule has its size, like the out-of-distribution set).

The chosen checkpoint is then evaluated once on the test compositions with
experiments/qm7b/run.sh.

    python experiments/qm7b/compare_snapshots.py CKPT [CKPT ...] --out DIR [--attempts 20]
        [--gen "torchrun --standalone --nproc_per_node 2 -m ase_rm.cli.main"] [--compile]

Writes DIR/<checkpoint stem>/{gen.extxyz, eval/} and DIR/compare.md (one row
per checkpoint); a checkpoint whose eval/summary.csv exists is not redone.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import subprocess
import sys
from pathlib import Path

import torch

VALIDATION_FORMULAS = ("C5H8O2", "C6H11N", "C5H8N2", "C7H10", "C7H12O")
REPO = Path(__file__).resolve().parents[2]
COMPILED = Path(__file__).resolve().parent / "molecule_compiled.toml"


def run(cmd: list[str]) -> None:
    print("+", shlex.join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def overall(summary: Path) -> dict[str, str]:
    with open(summary) as fh:
        return next(row for row in csv.DictReader(fh) if row["composition"] == "all")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--attempts", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gen", default=f"{sys.executable} -m ase_rm.cli.main", help="command for ase-rm generate")
    ap.add_argument("--compile", action="store_true", help=f"generate with {COMPILED.name} (torch.compile)")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "qm7b.extxyz.gz"))
    args = ap.parse_args()
    out = Path(args.out)
    rows = []
    for ckpt in args.checkpoints:
        folder = out / Path(ckpt).stem
        summary = folder / "eval" / "summary.csv"
        if not summary.exists():
            folder.mkdir(parents=True, exist_ok=True)
            comps = [arg for f in VALIDATION_FORMULAS for arg in ("--composition", f)]
            run([*shlex.split(args.gen), "--threads", "1", "generate", ckpt, *comps, "--n", str(args.attempts),
                 "--protocol", str(COMPILED) if args.compile else "molecule", "--seed", str(args.seed),
                 "--out", str(folder / "gen.extxyz"), "--no-progress", "--resume"])
            run([sys.executable, "-m", "ase_rm.cli.main", "evaluate", "molecules", str(folder / "gen.extxyz"),
                 "--qm7b", args.data, "--reference-limit", "0", "--out", str(folder / "eval")])
        summ = torch.load(ckpt, weights_only=True, map_location="cpu")["training_summary"]
        epoch = summ.get("snapshot_epoch", summ.get("best_epoch"))
        rows.append((Path(ckpt).stem, epoch, summ.get("val_loss"), overall(summary)))
    lines = ["| checkpoint | epoch | val loss | attempts | converged % | sanitisation % | all pass % "
             "| all pass, neutral % |", "|---|---|---|---|---|---|---|---|"]
    for stem, epoch, val, r in rows:
        val_text = "" if val is None else f"{val:.2f}"
        lines.append(f"| {stem} | {epoch} | {val_text} | {r['n_attempts']} | {float(r['converged_pct']):.1f} "
                     f"| {float(r['sanitization']):.1f} | {float(r['all_pass']):.1f} "
                     f"| {float(r['all_pass_neutral']):.1f} |")
    (out / "compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
