#!/usr/bin/env bash
# QM7b experiment driver (issue 5; docs/method.md sections 4 and 5), for a model trained by
# experiments/qm7b/train.toml:
#   (a) Fig. 1: E~ vs the PBE0 atomization energy on the molecules the model did not train on
#       -> OUTDIR/energies/  (ase-rm evaluate energies --heldout)
#   (b) random structure search, molecule protocol, seed 0, 32 attempts per formula, hydrogens
#       enumerated from the heavy atoms (ase-rm generate --enumerate-h):
#       in-distribution C5O1N1 C4O1N2 C6O1                          -> OUTDIR/gen_in.extxyz
#       out-of-distribution C5O2Cl1 C6O1N1 C6O1S1 C7Cl1 C7O1Cl1 C7O1N1 C6O1N1Cl1 -> OUTDIR/gen_ood.extxyz
#   (c) PoseBusters checks with the QM7b reference row -> OUTDIR/eval_in/, OUTDIR/eval_ood/
#
# Usage:  bash experiments/qm7b/run.sh [--quick] [--resume] MODEL OUTDIR
#   --quick   2 attempts per formula, one formula per file (C5O1N1, C5O2Cl1), a 4-molecule
#             reference row: checks that the pipeline runs, not a result
#   --resume  keep the generated structures already in OUTDIR (after an interruption)
# Environment:
#   DATA             QM7b file (default: ../shared/data/qm7b.extxyz.gz next to the repository);
#                    for --heldout it must be the file the model was trained on
#   REFERENCE_LIMIT  QM7b molecules in the PoseBusters reference row (default 200; --quick: 4)
#   THREADS          torch threads for every ase-rm call (default: torch's choice)
#   ASE_RM           the ase-rm command (default: ase-rm; e.g. "python3 -m ase_rm.cli.main")
#   PARTS            which steps to run (default "energies in ood"; e.g. PARTS=ood to run the
#                    out-of-distribution part in another process)
#   ATTEMPTS         attempts per formula (default 32; --quick: 2)
#   GEN_ASE_RM       the command for the generation step only (default: ASE_RM), e.g.
#                    "torchrun --standalone --nproc_per_node 2 -m ase_rm.cli.main" (one rank per core)
#   GEN_FLAGS        extra ase-rm generate options, e.g. "--workers 2"
#   PROTOCOL         generation protocol, a preset or a file (default molecule; e.g.
#                    experiments/qm7b/hop.toml, or experiments/qm7b/molecule_compiled.toml: torch.compile)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

QUICK=0
RESUME=()
POSITIONAL=()
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        --resume) RESUME=(--resume) ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "run.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
        *) POSITIONAL+=("$arg") ;;
    esac
done
if [ "${#POSITIONAL[@]}" -ne 2 ]; then
    usage >&2
    exit 2
fi
MODEL="${POSITIONAL[0]}"
OUTDIR="${POSITIONAL[1]}"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${DATA:-$REPO/../shared/data/qm7b.extxyz.gz}"
if [ ! -f "$DATA" ]; then
    echo "run.sh: no QM7b file at $DATA (set DATA=/path/to/qm7b.extxyz.gz)" >&2
    exit 2
fi

IN_FORMULAS=(C5O1N1 C4O1N2 C6O1)
OOD_FORMULAS=(C5O2Cl1 C6O1N1 C6O1S1 C7Cl1 C7O1Cl1 C7O1N1 C6O1N1Cl1)
DEFAULT_ATTEMPTS=32
DEFAULT_REFERENCE_LIMIT=200
if [ "$QUICK" -eq 1 ]; then
    IN_FORMULAS=(C5O1N1)
    OOD_FORMULAS=(C5O2Cl1)
    DEFAULT_ATTEMPTS=2
    DEFAULT_REFERENCE_LIMIT=4
fi
REFERENCE_LIMIT="${REFERENCE_LIMIT:-$DEFAULT_REFERENCE_LIMIT}"
ATTEMPTS="${ATTEMPTS:-$DEFAULT_ATTEMPTS}"
PARTS="${PARTS:-energies in ood}"
read -r -a ASE_RM <<< "${ASE_RM:-ase-rm}"
read -r -a GEN_ASE_RM <<< "${GEN_ASE_RM:-${ASE_RM[*]}}"
read -r -a GEN_FLAGS <<< "${GEN_FLAGS:-}"
if [ -n "${THREADS:-}" ]; then
    ASE_RM+=(--threads "$THREADS")
    GEN_ASE_RM+=(--threads "$THREADS")
fi

run() {
    echo "+ $*" >&2
    "$@"
}

composition_args() {
    local formula
    for formula in "$@"; do
        printf -- '--composition\n%s\n' "$formula"
    done
}

mkdir -p "$OUTDIR"

# (a) Fig. 1 on the held-out molecules
if [[ " $PARTS " == *" energies "* ]]; then
    run "${ASE_RM[@]}" evaluate energies "$MODEL" "$DATA" --heldout --out "$OUTDIR/energies"
fi

# (b) generation, (c) evaluation: in-distribution, then out-of-distribution
for part in in ood; do
    if [[ " $PARTS " != *" $part "* ]]; then continue; fi
    if [ "$part" = in ]; then formulas=("${IN_FORMULAS[@]}"); else formulas=("${OOD_FORMULAS[@]}"); fi
    mapfile -t compositions < <(composition_args "${formulas[@]}")
    run "${GEN_ASE_RM[@]}" generate "$MODEL" "${compositions[@]}" --enumerate-h --attempts "$ATTEMPTS" \
        --protocol "${PROTOCOL:-molecule}" --seed 0 --out "$OUTDIR/gen_$part.extxyz" --no-progress "${RESUME[@]}" \
        "${GEN_FLAGS[@]}"
    run "${ASE_RM[@]}" evaluate molecules "$OUTDIR/gen_$part.extxyz" --qm7b "$DATA" \
        --reference-limit "$REFERENCE_LIMIT" --out "$OUTDIR/eval_$part"
done

echo "done: $OUTDIR/energies/correlation.md, $OUTDIR/eval_in/summary.md, $OUTDIR/eval_ood/summary.md"
