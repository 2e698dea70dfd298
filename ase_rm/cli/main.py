"""``ase-rm``: one command, small subcommands; errors are one clear line.

Each subcommand module defines ``add_parser(subparsers)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import RMError
from . import demo, generate, info, noise, relax, select, train
from .args import positive_int
from .removed import removed

SUBCOMMANDS = [demo, train, noise, generate, relax, select, info]

PLUGIN_GROUP = "ase_rm.commands"
"""Entry-point group through which installed plugins add subcommands: each entry
point names a module with ``add_parser(subparsers)`` and ``run(args)``. The core
discovers them by entry point and never imports a plugin by name."""


def plugin_commands() -> list[object]:
    """Subcommand modules that installed plugins register."""
    from importlib.metadata import entry_points

    modules = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            modules.append(ep.load())
        except ImportError as exc:  # a plugin whose optional dependencies are missing
            logging.getLogger(__name__).debug("plugin command %s unavailable: %s", ep.name, exc)
    return modules


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="ase-rm", description="Response Matching: train, noise, generate and relax with RM potentials.",
        epilog="examples:\n  ase-rm --threads 1 generate qm7b -c C5H9NO --out gen.extxyz\n"
               "  ase-rm --verbose --traceback train run.toml\n  ase-rm generate --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ase-rm {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--threads", type=positive_int,
                        help="torch CPU threads (default: torch's choice; 1 on a busy machine)")
    removed(parser, "--system-malloc", "ase-rm leaves malloc alone when GLIBC_TUNABLES sets glibc.malloc "
                                       "options, e.g. GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072",
            takes_value=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in [*SUBCOMMANDS, *plugin_commands()]:
        module.add_parser(sub)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.threads:  # the CLI is the one place that may set process-wide torch state
        import torch

        torch.set_num_threads(args.threads)
    from ..malloc import retain_freed_memory

    retain_freed_memory()  # a no-op when GLIBC_TUNABLES sets glibc.malloc options
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. piped into head
        return 0
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
