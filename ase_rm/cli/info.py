"""``ase-rm info``: describe a model preset or a checkpoint."""

from __future__ import annotations

import argparse
import json

from ..config import MODEL_PRESETS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print a preset's or a checkpoint's configuration and parameter count",
                       epilog="examples:\n  ase-rm info          # shipped models and presets\n  ase-rm info qm7b\n"
                              "  ase-rm info --preset mp20\n",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", help="checkpoint path or shipped name")
    p.add_argument("--preset", choices=sorted(MODEL_PRESETS), help="describe a model preset instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import model_from_checkpoint, read_checkpoint, shipped_names
    from ..model import Denoiser, count_parameters

    if args.preset:
        cfg = MODEL_PRESETS[args.preset]
        print(f"preset: {args.preset}")
        print(f"parameters: {count_parameters(Denoiser(cfg))}")
        print(f"model_config: {json.dumps(cfg.to_dict())}")
        return 0
    if not args.model:
        print("shipped models:" if shipped_names() else "shipped models: none")
        for name in shipped_names():
            summary = read_checkpoint(name).get("training_summary") or {}
            print(f"  {name}: {summary.get('description', '(no description)')}")
        print("presets: " + ", ".join(sorted(MODEL_PRESETS)))
        return 0
    data = read_checkpoint(args.model)
    print(f"checkpoint: {args.model}")
    if (data.get("training_summary") or {}).get("description"):
        print(f"description: {data['training_summary']['description']}")
    print(f"format_version: {data['format_version']}  package_version: {data.get('package_version')}")
    print(f"parameters: {count_parameters(model_from_checkpoint(data))}")
    for key in ("species", "cutoff", "model_config", "noise_config", "train_config", "training_summary"):
        print(f"{key}: {json.dumps(data.get(key))}")
    return 0
