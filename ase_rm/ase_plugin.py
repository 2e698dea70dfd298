"""ASE plugin registration (the ``ase.plugins`` entry-point group).

ASE's plugin registry (``ase._4.plugins`` in ASE 3.29) loads this module
through the entry point and reads ``__ase_plugins__``. The attribute is
built on first access (PEP 562), so importing this module never imports ASE's
registry, in whichever order the two are imported. Nothing in ase_rm imports it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

CALCULATOR = "ase_rm.calculator.RMCalculator"
"""Import path of the calculator ASE lists (resolved by ASE only when used)."""


@cache
def plugins() -> frozenset[Any]:
    """The CalculatorPlugin set ASE reads (empty with an ASE that has no registry)."""
    try:
        from ase._4.plugins.plugin import CalculatorPlugin
    except ImportError:
        return frozenset()
    return frozenset({CalculatorPlugin("rm", implementation=CALCULATOR,
                                       citation="Response Matching generative potentials (ase-rm)")})


def __getattr__(name: str) -> Any:
    if name == "__ase_plugins__":
        return plugins()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
