#!/usr/bin/env bash
# Issue 23, the GPU run on collapse: fine-tune the shipped qm7b three ways for the same
# wall time on one GPU (batch 64; plain, compressed molecules, compressed + energy loss),
# then generate an out-of-distribution (C7H9Cl) and an in-distribution (C5H9NO) formula
# with each, 32 attempts, plain protocol, on the machine's CPU cores.
#   bash experiments/qm7b/gpu_ood.sh DATA OUT SECONDS GENOUT
set -uo pipefail
DATA=$1 OUT=$2 SECONDS_EACH=$3 GENOUT=$4
V=ft_b64,ft_compress,ft_compress_energy
timeout $((SECONDS_EACH + 60)) python3 experiments/qm7b/recipe_study.py --data "$DATA" --out "$OUT" \
    --device cuda --threads 1 --time-limit "$SECONDS_EACH" --variants $V --signal "" --epoch-fraction 0.25
mkdir -p "$GENOUT"
for v in ${V//,/ }; do
  for c in C7H9Cl C5H9NO; do
    timeout 200 python3 -m ase_rm.cli.main --threads 1 generate "$OUT/$v/best.pt" -c $c --n 32 \
        --protocol molecule --seed 0 --out "$GENOUT/${v}_$c.extxyz" --no-progress &
  done
done
wait
