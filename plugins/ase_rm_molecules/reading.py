"""Reading molecule files quickly, gzip included.

``ase.io.read(..., index=":")`` on an extxyz file first indexes the frames by
seeking; on a gzip stream every seek decompresses from the start, so reading
all of QM7b (7,211 frames) through a gzip file object takes minutes. Here a
gzipped (ext)xyz file is decompressed into memory first (about 2 s for QM7b);
every other file goes through :func:`ase_rm.read_structures`.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

from ase import Atoms

from ase_rm import RMError, read_structures


def read_frames(path: str | os.PathLike[str]) -> list[Atoms]:
    """Every frame of a structure file (extxyz, xyz, gzip-compressed or not, or any ASE format).

    Raises:
        RMError: the file is missing, unreadable, or holds no structures.
    """
    p = Path(path)
    name = p.name.lower()
    if not name.endswith((".xyz.gz", ".extxyz.gz")):
        return read_structures(p)
    if not p.is_file():
        raise RMError(f"no such file: {p}")
    import ase.io

    try:
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            text = fh.read()
        out = ase.io.read(io.StringIO(text), index=":", format="extxyz")
    except Exception as exc:  # gzip, unicode and ase.io raise many kinds of errors
        raise RMError(f"could not read structures from {p}: {type(exc).__name__}: {exc}") from exc
    frames = out if isinstance(out, list) else [out]
    if not frames:
        raise RMError(f"{p} holds no structures")
    return frames
