#!/usr/bin/env bash
# The recipe study's one GPU run (issue 23): ten variants at once on one GPU
# (one process each, one torch thread each), the same wall time each, then the table.
#   bash experiments/qm7b/gpu_sweep.sh DATA OUT SECONDS
# Needs ase_rm, ase_rm_molecules and their dependencies importable (PYTHONPATH).
set -uo pipefail
DATA=$1 OUT=$2 SECONDS_EACH=$3
VARIANTS=${VARIANTS:-base,static,energy,energy100,batch64,noema,wide,wide_energy,ft_base,ft_energy}
python3 experiments/qm7b/recipe_study.py --data "$DATA" --out "$OUT" --device cuda --threads 1 \
    --time-limit "$SECONDS_EACH" --variants "$VARIANTS" --signal ase_rm_molecules.signal:posebusters_signal
