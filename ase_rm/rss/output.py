"""Crash-safe extxyz output: append frames as they finish, recover after a kill."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms


def append_frames(path: Path, frames: Sequence[Atoms]) -> None:
    """Append frames to an extxyz file in one write, flushed to disk."""
    import ase.io  # here, not at import: ase.io pulls in scipy (about 2 s), which `import ase_rm` need not pay

    buf = io.StringIO()
    ase.io.write(buf, list(frames), format="extxyz")
    data = buf.getvalue().encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite(path: Path, frames: Sequence[Atoms], tmp: Path) -> None:
    """Replace ``path`` by exactly ``frames``, atomically (written to ``tmp`` first)."""
    tmp.unlink(missing_ok=True)
    if frames:
        append_frames(tmp, frames)
    else:
        tmp.write_text("")
    os.replace(tmp, path)


def read_done(path: Path, key: str) -> dict[int, Atoms]:
    """Frames already in ``path`` by their ``info[key]``; a torn last frame
    (a kill during a write) is dropped and the file rewritten without it."""
    if not path.exists():
        return {}
    import ase.io

    good: list[Atoms] = []
    try:
        for atoms in ase.io.iread(path, index=":", format="extxyz"):
            good.append(atoms)
    except Exception:  # a torn frame at the end: keep what parsed
        _rewrite(path, good, path.with_suffix(path.suffix + ".tmp"))
    return {int(a.info[key]): a for a in good if key in a.info}


def part_path(path: Path, rank: int, world: int) -> Path:
    """The file rank ``rank`` of ``world`` appends to while generating into ``path``."""
    return path.with_name(f"{path.stem}.rank{rank}-of-{world}{path.suffix}")


def merge_parts(path: Path, world: int, key: str) -> list[Atoms]:
    """Merge the ranks' part files (and what ``path`` held) into ``path``, sorted
    by ``info[key]``; written atomically, then the part files are removed."""
    frames = read_done(path, key)
    parts = [part_path(path, r, world) for r in range(world)]
    for part in parts:
        frames.update(read_done(part, key))
    merged = [frames[k] for k in sorted(frames)]
    _rewrite(path, merged, path.with_name(path.name + ".merging"))
    for part in parts:
        part.unlink(missing_ok=True)
    return merged


def restarts_path(path: Path) -> Path:
    """Where a best-of-K generation into ``path`` keeps every relaxation
    (``ase-rm generate --best-of K``; select from it with ``ase-rm select --best-of K``)."""
    return path.with_name(f"{path.stem}.restarts{path.suffix}")
