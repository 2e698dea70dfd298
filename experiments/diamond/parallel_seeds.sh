#!/usr/bin/env bash
# The 10 runs of seeds.sh at once on a machine with >= 15 idle cores: each run pinned to its
# own cores (taskset), 1-thread runs on one core, 2-thread runs on two, so each sees a quiet
# 1- or 2-core machine. Same outputs and table as seeds.sh.
#   bash experiments/diamond/parallel_seeds.sh [OUT] [TIMEOUT_S]
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/diamond_seeds}"
limit="${2:-3000}"
py="${PYTHON:-python3}"
mkdir -p "$out"
core=0
for threads in 1 2; do
  for seed in 0 1 2 3 4; do
    cores=$core; [ "$threads" = 2 ] && cores="$core,$((core + 1))"
    core=$((core + threads))
    run="$out/t${threads}_s${seed}"
    pin=(); command -v taskset > /dev/null && pin=(taskset -c "$cores")
    OMP_NUM_THREADS=$threads timeout "$limit" "${pin[@]}" "$py" experiments/diamond/timed.py "$run.time" -- \
      "$py" -m ase_rm.cli.main --threads "$threads" demo --seed "$seed" --out "$run" --no-progress > "$run.log" 2>&1 &
  done
done
wait
"$py" experiments/diamond/table.py "$out"
