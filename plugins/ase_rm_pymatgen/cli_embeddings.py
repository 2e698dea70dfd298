"""``ase-rm embeddings MODEL --out pca.png``: PCA of the learned element embeddings, coloured by group."""

from __future__ import annotations

import argparse

from .cli import _require


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embeddings", help="2-D PCA of a model's element embeddings (plot and table)")
    p.add_argument("model", help="checkpoint path or shipped name")
    p.add_argument("--out", required=True, help="plot file (png, pdf, svg)")
    p.add_argument("--csv", help="also write symbol, Z, group, pc1, pc2 per element")
    p.add_argument("--overwrite", action="store_true", help="replace existing --out / --csv files")
    p.add_argument("--which", choices=("sender", "receiver", "both"), default="sender",
                   help="sender embedding (default), the separate receiver one, or both concatenated")
    p.add_argument("--all-elements", action="store_true",
                   help="every species of the model, not only the elements it was trained on")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _require("matplotlib", "plot")
    from ase_rm.outputs import claim_output

    from .embeddings import embedding_pca, embedding_rows
    from .tables import write_rows

    for path in (args.out, args.csv):
        if path:
            claim_output(path, overwrite=args.overwrite, can_resume=False)
    emb, result = embedding_pca(args.model, args.out, args.which, args.all_elements)
    ratio = result.explained_variance_ratio
    print(f"{len(emb.numbers)} elements, {args.which} embedding of dimension {emb.table.shape[1]}")
    print(f"explained variance ratio: PC1 {ratio[0]:.4f}, PC2 {ratio[1]:.4f} (together {ratio.sum():.4f})")
    print(f"plot written to {args.out}")
    if args.csv:
        write_rows(embedding_rows(emb, result), ["symbol", "Z", "group", "pc1", "pc2"], args.csv)
        print(f"table written to {args.csv}")
    return 0
