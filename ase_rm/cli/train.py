"""``ase-rm train CONFIG``: train an RM model from a TOML/YAML run file."""

from __future__ import annotations

import argparse
import os
import shlex


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (config: TOML/YAML with data, preset, out and overrides)",
        description="Train an RM model. Example config (TOML):\n  data = 'structures.extxyz'\n"
        "  preset = 'qm7b'\n  out = 'runs/qm7b'\n  [train]\n  epochs = 100\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  ase-rm train run.toml --overwrite --time-limit 3600\n"
               "  ase-rm train run.toml --resume --device cuda --no-progress\n"
               "  ase-rm train tuned.toml --init qm7b   # fine-tune the shipped QM7b model\n",
    )
    p.add_argument("config", help="run file (.toml or .yaml)")
    p.add_argument("--resume", action="store_true", help="continue the run in its out folder")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an out folder that holds an earlier run (its files are replaced)")
    p.add_argument("--device", help="torch device (overrides the config)")
    p.add_argument("--init", metavar="MODEL",
                   help="start from this checkpoint's weights (path or shipped name): fine-tune it "
                   "(overrides the config's init)")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop after the epoch during which SECONDS have passed (resume later with --resume)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


RUN_FILES = ("state.pt", "best.pt", "metrics.jsonl", "config.json")
"""What a run writes in its out folder (ase_rm.training.loop)."""


def claim_run_folder(out: str | os.PathLike[str], resume: bool, overwrite: bool) -> None:
    """An out folder with an earlier run in it is continued (``--resume``), started
    afresh (``--overwrite``: the new run replaces each file as it writes it, so a
    run that fails at its start leaves the earlier one whole) or refused; the
    folder, or the nearest one above it, must be writable."""
    from ..outputs import claim_folder

    claim_folder(out, RUN_FILES, resume=resume, overwrite=overwrite, can_resume=True, make_parents=True)


def run(args: argparse.Namespace) -> int:
    from ..training.run import load_run_config, train_from_config

    cfg = load_run_config(args.config)
    if os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 judges (torchrun stops the others if it refuses)
        claim_run_folder(cfg.out, args.resume, args.overwrite)
    if args.device:
        cfg = cfg.replace(device=args.device)
    if args.init:
        cfg = cfg.replace(init=args.init)
    command = "ase-rm " + " ".join(shlex.quote(a) for a in args.argv)
    result = train_from_config(
        cfg, resume=args.resume, progress=False if args.no_progress else None,
        extra_summary={"command": command}, time_limit=args.time_limit,
    )
    if os.environ.get("RANK", "0") != "0":  # torchrun: only rank 0 reports
        return 0
    last = result.history[-1] if result.history else {}
    print(f"trained {len(result.history)} epochs in {cfg.out}")
    if last:
        figures = ", ".join(f"{k}={last[k]:.4g}" for k in sorted(last) if k.startswith(("val_", "gen_")))
        print(f"last epoch: {figures}")
    print(f"best checkpoint: {result.best_checkpoint}")
    return 0
