"""The ``berth`` command: docker-like verbs and flags, daemonless by default.

Each verb module registers its sub-commands; handlers import the engine lazily so that a quick
command does not pay for the imports of a slow one.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import BerthError
from . import build, containers, images, networks, output, registry, volumes

PROG = "berth"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # Docker: a usage error is an engine-side failure to run the command: exit 125, one line.
        output.error_line(f"{self.prog}: {message}\nSee '{self.prog} --help'.")
        raise SystemExit(125)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A daemonless container engine.")
    parser.add_argument("--version", action="store_true", help="print version information and exit")
    parser.add_argument("-D", "--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-H", "--host", default=os.environ.get("BERTH_HOST") or None,
                        help="send the command to berthd at unix:///path (default: $BERTH_HOST; "
                             "unset: daemonless)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    images.register(commands)
    containers.register(commands)
    registry.register(commands)
    build.register(commands)
    volumes.register(commands)
    networks.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from .. import __version__

        output.line(f"berth version {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 125
    try:
        if args.host:
            from .client import run_remote

            return run_remote(args, args.host)
        return int(args.func(args) or 0)
    except BerthError as exc:
        if args.debug or os.environ.get("BERTH_DEBUG"):
            raise
        output.error_line(f"Error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
