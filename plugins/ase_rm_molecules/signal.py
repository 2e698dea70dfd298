"""The ``molecules`` generation signal: PoseBusters all-pass of molecules generated during training.

Registered in the ``ase_rm.signals`` entry-point group (see
:mod:`ase_rm.training.signal`): ``[train] signal = "molecules"`` in a run file.
It scores exactly as ``ase-rm evaluate molecules`` does (every attempt
counts, a non-converged attempt fails every check).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ase import Atoms

from .evaluate import evaluate_frames, summary_row


def posebusters_signal(frames: Sequence[Atoms], references: Mapping[str, Sequence[Atoms]]) -> dict[str, float]:
    """``score`` = all-pass fraction over every attempt (0-1), plus the converged,
    neutral all-pass and sanitisation fractions and the worst composition's all-pass."""
    del references  # the checks need no reference molecules
    records = evaluate_frames(frames)
    row = summary_row(records)
    groups: dict[str, list] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    worst = min(summary_row(rs)["all_pass"] for rs in groups.values())
    return {
        "score": row["all_pass"] / 100.0,
        "all_pass": row["all_pass"] / 100.0,
        "all_pass_neutral": row["all_pass_neutral"] / 100.0,
        "sanitisation": row["sanitization"] / 100.0,
        "converged": row["converged_pct"] / 100.0,
        "worst_all_pass": worst / 100.0,
    }
