"""The serial ASE reference for random structure search.

:func:`search_with_ase` runs the same attempts as :func:`ase_rm.rss.search`
(same starts, same kicks, same stage rules) one structure at a time through an
ASE calculator (:class:`ase_rm.RMCalculator`) and an ``ase.optimize``
optimizer, with ``FrechetCellFilter`` for cell stages. It is what the batched
FIRE pools are tested against (same minima and step counts with ``FIRE``), and
a way to try another ASE optimizer on a protocol; it is not a production path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ase import Atoms

from .. import keys
from ..rss.protocols import Protocol, Stage
from ..rss.search import Attempt, StartMaker, _failed, _record, _runnable, kick, make_start

log = logging.getLogger(__name__)


def relax_with_ase(calc: Any, atoms: Atoms, stage: Stage, optimizer: str = "FIRE") -> Atoms:
    """One stage with an ASE optimizer (and FrechetCellFilter for cell stages).

    Args:
        calc: an ASE calculator (e.g. ``RMCalculator.from_checkpoint(...)``).
        atoms: the structure (not modified).
        stage: the protocol stage (fmax eV/Å, max_steps, maxstep Å, dt, cell mode).
        optimizer: a class name in ``ase.optimize`` (FIRE, BFGS, LBFGS, ...).

    Returns:
        A copy with ``rm_energy`` (eV), ``rm_converged`` and ``rm_steps`` in ``info``.
    """
    import ase.optimize
    from ase.filters import FrechetCellFilter

    out = atoms.copy()
    out.calc = calc
    target: Any = out
    if stage.cell is not None:
        target = FrechetCellFilter(
            out, constant_volume=stage.cell == "constant_volume", hydrostatic_strain=stage.cell == "hydrostatic"
        )
    opt_cls = getattr(ase.optimize, optimizer)
    kwargs: dict[str, Any] = {"logfile": None, "maxstep": stage.maxstep}
    if optimizer == "FIRE":
        kwargs["dt"] = stage.dt
    opt = opt_cls(target, **kwargs)
    converged = bool(opt.run(fmax=stage.fmax, steps=stage.max_steps))
    energy = float(out.get_potential_energy())
    out.calc = None
    out.info.update({keys.RM_ENERGY: energy, keys.RM_CONVERGED: converged, keys.RM_STEPS: int(opt.nsteps)})
    return out


def ase_stages(calc: Any, starts: Iterable[Atoms], stages: Sequence[Stage], seed: int,
               optimizer: str = "FIRE") -> Iterator[Atoms]:
    """Each start through every stage (kick, relax, accept rule), one structure at a time."""
    for atoms in starts:
        current = atoms
        for s, stage in enumerate(stages):
            moved = kick(current, stage, s, seed)
            problem = _runnable(moved, None, f"attempt {atoms.info.get(keys.RM_ATTEMPT)} before stage {s + 1}")
            if problem is not None:
                log.warning("%s: counted as not converged", problem)
                current = _failed(current, problem, s == 0)
                break
            current = _record(relax_with_ase(calc, moved, stage, optimizer), current, s == 0, stage.accept)
        yield current


def search_with_ase(
    calc: Any,
    attempts: Sequence[Attempt],
    protocol: Protocol,
    seed: int = 0,
    element_volumes: Mapping[int | str, float] | None = None,
    optimizer: str = "FIRE",
    start_maker: StartMaker | None = None,
) -> list[Atoms]:
    """:func:`ase_rm.rss.search` done serially with an ASE calculator and optimizer.

    Same arguments as :func:`ase_rm.rss.search` (no output file, shards or
    progress), plus ``optimizer``; results in attempt order.
    """
    starts = (make_start(a, seed, element_volumes, start_maker) for a in attempts)
    return list(ase_stages(calc, starts, protocol.stages, seed, optimizer))
