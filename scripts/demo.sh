#!/usr/bin/env bash
# Set-up command 1: install, then run the one-shot diamond demo (data built in).
#   bash scripts/demo.sh              # full demo into demo_out/
#   bash scripts/demo.sh --quick      # a small smoke run (what CI runs; not a Fig. 5 reproduction)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec ase-rm demo --out "${DEMO_OUT:-demo_out}" "$@"
