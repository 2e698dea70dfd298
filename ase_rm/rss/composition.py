"""Chemical compositions for random structure search (docs/method.md section 4).

A composition is an ordered tuple of ``(symbol, count)`` pairs, e.g.
``(("C", 5), ("H", 9), ("N", 1), ("O", 1))``. Formulas are parsed strictly:
element symbols as in ASE (``"Cl"``, not ``"CL"``), optional positive
integer counts, no brackets. A symbol given twice is summed.

Hydrogen enumeration: a *heavy-atom* formula such as ``"C5ON"`` (all atoms
except H) is expanded into full compositions with hydrogen counts
``n_H = n_max, n_max - 2, ... >= 6`` where, for the QM7b elements,
``n_max = 2 C + N - Cl - 2`` (docs/method.md). :class:`HydrogenRule` writes this as
``n_max = 2 + sum_X (v_X - 2) n_X - 2 u`` with valences ``v`` and ``u = 2``
degrees of unsaturation; ``u = 0`` gives the saturated (acyclic) count
``2 C + N - Cl + 2``. A formula that already contains H is used as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from ..config import Config
from ..errors import ConfigError

Composition = tuple[tuple[str, int], ...]
"""Ordered ``(symbol, count)`` pairs; counts are positive integers."""

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")
_VALID_SYMBOLS = frozenset(chemical_symbols[1:])

DEFAULT_VALENCES: tuple[tuple[str, int], ...] = (
    ("C", 4),
    ("Si", 4),
    ("N", 3),
    ("P", 3),
    ("B", 3),
    ("O", 2),
    ("S", 2),
    ("Se", 2),
    ("F", 1),
    ("Cl", 1),
    ("Br", 1),
    ("I", 1),
)
"""Valences used to count hydrogens; the QM7b elements are C, N, O, S, Cl."""


def parse_formula(formula: str) -> Composition:
    """Parse a formula such as ``"C5H9NO"``, ``"KZnF3"`` or ``"Si2C4N8"``.

    Args:
        formula: element symbols, each optionally followed by a positive count.

    Returns:
        The composition in the order the elements first appear.

    Raises:
        ConfigError: empty or malformed string, unknown element, zero count.
    """
    text = formula.strip() if isinstance(formula, str) else None
    if not text:
        raise ConfigError(f"empty chemical formula {formula!r}")
    pos = 0
    counts: dict[str, int] = {}
    for match in _TOKEN.finditer(text):
        if match.start() != pos:
            break
        symbol, digits = match.groups()
        if symbol not in _VALID_SYMBOLS:
            raise ConfigError(f"unknown element {symbol!r} in formula {formula!r}")
        count = int(digits) if digits else 1
        if count == 0:
            raise ConfigError(f"zero count for {symbol} in formula {formula!r}")
        counts[symbol] = counts.get(symbol, 0) + count
        pos = match.end()
    if pos != len(text):
        raise ConfigError(
            f"malformed formula {formula!r} at {text[pos:]!r}; write element symbols with optional counts, e.g. C5H9NO"
        )
    return tuple(counts.items())


def as_composition(value: str | Composition) -> Composition:
    """A composition from a formula string or (symbol, count) pairs (validated)."""
    if isinstance(value, str):
        return parse_formula(value)
    return parse_formula(format_formula(tuple((str(s), int(n)) for s, n in value)))


def format_formula(composition: Composition) -> str:
    """The formula string, counts of 1 omitted: ``(("C", 5), ("O", 1))`` -> ``"C5O"``."""
    return "".join(f"{s}{n if n != 1 else ''}" for s, n in composition)


def composition_numbers(composition: str | Composition) -> np.ndarray:
    """Atomic numbers of every atom, grouped by element in composition order.

    Returns:
        ``(n_atoms,)`` int array.
    """
    comp = as_composition(composition)
    return np.array([atomic_numbers[s] for s, n in comp for _ in range(n)], dtype=int)


def multiply(composition: str | Composition, formula_units: int) -> Composition:
    """The composition of ``formula_units`` formula units (every count times z)."""
    if isinstance(formula_units, bool) or not isinstance(formula_units, int | np.integer) or formula_units < 1:
        raise ConfigError(f"formula_units must be a positive integer, not {formula_units!r}")
    return tuple((s, n * int(formula_units)) for s, n in as_composition(composition))


@dataclass(frozen=True)
class HydrogenRule(Config):
    """Which hydrogen counts to try for a heavy-atom formula.

    ``n_max = 2 + sum_X (v_X - 2) n_X - 2 * unsaturation``; counts are
    ``n_max, n_max - step, ...`` down to ``min_h``. The defaults give
    docs/method.md's ``n_max = 2 C + N - Cl - 2``, ``>= 6``.

    Attributes:
        valences: ``(symbol, valence)`` pairs for the heavy elements allowed.
        unsaturation: degrees of unsaturation (rings + pi bonds) at n_max.
        min_h: smallest hydrogen count tried.
        step: decrement between counts (2 keeps the valence parity).
    """

    valences: tuple[tuple[str, int], ...] = DEFAULT_VALENCES
    unsaturation: int = 2
    min_h: int = 6
    step: int = 2

    def __post_init__(self) -> None:
        pairs = tuple((str(s), int(v)) for s, v in self.valences)
        object.__setattr__(self, "valences", pairs)
        if any(s not in _VALID_SYMBOLS or v < 1 for s, v in pairs):
            raise ConfigError(f"HydrogenRule.valences must pair element symbols with valences >= 1: {pairs}")
        if self.step < 1 or self.min_h < 0 or self.unsaturation < 0:
            raise ConfigError("HydrogenRule needs step >= 1, min_h >= 0 and unsaturation >= 0")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["valences"] = [list(pair) for pair in self.valences]
        return out

    def n_max(self, heavy: str | Composition) -> int:
        """Largest hydrogen count for a heavy-atom composition (no H)."""
        comp = as_composition(heavy)
        valence = dict(self.valences)
        missing = [s for s, _ in comp if s not in valence]
        if "H" in missing:
            raise ConfigError(f"{format_formula(comp)} already contains H; enumerate only heavy-atom formulas")
        if missing:
            raise ConfigError(
                f"no valence for {', '.join(missing)} to count hydrogens of {format_formula(comp)}; "
                f"known: {' '.join(valence)}"
            )
        return 2 + sum((valence[s] - 2) * n for s, n in comp) - 2 * self.unsaturation

    def counts(self, heavy: str | Composition) -> list[int]:
        """Hydrogen counts ``n_max, n_max - step, ... >= min_h`` (may be empty)."""
        return list(range(self.n_max(heavy), self.min_h - 1, -self.step))


QM7B_HYDROGEN_RULE = HydrogenRule()
"""docs/method.md section 4: ``n_max = 2 C + N - Cl - 2``, counts down by 2 to 6."""


def hill_order(composition: str | Composition) -> Composition:
    """Hill order: C first, then H, then the rest alphabetically (no C: all alphabetical)."""
    comp = as_composition(composition)
    if not any(s == "C" for s, _ in comp):
        return tuple(sorted(comp))
    rank = {"C": "0", "H": "1"}
    return tuple(sorted(comp, key=lambda item: rank.get(item[0], "2" + item[0])))


def with_hydrogens(heavy: str | Composition, n_h: int) -> Composition:
    """The heavy-atom composition plus ``n_h`` hydrogens, in Hill order (``C5H9NO``)."""
    comp = as_composition(heavy)
    return hill_order(comp + ((("H", int(n_h)),) if n_h > 0 else ()))


def enumerate_hydrogens(heavy: str | Composition, rule: HydrogenRule = QM7B_HYDROGEN_RULE) -> list[Composition]:
    """Full compositions for a heavy-atom formula, one per hydrogen count.

    Example: ``"C5ON"`` -> ``C5H9NO, C5H7NO`` (n_max = 2*5 + 1 - 0 - 2 = 9).

    Raises:
        ConfigError: the formula contains H, an element has no valence, or no
            hydrogen count reaches ``rule.min_h``.
    """
    counts = rule.counts(heavy)
    if not counts:
        raise ConfigError(
            f"no hydrogen count >= {rule.min_h} for {format_formula(as_composition(heavy))} "
            f"(n_max = {rule.n_max(heavy)})"
        )
    return [with_hydrogens(heavy, n) for n in counts]


def expand_compositions(
    formula: str | Composition,
    *,
    enumerate_h: bool = False,
    formula_units: int = 1,
    rule: HydrogenRule = QM7B_HYDROGEN_RULE,
) -> list[Composition]:
    """The compositions a search runs for one user formula (CLI ``--enumerate-h``).

    Args:
        formula: a full formula (used as is) or, with ``enumerate_h``, a
            heavy-atom formula without H.
        enumerate_h: expand a heavy-atom formula with :func:`enumerate_hydrogens`.
        formula_units: multiply every composition by this z (after enumeration).
        rule: the hydrogen rule used with ``enumerate_h``.

    Raises:
        ConfigError: bad formula, or ``enumerate_h`` with a formula containing H.
    """
    comp = as_composition(formula)
    if enumerate_h and any(s == "H" for s, _ in comp):
        raise ConfigError(
            f"{format_formula(comp)} contains H: give heavy atoms only to enumerate hydrogens, "
            "or drop enumerate-h to use the formula as is"
        )
    comps = enumerate_hydrogens(comp, rule) if enumerate_h else [comp]
    return [multiply(c, formula_units) for c in comps]
