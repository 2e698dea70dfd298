#!/usr/bin/env bash
# Install ase-rm with everything the demo, the plugins and the tests need.
# torch is pinned first: on CPU machines 2.13.0 resolves to a local CPU wheel,
# while an unpinned torch would pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python3 -m pip install --quiet --disable-pip-version-check -e ".[demo,test]"
