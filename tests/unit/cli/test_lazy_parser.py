"""``berth`` builds only the sub-parser its command line names (cli/main.py): that partial tree must
parse every command line exactly as the full tree does, and leave help, errors and exit codes to
the full tree."""
from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from berth.cli import main as cli_main
from berth.cli.main import build_parser, command_words, parse_command_line

#: representative command lines: every verb group, aliases, two-level verbs, top-level options
#: before the verb in each spelling the quick scan knows
COMMAND_LINES = [
    ["ps"], ["ps", "-a", "-q", "--no-trunc", "-f", "status=exited", "--format", "json"],
    ["ps", "-n", "3"], ["container", "ls", "-a"], ["container", "ps"], ["container", "list", "-q"],
    ["images"], ["images", "-q", "busybox"], ["image", "ls"], ["image", "list", "--digests"],
    ["rmi", "-f", "a", "b"], ["image", "rm", "a"], ["image", "remove", "--no-prune", "a"],
    ["tag", "a", "b:1"], ["image", "tag", "a", "b"], ["history", "--no-human", "a"],
    ["image", "history", "-q", "a"], ["inspect", "x"], ["inspect", "--type", "container", "x"],
    ["inspect", "-f", "{{.Id}}", "--type", "image", "x", "y"], ["image", "inspect", "x"],
    ["container", "inspect", "-s", "x"], ["import", "-", "img:1", "-c", "CMD sh"],
    ["image", "import", "f.tar"], ["save", "-o", "f.tar", "a"], ["image", "save", "--format", "oci", "a"],
    ["load", "-i", "f.tar"], ["image", "load", "-q"], ["image", "prune", "-a", "-f"],
    ["run", "--rm", "busybox", "true"],
    ["run", "-d", "-p", "8080:80", "--name", "web", "-e", "A=1", "-v", "/a:/b", "busybox",
     "httpd", "-f", "-p", "80"],
    ["run", "-it", "--no-sig-proxy", "busybox", "sh", "-c", "echo hi"],
    ["container", "run", "--rm", "busybox", "true"], ["create", "--name", "c", "busybox"],
    ["container", "create", "busybox", "ls", "-l"], ["start", "-a", "c"], ["container", "start", "c", "d"],
    ["stop", "-t", "1", "c"], ["container", "stop", "--signal", "TERM", "c"], ["restart", "c"],
    ["kill", "-s", "HUP", "c"], ["container", "kill", "c"], ["pause", "c"], ["unpause", "c"],
    ["container", "pause", "c"], ["rm", "-f", "-v", "c"], ["container", "rm", "c"],
    ["container", "remove", "-f", "c"], ["wait", "c"], ["container", "wait", "c"],
    ["exec", "-it", "-u", "0", "-w", "/", "-e", "A=1", "c", "sh", "-c", "ls -l"],
    ["container", "exec", "-d", "c", "sleep", "1"], ["rename", "a", "b"],
    ["container", "rename", "a", "b"], ["export", "-o", "f.tar", "c"], ["container", "export", "c"],
    ["commit", "-m", "msg", "-c", "CMD sh", "--no-pause", "c", "r:1"], ["container", "commit", "c"],
    ["logs", "-f", "-t", "-n", "5", "--since", "1m", "c"], ["container", "logs", "c"],
    ["top", "c", "aux"], ["container", "top", "c"], ["stats", "--no-stream", "-a"],
    ["container", "stats", "c"], ["port", "c", "80/tcp"], ["container", "port", "c"],
    ["system", "restore"], ["system", "check"], ["system", "check", "--repair", "--format", "json"],
    ["pull", "-q", "busybox:1"], ["push", "r/x"], ["login", "-u", "me", "--password-stdin", "r"],
    ["logout"], ["logout", "r"],
    ["build", "-t", "x", "-f", "Dockerfile", "--build-arg", "A=1", "--no-cache", "--no-rm", "."],
    ["build", "-q", "-"],
    ["volume", "create", "-l", "a=b", "-o", "type=tmpfs", "v"], ["volume", "create"],
    ["volume", "ls", "-q"], ["volume", "list"], ["volume", "inspect", "v"],
    ["volume", "rm", "-f", "v"], ["volume", "remove", "v"], ["volume", "prune", "-a", "-f"],
    ["network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.9.0.1", "n"],
    ["network", "ls", "-f", "driver=bridge"], ["network", "list"], ["network", "inspect", "n"],
    ["network", "rm", "n"], ["network", "remove", "-f", "n"], ["network", "connect", "--ip", "1.2.3.4", "n", "c"],
    ["network", "disconnect", "n", "c"], ["network", "prune", "-f"],
    # top-level options before the verb
    ["-H", "unix:///run/b.sock", "ps"], ["--host", "unix:///s", "image", "ls"],
    ["--host=unix:///s", "container", "rm", "c"], ["-Hunix:///s", "network", "create", "n"],
    ["-D", "run", "--rm", "busybox", "true"], ["--debug", "-H", "/s", "images"],
    ["--version"], ["--version", "ps"], ["-D"], ["-H", "ps"], [],
    # no sub-command after a group: parses, then main prints the full help
    ["container"], ["image"], ["network"], ["system"],
]

#: command lines whose parse ends in help or in an error: main's output and exit code
FAILING_OR_HELP = [
    ["nosuchverb"], ["container", "nosuchverb"], ["image", "nosuchverb", "x"], ["run"],
    ["ps", "-n", "x"], ["ps", "--nope"], ["--nope"], ["-H"], ["rm"], ["container", "rm"],
    ["network", "create"], ["inspect", "--type", "volume", "x"], ["image", "inspect", "--type", "container", "x"],
    ["save", "--format", "tar", "a"], ["system", "check", "--format", "yaml"],
    ["container"], ["volume"], [],
    ["--help"], ["-h"], ["-h", "ps"], ["--he", "ps"], ["ps", "--help"], ["run", "--help"],
    ["container", "--help"], ["container", "run", "--help"], ["image", "ls", "-h"],
    ["network", "-h", "create"], ["-D", "-H", "/s", "--help"],
]


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return action
    return None


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple = ()) -> Iterator[tuple]:
    """Every command word path of the tree, by name and by alias (("container", "remove"), ...)."""
    subcommands = _subcommands(parser)
    if subcommands is None:
        return
    for name, child in subcommands.choices.items():
        yield prefix + (name,)
        yield from _command_paths(child, prefix + (name,))


def _sub_parser(parser: argparse.ArgumentParser, path: tuple) -> argparse.ArgumentParser:
    for word in path:
        subcommands = _subcommands(parser)
        assert subcommands is not None, path
        parser = subcommands.choices[word]
    return parser


def _shape(parser: argparse.ArgumentParser) -> tuple:
    """Everything of a parser that parsing and help depend on, children included."""
    actions = []
    for action in parser._actions:  # noqa: SLF001
        children, kind = None, type(action).__name__
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001 - partial tree: a subclass
            children = sorted((name, _shape(child)) for name, child in action.choices.items())
            kind = "sub-commands"
        actions.append((kind, tuple(action.option_strings), action.dest, action.nargs,
                        repr(action.const), repr(action.default), action.type, repr(action.choices)
                        if children is None else None, action.required, action.help, action.metavar,
                        children))
    return (parser.prog, parser.format_help(), sorted(parser._defaults.items(), key=repr),  # noqa: SLF001
            tuple(actions))


def _parse_full(argv: list[str]) -> dict:
    return vars(build_parser().parse_args(argv))


@pytest.fixture(autouse=True)
def _no_berth_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_HOST", raising=False)
    monkeypatch.setenv("COLUMNS", "100")  # the same help width in both trees


def test_every_command_of_the_full_tree_is_built_identically_alone() -> None:
    full = build_parser()
    paths = list(_command_paths(full))
    assert len(paths) >= 89
    assert ("container", "remove") in paths and ("image", "ls") in paths and ("rmi",) in paths
    for path in paths:
        lazy = build_parser(path)
        assert _shape(_sub_parser(lazy, path)) == _shape(_sub_parser(full, path)), path
        # the partial tree holds only the way to the command (one parser, by name and aliases)
        top = _subcommands(lazy).choices
        assert path[0] in top and len({id(p) for p in top.values()}) == 1, (path, list(top))


def test_a_group_without_a_verb_after_it_gets_all_its_verbs() -> None:
    full, lazy = build_parser(), build_parser(("container",))
    assert _shape(_sub_parser(lazy, ("container",))) == _shape(_sub_parser(full, ("container",)))
    assert list(_subcommands(build_parser(("container", "run"))).choices) == ["container"]
    group = _subcommands(_sub_parser(build_parser(("container", "run")), ("container",)))
    assert list(group.choices) == ["run"]


@pytest.mark.parametrize("argv", COMMAND_LINES, ids=" ".join)
def test_the_partial_tree_parses_like_the_full_tree(argv: list[str]) -> None:
    wanted = command_words(argv)
    assert wanted is not None, "the quick scan should understand this command line"
    partial = vars(build_parser(wanted).parse_args(argv))  # raises if it had to fall back
    assert partial == _parse_full(argv)
    assert vars(parse_command_line(argv)) == partial


@pytest.mark.parametrize("argv", [["--ho", "/s", "ps"], ["-DH", "/s", "ps"],
                                  ["--deb", "images"], ["--vers", "volume", "ls"]], ids=" ".join)
def test_spellings_the_quick_scan_leaves_alone_are_parsed_by_the_full_tree(argv: list[str]) -> None:
    assert command_words(argv) is None
    assert vars(parse_command_line(argv)) == _parse_full(argv)
    assert parse_command_line(argv).func


def test_berth_host_from_the_environment_is_the_same_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_HOST", "unix:///run/x.sock")
    assert vars(parse_command_line(["ps"])) == _parse_full(["ps"])
    assert parse_command_line(["ps"]).host == "unix:///run/x.sock"


@pytest.mark.parametrize("argv, words", [
    (["ps", "-a"], ("ps",)),
    (["container", "run", "--rm", "busybox", "true"], ("container", "run")),
    (["run", "busybox", "true", "-x"], ("run", "busybox", "true")),
    (["-H", "unix:///s", "-D", "image", "ls"], ("image", "ls")),
    (["--host=/s", "rmi", "x"], ("rmi", "x")),
    (["-H/s", "network", "-h"], ("network",)),
    (["--version"], ()), ([], ()), (["-H", "ps"], ()),
    (["--help"], None), (["-h", "ps"], None), (["--ho", "/s", "ps"], None), (["-DH", "/s", "ps"], None),
    (["--", "ps"], None), (["-", "ps"], None),
])
def test_command_words(argv: list[str], words: tuple | None) -> None:
    assert command_words(argv) == words


def _outcome(run: object, argv: list[str], capsys: pytest.CaptureFixture) -> tuple:
    try:
        code = run(argv)  # type: ignore[operator]
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _main_with_the_full_tree(argv: list[str]) -> int:
    """main's parse as it was before the partial tree: always the full tree."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 125
    raise AssertionError(f"{argv} parsed to a command")


@pytest.mark.parametrize("argv", FAILING_OR_HELP, ids=lambda argv: " ".join(argv) or "(none)")
def test_help_usage_errors_and_exit_codes_are_the_full_trees(argv: list[str],
                                                             capsys: pytest.CaptureFixture) -> None:
    expected = _outcome(_main_with_the_full_tree, argv, capsys)
    assert expected[0] in (0, 125)
    assert _outcome(cli_main.main, argv, capsys) == expected


def test_top_level_help_lists_every_command_even_with_a_verb_after_it() -> None:
    proc = subprocess.run([sys.executable, "-m", "berth.cli", "-h", "ps"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for verb in ("images", "run", "network", "volume", "build", "system"):
        assert f"\n    {verb} " in proc.stdout


def test_an_unknown_verb_lists_all_verbs_and_exits_125() -> None:
    proc = subprocess.run([sys.executable, "-m", "berth.cli", "nosuchverb"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 125
    first, hint = proc.stderr.splitlines()
    assert first.startswith("berth: argument COMMAND: invalid choice: 'nosuchverb' (choose from ")
    assert "'images'" in first and "'network'" in first and "'system'" in first
    assert hint == "See 'berth --help'."
