"""Argument types that check ranges at parse time: a bad value is one line
from argparse (exit 2) before anything is loaded, never a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .removed import removed  # re-exported: plugins register their removed spellings with it

__all__ = ["box_lengths", "finite_float", "non_negative_float", "non_negative_int", "positive_float", "positive_int",
           "removed", "repulsion"]


def _number(kind: type, text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {name}, not {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
    return value


def _bounded(kind: type, low: float, strict: bool, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _number(kind, text)
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text}")
        return value

    parse.__name__ = what.replace(" ", "_")  # argparse names the type in some messages
    return parse


positive_int: Callable[[str], int] = _bounded(int, 0, True, "a positive integer")  # type: ignore[assignment]
"""1, 2, ...: counts that must be at least one (attempts, K, workers, atoms per batch)."""

non_negative_int: Callable[[str], int] = _bounded(int, 0, False, "a non-negative integer")  # type: ignore[assignment]
"""0, 1, ...: seeds, epochs, step budgets."""

positive_float: Callable[[str], float] = _bounded(float, 0.0, True, "a positive number")
"""Finite and > 0: force thresholds, volumes, lengths."""

non_negative_float: Callable[[str], float] = _bounded(float, 0.0, False, "a non-negative number")
"""Finite and >= 0."""


def finite_float(text: str) -> float:
    """Any finite number (e.g. a pressure, which may be negative)."""
    return _number(float, text)


def box_lengths(text: str) -> tuple[float, float, float]:
    """'12' -> a 12 Å cube; '12,6,6' -> three edge lengths, Å, each positive."""
    parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
    if len(parts) not in (1, 3):
        raise argparse.ArgumentTypeError(f"expected L or LX,LY,LZ in Å, not {text!r}")
    lengths = [positive_float(p) for p in parts]
    return (lengths[0],) * 3 if len(lengths) == 1 else (lengths[0], lengths[1], lengths[2])


def repulsion(text: str) -> tuple[float, float] | None:
    """'R,A' -> a fixed core repulsion of radius R Å and strength A eV (both > 0);
    'off' -> None (the model as trained). See :func:`ase_rm.load_potential`."""
    if text.strip().lower() == "off":
        return None
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected R,A (radius Å, strength eV) or off, not {text!r}")
    radius, energy = (positive_float(p) for p in parts)
    return radius, energy
