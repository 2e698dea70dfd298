"""The QM7b recipe study (issue 23): variants trained side by side, each scored by the generation signal.

Every variant is the ``qm7b`` preset with a few overrides, trained for the same
wall time (``--time-limit``) with the ``molecules`` generation signal (PoseBusters
all-pass of molecules generated on validation compositions, never the ten
Fig. 2 test compositions) every ``--signal-every`` epochs; the runs go in
parallel (one process each, ``--threads`` torch threads each). Then one table:
per variant, the best and last signal, the validation loss and force RMSE at
those epochs, the epochs and frames seen, the seconds of training.

    python experiments/qm7b/recipe_study.py --data ../shared/data/qm7b.extxyz.gz --out out/recipes \\
        --device cpu --threads 1 --time-limit 3600 --variants base,energy

    python experiments/qm7b/recipe_study.py --table out/recipes      # the table of finished runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from paper_table import COMPOSITIONS as FIG2  # the ten Fig. 2 compositions (heavy atoms)

VARIANTS: dict[str, dict[str, Any]] = {
    # the published recipe on fresh noise (what the shipped model was trained with)
    "base": {},
    "static": {"train": {"static_noise": True}},
    "energy": {"train": {"energy_weight": 1000.0}},
    "energy100": {"train": {"energy_weight": 100.0}},
    "batch64": {"train": {"batch_size": 64, "lr": 2e-2}},
    "noema": {"train": {"ema_decay": 0.0}},
    "wide": {"model": {"n_embedding": 4, "hidden": [48, 24]}},
    "wide_energy": {"model": {"n_embedding": 4, "hidden": [48, 24]}, "train": {"energy_weight": 1000.0}},
    "rep09": {"noise": {"repulsion_rc": 0.9}},
    "lr3": {"train": {"lr": 3e-3}},
    # fine-tuning the shipped qm7b model
    "ft_base": {"init": "qm7b-paper", "train": {"warmup_epochs": 1}},
    "ft_energy": {"init": "qm7b-paper", "train": {"energy_weight": 1000.0, "warmup_epochs": 1}},
    # fine-tuning with compressed molecules (NoiseConfig.strain_scales for molecules): half the frames
    # scaled by 0.5-0.8 about the centroid, the label restoring the whole displacement
    "ft_b64": {"init": "qm7b-paper", "train": {"batch_size": 64, "warmup_epochs": 1}},
    "ft_compress": {"init": "qm7b-paper", "noise": {"strain_scales": [-0.5, -0.35, -0.2, 0.0, 0.0, 0.0]},
                    "train": {"batch_size": 64, "warmup_epochs": 1}},
    "ft_compress_energy": {"init": "qm7b-paper", "noise": {"strain_scales": [-0.5, -0.35, -0.2, 0.0, 0.0, 0.0]},
                           "train": {"batch_size": 64, "warmup_epochs": 1, "energy_weight": 1000.0}},
    # milder: a third of the frames scaled by 0.85-0.95 (ft_compress broke bond lengths and angles)
    "ft_compress_mild": {"init": "qm7b-paper",
                         "noise": {"strain_scales": [-0.15, -0.1, -0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]},
                         "train": {"batch_size": 64, "warmup_epochs": 1}},
}


def run_file(name: str, data: str, out: Path, args: argparse.Namespace) -> Path:
    """Write the variant's run file (TOML) into its run folder and return its path."""
    spec = VARIANTS[name]
    train = {"epochs": 400, "epoch_fraction": args.epoch_fraction, "warmup_epochs": 2, "plateau_patience": 4,
             "snapshot_every": args.signal_every, **spec.get("train", {})}
    if args.signal:  # "" trains without the signal (best.pt by validation loss)
        train.update(signal=args.signal, signal_every=args.signal_every, signal_exclude=list(FIG2))
    lines = [f"data = {json.dumps(os.path.abspath(data))}", 'out = "."', 'preset = "qm7b"',
             f"name = {json.dumps('qm7b-' + name)}", f"device = {json.dumps(args.device)}"]
    if "init" in spec:
        lines.append(f"init = {json.dumps(spec['init'])}")
    for table in ("model", "noise"):
        if spec.get(table):
            lines.append(f"[{table}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in spec[table].items()]
    lines.append("[train]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in train.items()]
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def launch(args: argparse.Namespace) -> None:
    out = Path(args.out)
    procs = []
    for name in args.variants.split(","):
        path = run_file(name, args.data, out, args)
        resume = ["--resume"] if (path.parent / "state.pt").exists() else []
        cmd = [sys.executable, "-m", "ase_rm.cli.main", "--threads", str(args.threads), "train", str(path),
               "--no-progress", "--time-limit", str(args.time_limit), *resume]
        log = open(path.parent / "train.log", "a")  # noqa: SIM115 - closed when the run ends
        procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
    for name, proc, log in procs:
        proc.wait()
        log.close()
        print(f"{name}: exit {proc.returncode}", flush=True)


def rows(out: Path) -> list[dict[str, Any]]:
    table = []
    for folder in sorted(p for p in out.iterdir() if (p / "metrics.jsonl").exists()):
        hist = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
        scored = [h for h in hist if "gen_score" in h]
        if not scored:
            continue
        best = max(scored, key=lambda h: h["gen_score"])
        low = min(hist, key=lambda h: h["val_loss"])
        table.append({
            "variant": folder.name, "epochs": len(hist),
            "seconds": round(sum(h["epoch_seconds"] for h in hist)),
            "best_signal": best["gen_score"], "best_signal_epoch": best["epoch"],
            "last_signal": scored[-1]["gen_score"], "converged_at_best": best.get("gen_converged"),
            "val_force_rmse_at_best": best["val_force_rmse"],
            "lowest_val_loss_epoch": low["epoch"], "signal_at_lowest_loss": low.get("gen_score"),
            "spearman_loss_signal": spearman([-h["val_loss"] for h in scored], [h["gen_score"] for h in scored]),
        })
    return table


def spearman(a: list[float], b: list[float]) -> float:
    """Rank correlation of two lists (NaN for fewer than 3 points)."""
    import numpy as np

    if len(a) < 3:
        return float("nan")
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def markdown(table: list[dict[str, Any]]) -> str:
    if not table:
        return "(no scored runs)"
    cols = list(table[0])
    fmt = [" | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols) for r in table]
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols), *[f"| {f} |" for f in fmt]])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="QM7b extxyz(.gz)")
    p.add_argument("--out", required=True)
    p.add_argument("--variants", default="base,energy", help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=3600.0)
    p.add_argument("--epoch-fraction", type=float, default=0.25)
    p.add_argument("--signal-every", type=int, default=2)
    p.add_argument("--signal", default="molecules", help="generation signal scorer (name or module:function)")
    p.add_argument("--table", action="store_true", help="only print the table of the runs in --out")
    args = p.parse_args(argv)
    if not args.table:
        if not args.data:
            p.error("--data is needed to train")
        launch(args)
    print(markdown(rows(Path(args.out))))


if __name__ == "__main__":
    main()
