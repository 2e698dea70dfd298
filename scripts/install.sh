#!/usr/bin/env bash
# Install ase-rm with everything the demo, the plugins and the tests need.
# (A user who wants only the core: pip install torch==2.13.0 && pip install -e .)
# torch is pinned first: on CPU machines 2.13.0 resolves to a local CPU wheel,
# while an unpinned torch would pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
# The constraint keeps every plugin dependency (matgl, posebusters, ...) from replacing torch.
python3 -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python3 -m pip install --quiet --disable-pip-version-check -c scripts/constraints.txt \
    -e ".[demo,test,pymatgen,symmetry,phonopy,molecules,matgl,torchsim,chgnet]"
