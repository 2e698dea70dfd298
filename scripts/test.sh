#!/usr/bin/env bash
# Set-up command 2: install, lint, type-check and run the default test suite.
# Slow experiment reproductions and benchmarks are opt-in: pass -m slow or -m benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
ruff check ase_rm plugins tests benchmarks
mypy
# Two pytest workers on two cores: one BLAS/OpenMP thread each, no oversubscription.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
python3 -m pytest -n 2 "$@"
