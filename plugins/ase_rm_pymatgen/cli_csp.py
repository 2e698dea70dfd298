"""``ase-rm csp MODEL --compositions CSV --out DIR``: the crystal structure prediction benchmark.

n attempts per composition with the crystal protocol (appended to
DIR/generated.extxyz; a killed or extended run resumes), every attempt matched
against the ground truth; the table goes to the terminal, DIR/csp.csv and DIR/csp.md.
"""

from __future__ import annotations

import argparse
import sys

from ase_rm.cli.args import non_negative_int, positive_int, removed

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


def add_generation_options(p: argparse.ArgumentParser, n: int,
                           old_max_atoms: str = "the batch memory bound is --batch-atoms, as in every command") -> None:
    """Options shared by the csp and lis commands (``old_max_atoms``: the error for the removed --max-atoms)."""
    p.add_argument("--n", type=positive_int, default=n, help=f"attempts per composition (default {n})")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--out", required=True, help="output folder (generation resumes from DIR/generated.extxyz)")
    p.add_argument("--protocol", default="crystal", help="generation protocol (default: crystal, the MP-20 one)")
    p.add_argument("--max-steps", type=non_negative_int,
                   help="cap every relaxation stage at this many FIRE steps (quick checks)")
    p.add_argument("--batch-atoms", type=positive_int, default=4096, help="atoms per relaxation batch (memory bound)")
    removed(p, "--max-atoms", old_max_atoms)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true",
                   help="start DIR/generated.extxyz afresh (by default a run continues what it holds)")


def claim_campaign(out: str, overwrite: bool) -> None:
    """Before any work: DIR (or the folder above it) is writable; a generation in it is
    continued, or with ``overwrite`` removed with its manifest."""
    from pathlib import Path

    from ase_rm.outputs import claim_folder, discard

    claim_folder(out, ["generated.extxyz"], resume=not overwrite, overwrite=overwrite, can_resume=True,
                 make_parents=True)
    if overwrite:
        discard(Path(out) / "generated.extxyz", Path(out) / "generated.json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("csp", help="crystal structure prediction: ranked candidates per composition, and the "
                                   "CSP benchmarks (15 published compositions; match rate at 1 and k)")
    p.add_argument("model", help="checkpoint path or shipped name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--compositions",
                        help="CSV with a column composition (material_id optional): ranked candidates of each; "
                             "with a cif column too, the 15-composition table (e.g. "
                             "shared/data/diffcsp_15_compositions.csv)")
    source.add_argument("--ground-truths", metavar="FILE",
                        help="the standard benchmark: any CSV with a cif column (material_id, composition "
                             "optional; e.g. shared/data/mp20_test.csv.gz) or structure file; match rate at 1 "
                             "and at --n, RMSE; resumable")
    add_generation_options(p, n=30)
    p.add_argument("--recipe", default="paper",
                   help="shipped recipe (paper, templates, recommended, symmetric, symmetric-mp20, mixed) or a "
                        "TOML file: starts, stages, ranking, physical refinement (default: paper)")
    p.add_argument("--subset", type=positive_int, help="with --ground-truths: this many rows, drawn by "
                   "numpy.random.default_rng(--subset-seed).choice(rows, N, replace=False), in file order")
    p.add_argument("--subset-seed", type=non_negative_int, default=0)
    p.add_argument("--top", type=parse_top, default=[1, 3, 5], help="k of the matched-within-top-k columns (1,3,5)")
    p.add_argument("--starts", choices=STARTS,
                   help="override the recipe's starts (random, symmetric, symmetric-mp20, mixed, template)")
    p.add_argument("--templates", metavar="FILE",
                   help="template starts: known crystals to take structure types from (any file "
                        "ase_rm.read_structures reads), replacing the recipe's (the shipped prototype library)")
    p.add_argument("--exclude-same-formula", action="store_true",
                   help="template starts: leave out templates of the target's reduced formula")
    p.add_argument("--mlip", metavar="NAME",
                   help="rank by a physical MLIP after relaxing the top candidates with it: chgnet, emt or "
                        "module:factory (overrides the recipe's ranking)")
    p.add_argument("--pictures", type=non_negative_int, default=3,
                   help="top candidates per composition drawn in DIR/top.png (0: none; default 3)")
    p.add_argument("--no-ground-truth-check", action="store_true",
                   help="skip relaxing each ground truth on E~ (columns gt_minimum: it stays a match, i.e. E~ "
                        "has a basin there; gt_rms; gt_rank: where its E~ per atom ranks among the attempts)")
    p.set_defaults(func=run)


def _recipe(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .csp.recipes import load_recipe

    recipe = load_recipe(args.recipe)
    changes: dict[str, object] = {}
    if args.starts is not None and args.starts != recipe.starts:
        changes["starts"] = args.starts
        changes["templates"] = "builtin" if args.starts == "template" else None
    if args.exclude_same_formula:
        changes["exclude_same_formula"] = True
    if args.mlip is not None:
        changes.update(rank_by="physical", calculator=args.mlip)
    return recipe.replace(**changes) if changes else recipe


def run(args: argparse.Namespace) -> int:
    _require("pymatgen", "pymatgen")
    recipe = _recipe(args)
    claim_campaign(args.out, args.overwrite)  # before any work: a writable DIR, continued or replaced
    progress = not args.no_progress and sys.stderr.isatty()
    common = dict(seed=args.seed, device=args.device, progress=progress, templates=args.templates,
                  max_steps=args.max_steps, max_atoms_per_batch=args.batch_atoms)
    if args.ground_truths is not None:
        return _benchmark(args, recipe, common)
    from .reference import read_table

    rows = read_table(args.compositions, ("composition",))
    if "cif" not in rows[0]:
        from .csp.predict import predict

        jobs = [((r.get("material_id") or "").strip() or str(k), r["composition"].strip())
                for k, r in enumerate(rows, start=1)]
        ranked = predict(args.model, jobs, args.out, args.n, recipe, pictures=args.pictures, **common)
        for csp_id, cands in ranked.items():
            best = cands[0].info if cands else {}
            print(f"{csp_id}: {len(cands)} distinct candidates; rank 1 {best.get('csp_energy_per_atom', '-')} "
                  f"eV/atom ({best.get('csp_ranked_by', '-')})")
        print(f"ranked candidates written to {args.out}/candidates.extxyz, {args.out}/ranking.csv")
        return 0
    return _table(args, recipe, common)


def _table(args: argparse.Namespace, recipe, common: dict) -> int:  # type: ignore[no-untyped-def, type-arg]
    """The 15-composition table (composition and cif columns), then the ranked candidates."""
    from .csp import read_csp_targets, run_csp
    from .csp.predict import predict, template_starts

    targets = read_csp_targets(args.compositions)  # fail on a bad file before loading anything else
    starts = template_starts(recipe, args.templates)
    result = run_csp(args.model, targets, args.out, n=args.n, seed=args.seed, top=args.top,
                     protocol=recipe.protocol, max_steps=args.max_steps, max_atoms_per_batch=args.batch_atoms,
                     device=args.device, progress=common["progress"], starts=recipe.starts,
                     check_ground_truth=not args.no_ground_truth_check, templates=starts)
    print(result.table())
    print(f"tables written to {', '.join(str(p) for p in result.files)}")
    converged = sum(r["n_matched_converged"] > 0 for r in result.rows)
    print(f"matched by a converged attempt: {converged}/{len(result.rows)}")
    print(result.summary())
    checked = result.ground_truth_summary()
    if checked is not None:
        print(checked)
    jobs = [(t.material_id or str(k), t.composition) for k, t in enumerate(targets, start=1)]
    predict(args.model, jobs, args.out, args.n, recipe, pictures=args.pictures, **common)
    print(f"ranked candidates written to {args.out}/candidates.extxyz, {args.out}/ranking.csv")
    return 0


def _benchmark(args: argparse.Namespace, recipe, common: dict) -> int:  # type: ignore[no-untyped-def, type-arg]
    """The standard benchmark over --ground-truths (optionally a seeded subset)."""
    from .csp.groundtruth import read_ground_truths
    from .csp.standard import run_benchmark
    from .tables import format_text

    truths = read_ground_truths(args.ground_truths, args.subset, args.subset_seed)
    _, summary = run_benchmark(args.model, truths, args.out, args.n, recipe, **common)
    print(format_text([summary], list(summary)))
    print(f"per ground truth: {args.out}/benchmark.csv; per composition: {args.out}/results/")
    return 0
