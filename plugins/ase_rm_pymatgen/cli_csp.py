"""``ase-rm csp MODEL --compositions CSV --out DIR``: the crystal structure prediction benchmark.

n attempts per composition with the crystal protocol (appended to
DIR/generated.extxyz; a killed or extended run resumes), every attempt matched
against the ground truth; the table goes to the terminal, DIR/csp.csv and DIR/csp.md.
"""

from __future__ import annotations

import argparse
import sys

from ase_rm import RMError

from .cli import _require
from .csp.symmetric import STARTS


def parse_top(text: str) -> list[int]:
    """'1,3,5' -> [1, 3, 5]."""
    try:
        ks = [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--top takes comma-separated positive integers, not {text!r}") from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"--top takes comma-separated positive integers, not {text!r}")
    return ks


def add_generation_options(p: argparse.ArgumentParser, n: int) -> None:
    """Options shared by the csp and lis commands."""
    p.add_argument("--n", type=int, default=n, help=f"attempts per composition (default {n})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (generation resumes from DIR/generated.extxyz)")
    p.add_argument("--protocol", default="crystal", help="generation protocol (default: crystal, the MP-20 one)")
    p.add_argument("--max-steps", type=int, help="cap every relaxation stage at this many FIRE steps (quick checks)")
    p.add_argument("--batch-atoms", type=int, default=4096, help="atoms per relaxation batch (memory bound)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("csp", help="CSP benchmark: generate n crystals per composition, match the ground truth")
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("--compositions", required=True,
                   help="CSV with columns composition and cif (e.g. shared/data/diffcsp_15_compositions.csv)")
    add_generation_options(p, n=30)
    p.add_argument("--top", type=parse_top, default=[1, 3, 5], help="k of the matched-within-top-k columns (1,3,5)")
    p.add_argument("--starts", choices=STARTS, default="random",
                   help="random: the protocol's start (space group P1); symmetric: atoms on the Wyckoff sites "
                        "of a random space group (PyXtal tables), scaled to the same volume; symmetric-mp20: "
                        "space groups drawn as often as they occur in MP-20; mixed: random or symmetric, "
                        "1/2 each; template: known structure types of --templates with the target's "
                        "elements, the most alike in chemistry first (then random)")
    p.add_argument("--templates", metavar="FILE",
                   help="with --starts template: known crystals to take structure types from (any file "
                        "ase_rm.read_structures reads, e.g. the model's training set "
                        "shared/data/mp20_train_partial.csv.gz)")
    p.add_argument("--no-ground-truth-check", action="store_true",
                   help="skip relaxing each ground truth on E~ (columns gt_minimum: it stays a match, i.e. E~ "
                        "has a basin there; gt_rms; gt_rank: where its E~ per atom ranks among the attempts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _require("pymatgen", "pymatgen")
    from .csp import read_csp_targets, run_csp

    if (args.starts == "template") != (args.templates is not None):
        raise RMError("--starts template and --templates FILE go together")
    targets = read_csp_targets(args.compositions)  # fail on a bad file before loading anything else
    result = run_csp(args.model, targets, args.out, n=args.n, seed=args.seed, top=args.top,
                     protocol=args.protocol, max_steps=args.max_steps, max_atoms_per_batch=args.batch_atoms,
                     device=args.device, progress=not args.no_progress and sys.stderr.isatty(),
                     starts=args.starts, check_ground_truth=not args.no_ground_truth_check,
                     templates=args.templates)
    print(result.table())
    print(f"tables written to {', '.join(str(p) for p in result.files)}")
    converged = sum(r["n_matched_converged"] > 0 for r in result.rows)
    print(f"matched by a converged attempt: {converged}/{len(result.rows)}")
    print(result.summary())
    checked = result.ground_truth_summary()
    if checked is not None:
        print(checked)
    return 0
