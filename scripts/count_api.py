"""Count the user-facing surface: CLI options per subcommand and exported names.

    PYTHONPATH=$PWD:$PWD/plugins python scripts/count_api.py [--json]

An option is one visible ``--flag`` (its aliases count once; ``--help`` and
options hidden with ``help=argparse.SUPPRESS``, such as the one-line errors of
removed spellings, do not count). Plugin subcommands are included when their
entry points are installed and their dependencies import.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

PACKAGES = ("ase_rm", "ase_rm_pymatgen")


def _visible_options(parser: argparse.ArgumentParser) -> list[str]:
    names = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        names.append(max(action.option_strings, key=len))
    return names


def cli_options() -> dict[str, list[str]]:
    """Visible options by subcommand (``""``: the top-level ones)."""
    from ase_rm.cli.main import build_parser

    counts: dict[str, list[str]] = {}

    def visit(parser: argparse.ArgumentParser, prefix: str) -> None:
        counts[prefix] = _visible_options(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, f"{prefix} {name}".strip())

    visit(build_parser(), "")
    return counts


def exported_names() -> dict[str, int]:
    """``len(__all__)`` of each package that imports."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = len(importlib.import_module(name).__all__)
        except ImportError:
            continue
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Count CLI options and exported names.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    options = cli_options()
    names = exported_names()
    if args.json:
        print(json.dumps({"options": options, "exported": names}, indent=1))
        return 0
    for command, flags in sorted(options.items()):
        print(f"{command or '(top level)':20s} {len(flags):3d}  {' '.join(flags)}")
    print(f"{'total':20s} {sum(len(f) for f in options.values()):3d} options in {len(options) - 1} (sub)commands")
    for name, n in names.items():
        print(f"{name}.__all__: {n} names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
