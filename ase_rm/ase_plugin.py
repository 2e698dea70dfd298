"""ASE plugin registration (the ``ase.plugins`` entry-point group, ASE >= 3.24).

ASE lists RMCalculator through this module; nothing in ase_rm depends on it.
"""

from __future__ import annotations

from typing import Any


def ase_register(plugin: Any) -> None:
    """Called by ASE's plugin loader."""
    plugin.register_calculator("ase_rm.calculator.RMCalculator")
