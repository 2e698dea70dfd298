#!/usr/bin/env bash
# MP-20 experiment driver (issue 6; docs/method.md sections 4 and 5), for a model trained by
# experiments/mp20/train.toml:
#   (a) crystal structure prediction: the 15 DiffCSP compositions, 30 attempts each, two-stage
#       crystal protocol, StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10) on the reduced
#       formula                                                   -> OUTDIR/csp/
#   (b) Li-S pseudo convex hull (every Li_a S_b cell with a + b <= 8 plus the known cells)
#                                                                 -> OUTDIR/lis/
#   (c) PCA of the learned element embeddings (Fig. 3)           -> OUTDIR/embeddings.png, .csv
# Usage:  bash experiments/mp20/run.sh MODEL OUTDIR
# Environment: DATA (default ../shared/data next to the repository), THREADS (torch threads),
#   LIS_ATTEMPTS (attempts per Li-S cell, default 20), CSP_ATTEMPTS (default 30).
# Interrupted? Run it again: generation resumes from OUTDIR/*/generated.extxyz.
set -euo pipefail
if [ "$#" -ne 2 ]; then sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
MODEL="$1"
OUTDIR="$2"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${DATA:-$REPO/../shared/data}"
ASE_RM=(ase-rm)
if [ -n "${THREADS:-}" ]; then ASE_RM+=(--threads "$THREADS"); fi
mkdir -p "$OUTDIR"
set -x
"${ASE_RM[@]}" embeddings "$MODEL" --out "$OUTDIR/embeddings.png" --csv "$OUTDIR/embeddings.csv"
"${ASE_RM[@]}" csp "$MODEL" --compositions "$DATA/diffcsp_15_compositions.csv" --n "${CSP_ATTEMPTS:-30}" \
    --seed 0 --out "$OUTDIR/csp" --no-progress
"${ASE_RM[@]}" lis "$MODEL" --known "$DATA/li_s_known_structures.csv" --n "${LIS_ATTEMPTS:-20}" \
    --seed 0 --out "$OUTDIR/lis" --no-progress
