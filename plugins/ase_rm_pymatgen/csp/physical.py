"""A physical MLIP in the loop: relax RM's candidates on a physical potential and rank by its energy.

RM's pseudo energy E~ finds structures but judges them poorly: the lowest-E~
candidate is often not the real one. This stage takes the candidates of a
search, relaxes each (positions and cell, ASE's FIRE on a FrechetCellFilter)
with any ASE calculator, and records the physical energy, so that
:func:`.ranking.rank_candidates` can rank by it. CHGNet (``pip install
ase-rm[chgnet]``; its wheel ships the pretrained weights, no download) is the
default; ``"emt"`` (ASE's EMT, for Cu/Al/Ni/Pd/Ag/Pt/Au tests) and any
``"module:factory"`` that returns an ASE calculator also work. The core of
ase_rm never imports this module.

Keys written to ``atoms.info`` of each relaxed copy:

- ``csp_physical_energy``: the calculator's energy after relaxation, eV (NaN if it failed);
- ``csp_physical_energy_per_atom``: the same per atom, eV/atom;
- ``csp_physical_converged``: max force below ``fmax`` (and stress, through the filter);
- ``csp_physical_steps``: FIRE steps taken;
- ``csp_physical_calculator``: the calculator's name.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from ase_rm import RMError

log = logging.getLogger(__name__)

PHYSICAL_ENERGY = "csp_physical_energy"
PHYSICAL_ENERGY_PER_ATOM = "csp_physical_energy_per_atom"
PHYSICAL_CONVERGED = "csp_physical_converged"
PHYSICAL_STEPS = "csp_physical_steps"
PHYSICAL_CALCULATOR = "csp_physical_calculator"

CalculatorLike = str | Calculator | Callable[[], Calculator]
"""A calculator name ("chgnet", "emt", "module:factory"), a calculator, or a function that makes one."""


def chgnet_calculator(device: str = "cpu") -> Calculator:
    """CHGNet's pretrained ASE calculator (the weights ship in its wheel; nothing is downloaded)."""
    try:
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError:
        raise RMError("the physical stage's default MLIP needs CHGNet: pip install 'ase-rm[chgnet]'") from None
    return CHGNetCalculator(use_device=device, on_isolated_atoms="ignore")


def get_calculator(spec: CalculatorLike, device: str = "cpu") -> tuple[Calculator, str]:
    """(calculator, name) from a name, a calculator or a factory.

    Raises:
        RMError: an unknown name, or a "module:factory" that does not import.
    """
    if isinstance(spec, Calculator):
        return spec, type(spec).__name__
    if not isinstance(spec, str):
        calc = spec()
        return calc, type(calc).__name__
    if spec == "chgnet":
        return chgnet_calculator(device), "chgnet"
    if spec == "emt":
        from ase.calculators.emt import EMT

        return EMT(), "emt"
    if ":" in spec:
        module, _, name = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise RMError(f"physical calculator {spec!r} does not import ({exc})") from None
        return factory(), spec
    raise RMError(f"unknown physical calculator {spec!r}: use chgnet, emt or module:factory")


def relax_one(atoms: Atoms, calculator: Calculator, fmax: float = 0.05, steps: int = 300,
              cell: bool = True) -> tuple[Atoms, float, bool, int]:
    """A relaxed copy of ``atoms``: (copy, energy eV, converged, steps). Energy NaN if the calculator fails."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    work.calc = calculator
    target: Any = FrechetCellFilter(work) if cell and work.pbc.all() else work
    opt = FIRE(target, logfile=None)
    try:
        converged = bool(opt.run(fmax=fmax, steps=steps))
        energy = float(work.get_potential_energy())
    except Exception as exc:  # an MLIP may fail on a broken structure; that candidate ranks last
        log.warning("physical relaxation of %s failed: %s: %s", atoms.get_chemical_formula(), type(exc).__name__, exc)
        return atoms.copy(), math.nan, False, int(opt.nsteps)
    if not np.isfinite(work.positions).all():
        energy, converged = math.nan, False
    out = atoms.copy()
    out.set_cell(work.cell[:], scale_atoms=False)
    out.positions = work.positions
    work.calc = None
    return out, energy, converged, int(opt.nsteps)


def relax_physical(structures: Sequence[Atoms], calculator: CalculatorLike = "chgnet", fmax: float = 0.05,
                   steps: int = 300, cell: bool = True, device: str = "cpu", progress: Any = None) -> list[Atoms]:
    """Relaxed copies of ``structures`` with the physical-energy keys of the module doc (inputs unchanged).

    Args:
        structures: candidates (any ``info`` is kept).
        calculator: see :data:`CalculatorLike` (default CHGNet).
        fmax: force threshold, eV/Å (the cell filter folds the stress in).
        steps: FIRE step cap per structure.
        cell: relax the cell too (periodic structures).
        device: torch device for CHGNet.
        progress: something with ``update(1)`` (a tqdm bar), called per structure.
    """
    calc, name = get_calculator(calculator, device)
    out = []
    for atoms in structures:
        relaxed, energy, converged, n = relax_one(atoms, calc, fmax, steps, cell)
        relaxed.info.update({PHYSICAL_ENERGY: energy, PHYSICAL_ENERGY_PER_ATOM: energy / len(atoms),
                             PHYSICAL_CONVERGED: converged, PHYSICAL_STEPS: n, PHYSICAL_CALCULATOR: name})
        out.append(relaxed)
        if progress is not None:
            progress.update(1)
    return out


def physical_energies(structures: Sequence[Atoms]) -> list[float | None]:
    """``csp_physical_energy_per_atom`` of each structure (None where absent or NaN)."""
    values = [a.info.get(PHYSICAL_ENERGY_PER_ATOM) for a in structures]
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]
