"""Random structure search: compositions, starts, protocols, the search and selection (docs/method.md section 4)."""

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
from .protocols import PROTOCOLS, Engine, Protocol, Stage, StartSpec, get_protocol, random_start, start_volume
from .search import Attempt, StartMaker, attempts_for, named_start_maker, search, start_names
from .select import best_of_blocks, rank_key, ranking, ranking_names, select_first, select_lowest
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
    "search",
    "StartMaker",
    "named_start_maker",
    "start_names",
    "best_of_blocks",
    "rank_key",
    "ranking",
    "ranking_names",
    "select_first",
    "select_lowest",
    "PROTOCOLS",
    "Composition",
    "Engine",
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
