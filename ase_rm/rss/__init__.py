"""Random structure search: compositions, random starts and protocols (docs/method.md section 4)."""

from __future__ import annotations

from .composition import (
    Composition,
    HydrogenRule,
    composition_numbers,
    enumerate_hydrogens,
    expand_compositions,
    format_formula,
    multiply,
    parse_formula,
)
from .protocols import PROTOCOLS, Protocol, Stage, StartSpec, get_protocol, random_start, start_volume
from .search import Attempt, StartMaker, attempts_for, relax_with_ase, search
from .starts import (
    StartError,
    crystal_start,
    molecule_start,
    random_cell,
    target_volume,
)

__all__ = [
    "Attempt",
    "attempts_for",
    "relax_with_ase",
    "search",
    "StartMaker",
    "PROTOCOLS",
    "Composition",
    "HydrogenRule",
    "Protocol",
    "Stage",
    "StartError",
    "StartSpec",
    "composition_numbers",
    "crystal_start",
    "enumerate_hydrogens",
    "expand_compositions",
    "format_formula",
    "get_protocol",
    "molecule_start",
    "multiply",
    "parse_formula",
    "random_cell",
    "random_start",
    "start_volume",
    "target_volume",
]
