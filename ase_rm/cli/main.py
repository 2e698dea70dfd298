"""``ase-rm``: one command, small subcommands; errors are one clear line.

Each subcommand module defines ``add_parser(subparsers)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import RMError
from . import demo, generate, info, noise, relax, train

SUBCOMMANDS = [demo, train, noise, generate, relax, info]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="ase-rm", description="Response Matching: train, noise, generate and relax with RM potentials."
    )
    parser.add_argument("--version", action="version", version=f"ase-rm {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("ase-rm: interrupted", file=sys.stderr)
        return 130
    except (RMError, FileNotFoundError, NotImplementedError, FloatingPointError) as exc:
        if args.traceback:
            raise
        print(f"ase-rm {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
