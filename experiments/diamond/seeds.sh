#!/usr/bin/env bash
# The diamond demo (paper Fig. 5) for seeds 0-4 with 1 and 2 threads, one run after another,
# each timed with /usr/bin/time -v; then the per-seed table (docs/diamond.md).
#   bash experiments/diamond/seeds.sh [OUT]            # default runs/diamond_seeds
#   SEEDS="0 1" THREADS="1" bash experiments/diamond/seeds.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/diamond_seeds}"
mkdir -p "$out"
for seed in ${SEEDS:-0 1 2 3 4}; do
  for threads in ${THREADS:-1 2}; do
    run="$out/t${threads}_s${seed}"
    OMP_NUM_THREADS=$threads nice /usr/bin/time -v -o "$run.time" \
      python -m ase_rm.cli.main --threads "$threads" demo --seed "$seed" --out "$run" --no-progress \
      > "$run.log" 2>&1
    echo "threads $threads seed $seed: exit $?"
  done
done
python experiments/diamond/table.py "$out"
