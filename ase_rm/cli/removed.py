"""Spellings the CLI no longer takes: a one-line error that names the replacement.

A removed option stays registered (hidden from ``--help``) so that an old
command line fails at once with what to write instead, rather than with
argparse's "unrecognized arguments".
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class _Removed(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, instead: str = "", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)
        self.instead = instead

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.exit(2, f"{parser.prog}: error: {option_string} was removed; {self.instead}\n")


def removed(parser: argparse.ArgumentParser, flag: str, instead: str, takes_value: bool = True) -> None:
    """Register ``flag`` so that giving it exits with ``"FLAG was removed; INSTEAD"`` (status 2)."""
    parser.add_argument(flag, action=_Removed, instead=instead, nargs="?" if takes_value else 0)
