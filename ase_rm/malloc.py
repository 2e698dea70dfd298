"""Keep freed memory in the process instead of handing it back to the system.

A batched relaxation allocates and frees tensors of a few MB at every FIRE step.
glibc serves blocks above its mmap threshold (128 KB, adaptive up to 32 MB) with
fresh ``mmap`` calls and unmaps them on free, so every step faults its pages in
again. Measured on ``ase-rm generate --workers 2`` with torch.compile (512
C5H9NO attempts, docs/performance.md): 18 million minor page faults and 50 s of system
time, against 0.7 million and 4 s with the thresholds raised, and 1.13-1.37x
less wall time.

:func:`retain_freed_memory` raises both thresholds with ``mallopt``. The CLI
calls it (the CLI is the one place that sets process-wide state); a Python user
may call it once at the start of a long generation. Peak memory is that of the
largest step, which a batch already holds anyway. To keep glibc's own behaviour,
set any ``glibc.malloc`` tunable in ``GLIBC_TUNABLES``: this is then a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""glibc's largest accepted mmap threshold on 64-bit systems (``4 * 1024 * 1024 * sizeof(long)``)."""
TRIM_THRESHOLD = 1 << 30


def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when applied.

    A no-op (False) off glibc (macOS, Windows, musl), or when the user already
    tunes malloc through ``GLIBC_TUNABLES``. Child processes do not inherit it:
    each process calls it itself.
    """
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
