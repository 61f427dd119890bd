"""The ``berth`` command: docker-like verbs and flags, daemonless by default.

Each verb module registers its sub-commands; handlers import the engine lazily so that a quick
command does not pay for the imports of a slow one. For the same reason only the sub-parser that
the command line names is built (``berth ps`` builds ``ps``, not all 89); the full tree is built
for ``--help``, for no command, and to report a usage error, so the help and the error text are
always those of the full tree.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, Optional, Tuple

from ..errors import BerthError
from . import build, containers, images, networks, output, registry, volumes

PROG = "berth"

#: top-level flags and options with a value, in the spellings the quick scan of argv understands
_TOP_FLAGS = frozenset({"-D", "--debug", "--version"})
_TOP_OPTIONS_WITH_VALUE = frozenset({"-H", "--host"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # Docker: a usage error is an engine-side failure to run the command: exit 125, one line.
        output.error_line(f"{self.prog}: {message}\nSee '{self.prog} --help'.")
        raise SystemExit(125)


class _NotParsed(Exception):
    """The partly built tree could not take the command line; the full tree parses it again."""


class _Skipped:
    """Stands in for a sub-parser the command line does not name: it takes every call of the
    registration code (``add_argument``, ``set_defaults``, ``add_subparsers``...), keeps nothing."""

    def __getattr__(self, name: str) -> Any:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> _Skipped:
        return self


class _SelectiveSubParsers(argparse._SubParsersAction):  # noqa: SLF001 - argparse's sub-commands
    """Sub-commands of which only ``wanted[0]`` (by name or alias) is built.

    ``wanted`` holds the rest of the command line's leading words (``("run", "busybox")``);
    None builds every sub-command, as the full tree does.
    """

    def __init__(self, *args: Any, wanted: Optional[Tuple[str, ...]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self._wanted is None:
            return super().add_parser(name, wanted=None, **kwargs)
        if self._wanted and self._wanted[0] in (name, *kwargs.get("aliases", ())):
            # a group (``container``) with no word after it builds all of its sub-commands
            return super().add_parser(name, wanted=self._wanted[1:] or None, **kwargs)
        return _Skipped()


class _SelectiveParser(_Parser):
    """A parser of the partly built tree: a usage error hands over to the full tree."""

    def __init__(self, *args: Any, wanted: Optional[Tuple[str, ...]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wanted = wanted

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _NotParsed(message)

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("action", _SelectiveSubParsers)
        kwargs.setdefault("wanted", self._wanted)
        return super().add_subparsers(**kwargs)


def build_parser(wanted: Optional[Tuple[str, ...]] = None) -> argparse.ArgumentParser:
    """The whole ``berth`` parser. With ``wanted`` (the command line's leading words): a tree of
    only the sub-parsers on the way to them, which hands a usage error to ``parse_command_line``."""
    parser_class = _Parser if wanted is None else _SelectiveParser
    options = {} if wanted is None else {"wanted": wanted}
    parser = parser_class(prog=PROG, description="A daemonless container engine.", **options)
    parser.add_argument("--version", action="store_true", help="print version information and exit")
    parser.add_argument("-D", "--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-H", "--host", default=os.environ.get("BERTH_HOST") or None,
                        help="send the command to berthd at unix:///path (default: $BERTH_HOST; "
                             "unset: daemonless)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    images.register(commands)
    containers.register(commands)
    registry.register(commands)
    build.register(commands)
    volumes.register(commands)
    networks.register(commands)
    return parser


def command_words(argv: Sequence[str]) -> Optional[Tuple[str, ...]]:
    """The words that name the command (``("container", "run", "busybox")``: the first word that
    is not a top-level option and the plain words after it), ``()`` when there is none, or None
    when a top-level option is not in a spelling this scan knows (``--help``, an abbreviation,
    ``-DH``, ``--``): the full tree parses those."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _TOP_OPTIONS_WITH_VALUE:
            i += 2
        elif word in _TOP_FLAGS or word.startswith(("-H", "--host=")):  # -Hunix:///x: one word
            i += 1
        elif word.startswith("-"):
            return None
        else:
            break
    words = []
    for word in argv[i:]:
        if word.startswith("-"):
            break
        words.append(word)
    return tuple(words)


def parse_command_line(argv: Sequence[str]) -> argparse.Namespace:
    """``argv`` parsed as the full tree parses it, building only the sub-parser it names.

    A command line the partly built tree takes gives the same namespace as the full tree: both
    pick the same word as the command (the top-level options are the same) and build its
    sub-parser with the same code. Anything else (an unknown verb, a usage error) is parsed
    again by the full tree, so its message and exit code are the full tree's."""
    wanted = command_words(argv)
    if wanted is not None:
        try:
            return build_parser(wanted).parse_args(argv)
        except _NotParsed:
            pass
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_command_line(sys.argv[1:] if argv is None else list(argv))
    if args.version:
        from .. import __version__

        output.line(f"berth version {__version__}")
        return 0
    if not getattr(args, "func", None):
        build_parser().print_help()
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


def console() -> None:
    """The ``berth`` command: ``main``, then the exit without the interpreter's teardown. Freeing
    every module and the SQLite connection's checkpoint-on-close cost 10-20 ms per command; the
    work is done and written once ``main`` returns (the database's WAL is committed data that the
    next connection reads; with ``synchronous=NORMAL`` it reaches the disk at the next
    checkpoint, so a power cut can lose the last commands' records, as it could between
    checkpoints in the daemon before)."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # ``berth ps | head``: the reader is gone, as main handles it
        pass
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
