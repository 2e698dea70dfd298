"""Random structure search: random starts relaxed on E~ through a protocol's stages.

Attempt k (over all compositions) draws its start from the Generator seeded
with (seed, k) and its kicks from (seed, k, stage): an attempt's result does
not depend on what else runs in the batch, so the same seed gives the same
structures, and a resumed run redoes only what was not written yet.

One engine: batched FIRE pools in torch. The serial path through
RMCalculator with an ASE optimizer and FrechetCellFilter is the reference the
pools are tested against, :func:`ase_rm.testing.search_with_ase`.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from .. import keys
from ..errors import ConfigError, InvalidStructureError, UnknownElementError
from ..outputs import claim_output, discard
from ..potential import Potential
from ..relaxation import FireParams, RelaxOptions, iter_relax
from ..structures import check_atoms
from .composition import Composition, format_formula
from .output import append_frames, part_path, read_done
from .protocols import Protocol, Stage, StartSpec, random_start

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One random start to make and relax."""

    index: int
    composition: Composition
    start: StartSpec


def attempts_for(
    compositions: Sequence[Composition], protocol: Protocol, n: int | None = None
) -> list[Attempt]:
    """``n`` (default: the protocol's) attempts per composition, numbered in order.

    Raises:
        ConfigError: ``n`` is not a positive integer.
    """
    n = protocol.attempts if n is None else n
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"the number of attempts per composition must be a positive integer, not {n!r}")
    return [
        Attempt(c * n + k, comp, protocol.start) for c, comp in enumerate(compositions) for k in range(n)
    ]


def stage_options(stage: Stage) -> RelaxOptions:
    return RelaxOptions(
        fmax=stage.fmax, steps=stage.max_steps, cell=stage.cell,  # type: ignore[arg-type]
        fire=FireParams(maxstep=stage.maxstep, dt=stage.dt),
    )


StartMaker = Callable[[StartSpec, Composition, np.random.Generator, Mapping[int | str, float] | None], Atoms]
"""What makes one start: ``(spec, composition, rng, element_volumes) -> Atoms``,
the signature of :func:`ase_rm.rss.random_start` (the default). A maker with a true
``takes_attempt`` attribute is also given ``attempt=`` (the attempt's index), e.g. to
start attempt k from the k-th of a ranked list of templates."""


STARTS_GROUP = "ase_rm.starts"
"""Entry-point group through which installed plugins add named start makers
(``ase-rm demo --starts NAME``): each entry point names a zero-argument factory
that returns a :data:`StartMaker`, such as the pymatgen plugin's ``symmetric``
(random space groups) and ``mixed`` (half symmetric, half the plain start). The
core discovers them by entry point and never imports a plugin by name."""


def start_names() -> list[str]:
    """Every start :func:`named_start_maker` knows: ``random`` (the protocol's own), then the plugins'."""
    from importlib.metadata import entry_points

    return ["random", *sorted(ep.name for ep in entry_points(group=STARTS_GROUP) if ep.name != "random")]


def named_start_maker(name: str) -> StartMaker | None:
    """The start maker called ``name``: None for ``random`` (the protocol's start),
    else one a plugin registers in the :data:`STARTS_GROUP` entry points."""
    from importlib.metadata import entry_points

    if name == "random":
        return None
    found = {ep.name: ep for ep in entry_points(group=STARTS_GROUP)}.get(name)
    if found is None:
        raise ConfigError(f"unknown starts {name!r}; choose one of {start_names()} "
                          "(symmetric and mixed come with the pymatgen plugin and pyxtal: "
                          "pip install 'ase-rm[symmetry]')")
    try:
        return found.load()()  # type: ignore[no-any-return]
    except ImportError as exc:
        raise ConfigError(f"starts {name!r} need a plugin whose dependencies are missing ({exc}): "
                          "pip install 'ase-rm[symmetry]', or use the published start: --starts random") from exc


def make_start(
    attempt: Attempt, seed: int, element_volumes: Mapping[int | str, float] | None,
    start_maker: StartMaker | None = None,
) -> Atoms:
    rng = np.random.default_rng([seed, attempt.index])
    if getattr(start_maker, "takes_attempt", False):
        atoms = start_maker(attempt.start, attempt.composition, rng, element_volumes,  # type: ignore[call-arg, misc]
                            attempt=attempt.index)
    else:
        atoms = (start_maker or random_start)(attempt.start, attempt.composition, rng, element_volumes)
    atoms.info[keys.RM_ATTEMPT] = attempt.index
    atoms.info[keys.RM_FORMULA] = format_formula(attempt.composition)
    return atoms


def kick(atoms: Atoms, stage: Stage, stage_index: int, seed: int) -> Atoms:
    """Before a stage with a kick: every position component moves by U(-kick, kick)."""
    out = atoms.copy()
    if stage.kick:
        entropy = [seed, int(atoms.info[keys.RM_ATTEMPT]), stage_index]
        if stage_index == 0:  # numpy's SeedSequence drops trailing zeros: [seed, attempt, 0] is the start's stream
            entropy.append(1)
        rng = np.random.default_rng(entropy)
        out.positions = out.positions + rng.uniform(-stage.kick, stage.kick, size=out.positions.shape)
    return out


def _record(result: Atoms, previous: Atoms, first: bool, accept: str = "always") -> Atoms:
    """Accumulate steps and per-stage convergence over stages; with
    ``accept="lower"``, keep ``previous`` unless ``result`` is no worse
    (see :class:`Stage`)."""
    flag = "C" if result.info[keys.RM_CONVERGED] else "N"
    if not first:
        steps = int(result.info[keys.RM_STEPS]) + int(previous.info[keys.RM_STEPS])
        if accept == "lower" and _worse(result, previous):
            result, flag = previous.copy(), "R"
        result.info[keys.RM_STEPS] = steps
        flag = f"{previous.info[keys.RM_STAGE_CONVERGED]}{flag}"
    result.info[keys.RM_STAGE_CONVERGED] = flag
    return result


def _worse(result: Atoms, previous: Atoms) -> bool:
    """Whether a stage's result loses to the structure before the stage: that
    one converged and the result did not, or the result's E~ is higher."""
    if not previous.info[keys.RM_CONVERGED]:
        return False
    return not result.info[keys.RM_CONVERGED] or result.info[keys.RM_ENERGY] > previous.info[keys.RM_ENERGY]


def _failed(previous: Atoms, exc: Exception, first: bool) -> Atoms:
    """An attempt a stage could not run on: last geometry and energy, not converged."""
    out = previous.copy()
    out.info[keys.RM_CONVERGED] = False
    out.info[keys.RM_ERROR] = str(exc)
    out.info.setdefault(keys.RM_STEPS, 0)
    out.info[keys.RM_STAGE_CONVERGED] = ("" if first else str(previous.info[keys.RM_STAGE_CONVERGED])) + "F"
    if first:
        out.info.setdefault(keys.RM_ENERGY, float("nan"))
    return out


def _runnable(atoms: Atoms, species: Any, label: str) -> InvalidStructureError | None:
    """The reason a relaxation stage cannot run on ``atoms`` (None if it can).

    An element the model does not know is the caller's error and raises.
    """
    try:
        check_atoms(atoms, species, label)
    except UnknownElementError:
        raise
    except InvalidStructureError as exc:
        return exc
    return None


def _batched_stages(
    potential: Potential, starts: Iterable[Atoms], stages: Sequence[Stage], seed: int, max_atoms: int
) -> Iterator[Atoms]:
    stream: Iterable[Atoms] = starts
    for s, stage in enumerate(stages):
        stream = _one_stage(potential, stream, stage, s, seed, max_atoms)
    return iter(stream)


def _one_stage(
    potential: Potential, inputs: Iterable[Atoms], stage: Stage, s: int, seed: int, max_atoms: int
) -> Iterator[Atoms]:
    kept: dict[int, Atoms] = {}
    failed: list[Atoms] = []
    counter = itertools.count()
    species = getattr(getattr(potential.model, "config", None), "species", None)

    def kicked() -> Iterator[Atoms]:
        for atoms in inputs:
            if keys.RM_ERROR in atoms.info:  # failed in an earlier stage: passes through
                failed.append(atoms)
                continue
            moved = kick(atoms, stage, s, seed)
            problem = _runnable(moved, species, f"attempt {atoms.info.get(keys.RM_ATTEMPT)} before stage {s + 1}")
            if problem is not None:
                log.warning("%s: counted as not converged", problem)
                failed.append(_failed(atoms, problem, s == 0))
                continue
            kept[next(counter)] = atoms  # the index iter_relax gives this input
            yield moved

    for k, result in iter_relax(potential, kicked(), stage_options(stage), max_atoms, validate=False):
        yield from failed
        failed.clear()
        yield _record(result, kept.pop(k), s == 0, stage.accept)
    yield from failed


def search(
    potential: Potential,
    attempts: Sequence[Attempt],
    protocol: Protocol,
    seed: int = 0,
    element_volumes: Mapping[int | str, float] | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    max_atoms_per_batch: int = 4096,
    progress: bool = False,
    shard: tuple[int, int] = (0, 1),
    start_maker: StartMaker | None = None,
    overwrite: bool = False,
) -> list[Atoms]:
    """Run attempts through the protocol's stages in batched FIRE pools; results sorted by attempt.

    Best-of-K is a selection after the search, not part of it: search K times
    the attempts, then :func:`ase_rm.rss.select.best_of_blocks` (what
    ``ase-rm generate --best-of K`` and ``ase-rm select --best-of K`` do). The
    serial ASE reference the batched pools are tested against is
    :func:`ase_rm.testing.search_with_ase`.

    Args:
        potential: the model (:func:`ase_rm.load_potential`).
        attempts: what to make (see :func:`attempts_for`).
        protocol: the stages (its ``start`` is ignored in favour of each attempt's).
        seed: seeds every start and kick.
        element_volumes: ``{Z: V_Z}`` Å^3 for crystal starts (the checkpoint's volume_fit).
        out: extxyz file; each result is appended as it finishes.
        resume: keep the results already in ``out`` and make only the rest.
        max_atoms_per_batch: memory bound of each relaxation pool.
        progress: a progress bar over attempts.
        shard: ``(rank, world)``: make only every world-th attempt, from the
            rank-th on, and append to ``out``'s part file for this rank
            (:func:`ase_rm.rss.output.part_path`; merge with
            :func:`ase_rm.rss.output.merge_parts`). Each attempt is seeded by
            its own number, so the shards together give exactly the
            single-process results.
        start_maker: makes each start instead of :func:`ase_rm.rss.random_start`
            (same signature; seeded by the attempt through its ``rng``), e.g.
            the pymatgen plugin's symmetric starts.
        overwrite: without ``resume``, replace what ``out`` already holds
            (otherwise an ``out`` with results in it is refused:
            :class:`ase_rm.errors.OutputExistsError`).

    Returns:
        The results of this shard's attempts (all attempts when world is 1), in attempt order.
    """
    rank, world = shard
    if not 0 <= rank < world:
        raise ConfigError(f"shard must be (rank, world) with 0 <= rank < world, got {shard}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
    if max_atoms_per_batch < 1:
        raise ConfigError(f"max_atoms_per_batch must be positive, not {max_atoms_per_batch}")
    attempts = list(attempts)[rank::world]
    path, done = _output(out, attempts, resume, rank, world, overwrite)
    todo = [a for a in attempts if a.index not in done]
    log.info("%d attempts, %d already done", len(attempts), len(attempts) - len(todo))
    starts = (make_start(a, seed, element_volumes, start_maker) for a in todo)
    results = dict(done)
    bar = _bar(len(attempts), len(done)) if progress else None
    for atoms in _batched_stages(potential, starts, protocol.stages, seed, max_atoms_per_batch):
        if path is not None:
            append_frames(path, [atoms])
        results[int(atoms.info[keys.RM_ATTEMPT])] = atoms
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return [results[a.index] for a in attempts]


def _output(
    out: str | os.PathLike[str] | None, attempts: Sequence[Attempt], resume: bool, rank: int, world: int,
    overwrite: bool = False,
) -> tuple[Path | None, dict[int, Atoms]]:
    """The file this rank appends to, and the results of ``attempts`` already
    written (with ``resume``; with ``overwrite`` the file is cleared; with
    neither, a file with results in it is refused)."""
    if out is None:
        return None, {}
    path = Path(out)
    done: dict[int, Atoms] = {}
    if world > 1:
        if resume:  # what an earlier merged run holds of this shard, then this rank's part
            mine = {attempt.index for attempt in attempts}
            done = {k: atoms for k, atoms in read_done(path, keys.RM_ATTEMPT).items() if k in mine}
        path = part_path(path, rank, world)
    claim_output(path, resume=resume, overwrite=overwrite)
    if resume:
        done.update(read_done(path, keys.RM_ATTEMPT))
    else:
        discard(path)
    return path, done


def _bar(total: int, initial: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="generate", unit="structure")
