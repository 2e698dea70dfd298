#!/usr/bin/env bash
# A pool of plain attempts per formula on QM7b's ten test compositions (issue 5), for best of K:
#   ATTEMPTS=512 SEED=1 OUT=out/eval/pool512s1 bash experiments/qm7b/pool.sh
# MODEL picks the checkpoint (default: the shipped qm7b; e.g. MODEL=qm7b-paper).
# 512 attempts take about 9 min in distribution and 60-70 min out of it on 2 cores. Resumable: rerun
# it, and --resume keeps the finished attempts. Then, as for best of 16 (docs/results.md, session 11):
#   ase-rm select $OUT/gen_$PART.extxyz SEL/gen_$PART.extxyz --best-of 16 --rank-by valence
# Two pools of different seeds make best of 2K: experiments/qm7b/better_of.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
ATTEMPTS=${ATTEMPTS:-512}
SEED=${SEED:-0}
MODEL=${MODEL:-qm7b}
OUT=${OUT:-out/eval/pool${ATTEMPTS}s${SEED}}
mkdir -p "$OUT"
run() {  # PART, then the compositions
  local part=$1; shift
  ase-rm generate "$MODEL" "$@" --enumerate-h --attempts "$ATTEMPTS" --protocol experiments/qm7b/molecule_compiled.toml \
    --seed "$SEED" --out "$OUT/gen_$part.extxyz" --no-progress --workers 2 --resume >> "$OUT/gen_$part.log" 2>&1
}
date
run in -c C5O1N1 -c C4O1N2 -c C6O1
date
run ood -c C5O2Cl1 -c C6O1N1 -c C6O1S1 -c C7Cl1 -c C7O1Cl1 -c C7O1N1 -c C6O1N1Cl1
date
