"""retain_freed_memory: glibc's thresholds raised in this process, or a clean no-op."""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys

import pytest

from ase_rm.malloc import retain_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A child process, so that the thresholds of the test process stay as they were.
# Each round holds 40 blocks of 1-16 MB (about 200 MB, like one batched step's
# tensors) and frees them all. By default glibc hands the freed top of the heap
# back to the system (its trim threshold follows the largest block, at most
# 64 MB) and the next round faults those pages in again; raised, they stay.
CHILD = """
import resource, sys
from ase_rm.malloc import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "on" else False
import numpy as np
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    held = [np.ones(1 << (17 + k % 5)) for k in range(40)]
    del held
print(int(applied), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def child(mode: str, env: dict[str, str] | None = None) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, env=env)
    applied, faults = out.stdout.split()
    return bool(int(applied)), int(faults)


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are a glibc feature")
def test_retain_freed_memory_saves_page_faults() -> None:
    applied, tuned = child("on")
    assert applied
    _, default = child("off")
    # Measured: about 340,000 faults by default and 18,000 with it (the first round's).
    assert default > 100_000
    assert tuned < default / 10


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are a glibc feature")
def test_user_tunables_are_left_alone() -> None:
    import os

    env = {**os.environ, "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}
    applied, _ = child("on", env)
    assert not applied


def test_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert retain_freed_memory() is False
