"""Outputs are never destroyed silently, and every file lands whole.

Every command that writes goes through :func:`claim_output` (one file) or
:func:`claim_folder` (named files in a folder) *before any work*: the folder
must exist and be writable, and an output that already holds something is
continued (``resume``), replaced (``overwrite``) or refused with one line
that says which flag to add. Nothing is deleted here: a command that writes
at the end replaces the old file atomically (:func:`atomic_path`), so a kill
leaves the old results in place; a command that appends clears the old file
itself, once the claim says it may (:func:`discard`).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .errors import ConfigError, OutputExistsError, OutputLocationError

__all__ = ["OVERWRITE_FLAG", "RESUME_FLAG", "atomic_path", "check_folder", "claim_folder", "claim_output", "discard",
           "has_content", "write_frames", "write_text"]

RESUME_FLAG = "--resume"
OVERWRITE_FLAG = "--overwrite"


def has_content(path: str | os.PathLike[str]) -> bool:
    """True for a non-empty file or a folder with anything in it."""
    p = Path(path)
    if p.is_dir():
        return any(p.iterdir())
    return p.exists() and p.stat().st_size > 0


def check_folder(folder: str | os.PathLike[str], what: str = "output folder") -> Path:
    """``folder`` exists, is a folder and can be written into.

    Raises:
        OutputLocationError: it does not, with what to do instead.
    """
    f = Path(folder) if str(folder) else Path(".")
    if not f.exists():
        raise OutputLocationError(f"{what} {str(f)!r} does not exist; create it first (mkdir -p {f})")
    if not f.is_dir():
        raise OutputLocationError(f"{what} {str(f)!r} is a file, not a folder")
    if not os.access(f, os.W_OK | os.X_OK):
        raise OutputLocationError(f"{what} {str(f)!r} is not writable")
    return f


def _refusal(what: str, can_resume: bool) -> OutputExistsError:
    how = (f"add {RESUME_FLAG} to continue it or {OVERWRITE_FLAG} to replace it" if can_resume
           else f"add {OVERWRITE_FLAG} to replace it, or choose another output")
    return OutputExistsError(f"{what}; {how} (nothing was changed)")


def claim_output(
    path: str | os.PathLike[str],
    resume: bool = False,
    overwrite: bool = False,
    can_resume: bool = True,
    related: Iterable[str | os.PathLike[str]] = (),
) -> bool:
    """Check, before any work, that results may be written to the file ``path``.

    Args:
        path: the output file; its folder must exist and be writable.
        resume: continue what ``path`` holds (the ``--resume`` flag).
        overwrite: replace what ``path`` holds (the ``--overwrite`` flag).
        can_resume: whether the command can continue an output at all
            (the refusal then names ``--resume``).
        related: files the command also writes beside ``path`` (e.g. a
            best-of-K run's ``.restarts`` file), claimed the same way.

    Returns:
        True when ``resume`` is asked for and there is something to continue.

    Raises:
        ConfigError: ``resume`` and ``overwrite`` together, or ``resume`` for a
            command that cannot resume.
        OutputLocationError: the folder is missing or not writable, or
            ``path`` is a folder.
        OutputExistsError: ``path`` (or a related file) holds results and
            neither ``resume`` nor ``overwrite`` was given.
    """
    if resume and overwrite:
        raise ConfigError(f"{RESUME_FLAG} keeps the existing output and {OVERWRITE_FLAG} replaces it: give one")
    if resume and not can_resume:
        raise ConfigError(f"this command cannot resume; use {OVERWRITE_FLAG} to replace its output")
    p = Path(path)
    if p.is_dir():
        raise OutputLocationError(f"output {str(p)!r} is a folder; give a file name")
    check_folder(p.parent)
    filled = [q for q in (p, *(Path(r) for r in related)) if has_content(q)]
    if filled and not (resume or overwrite):
        verb = "exists and is not empty" if len(filled) == 1 else "exist and are not empty"
        raise _refusal(f"{' and '.join(str(q) for q in filled)} {verb}", can_resume)
    return bool(filled) and resume


def claim_folder(
    folder: str | os.PathLike[str],
    names: Iterable[str],
    resume: bool = False,
    overwrite: bool = False,
    can_resume: bool = False,
    make_parents: bool = False,
) -> bool:
    """:func:`claim_output` for a folder output: ``folder`` may exist (what
    else it holds is left alone) or is made in an existing, writable parent
    (with ``make_parents``: in the nearest existing folder above it, which
    must be writable); the files ``names`` in it that the command writes must
    not hold results unless ``resume`` or ``overwrite`` is given.

    Returns:
        True when ``resume`` is asked for and one of the files has content.
    """
    f = Path(folder)
    if f.exists() and not f.is_dir():
        raise OutputLocationError(f"output folder {str(f)!r} is a file")
    if f.exists():
        check_folder(f)
    elif make_parents:
        above = f.absolute().parent
        while not above.exists():
            above = above.parent
        check_folder(above, "folder above the output")
    else:
        check_folder(f.parent, "parent folder")
    if resume and overwrite:
        raise ConfigError(f"{RESUME_FLAG} keeps the existing output and {OVERWRITE_FLAG} replaces it: give one")
    if resume and not can_resume:
        raise ConfigError(f"this command cannot resume; use {OVERWRITE_FLAG} to replace its output")
    filled = [n for n in names if has_content(f / n)]
    if filled and not (resume or overwrite):
        raise _refusal(f"{f} already holds {', '.join(filled)}", can_resume)
    return bool(filled) and resume


def discard(*paths: str | os.PathLike[str]) -> None:
    """Remove output files a claim with ``overwrite`` allowed to replace."""
    for p in paths:
        Path(p).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file beside ``path`` to write; it replaces ``path`` when the
    block ends without error and is removed otherwise: ``path`` is either the
    old file or the whole new one, never half of it."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_frames(path: str | os.PathLike[str], frames: Sequence[object]) -> None:
    """Write Atoms to an extxyz file atomically."""
    import ase.io

    buf = io.StringIO()
    ase.io.write(buf, list(frames), format="extxyz")  # type: ignore[arg-type]
    write_text(path, buf.getvalue())
