"""Run a command and write its CPU and wall time in /usr/bin/time -v's wording (for machines without it).

    python experiments/diamond/timed.py OUT.time -- COMMAND ...
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    path, command = argv[0], argv[argv.index("--") + 1:]
    t0 = time.perf_counter()
    rc = subprocess.call(command)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path, "w") as fh:
        fh.write(f"\tCommand being timed: \"{' '.join(command)}\"\n\tUser time (seconds): {usage.ru_utime:.2f}\n"
                 f"\tSystem time (seconds): {usage.ru_stime:.2f}\n"
                 f"\tElapsed (wall clock) time (h:mm:ss or m:ss): {int(wall // 60)}:{wall % 60:05.2f}\n"
                 f"\tExit status: {rc}\n")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
