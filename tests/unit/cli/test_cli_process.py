"""The CLI as a process: output helpers, ``python -m berth.cli`` only runs as a program, and the
container, volume and CLI packages import without pyroute2 and requests (each is imported only by
the code that needs it, so ``berth ps`` works and the Ansible import test passes)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from berth.cli import output

PLUGIN_UTILS = str(Path(__file__).resolve().parents[3] / "plugins" / "module_utils")


def _python(code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys\nsys.path.insert(0, {PLUGIN_UTILS!r})\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_output_helpers_write_lines_and_prompts(capsys: pytest.CaptureFixture) -> None:
    output.line("a")
    output.line(7, flush=True)
    output.line()
    output.lines(["x", "y"])
    output.prompt("sure? [y/N] ")
    output.error_line("Error: nope")
    captured = capsys.readouterr()
    assert captured.out == "a\n7\n\nx\ny\nsure? [y/N] "
    assert captured.err == "Error: nope\n"


def test_importing_the_cli_main_module_runs_nothing() -> None:
    proc = _python("import berth.cli.__main__\nprint('imported')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "imported\n"


def test_python_m_berth_cli_runs_the_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "berth.cli", "--version"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("berth version ")


def test_usage_error_exits_125_with_one_line_and_a_hint() -> None:
    proc = subprocess.run([sys.executable, "-m", "berth.cli", "--no-such-flag"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 125
    assert proc.stderr.splitlines() == ["berth: unrecognized arguments: --no-such-flag",
                                        "See 'berth --help'."]


def test_the_console_entry_writes_everything_and_exits_with_mains_code() -> None:
    """``console`` skips the interpreter's teardown: what main wrote must still all arrive, and
    its exit code must be the process's."""
    proc = _python("""
        from berth.cli import main as cli
        cli.main = lambda: (sys.stdout.write("x" * 300000 + "\\n"), sys.stderr.write("e\\n"), 3)[2]
        cli.console()
        print("not reached")
    """)
    assert proc.returncode == 3
    assert proc.stdout == "x" * 300000 + "\n" and proc.stderr == "e\n"


def test_the_console_entry_ignores_a_reader_that_went_away() -> None:
    """``berth ps | head -1``: the rest of the output, still buffered when main returns, cannot
    be written; the command still ends quietly with main's code."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {PLUGIN_UTILS!r})
        from berth.cli import main as cli
        def main():
            print("first", flush=True)
            time.sleep(0.5)  # the reader has taken its line and exited by now
            print("rest, left in the buffer")
            return 0
        cli.main = main
        cli.console()
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a user has it
    proc = subprocess.run([sys.executable, "-c", f"import subprocess, sys; p = subprocess.Popen("
                           f"[sys.executable, '-c', {code!r}], stdout=subprocess.PIPE, "
                           f"stderr=subprocess.PIPE); print(p.stdout.readline().decode(), "
                           f"end=''); p.stdout.close(); err = p.stderr.read().decode(); "
                           f"print(p.wait(), repr(err))"],
                          capture_output=True, text=True, timeout=120, check=False, env=env)
    assert proc.stdout == "first\n0 ''\n", proc.stderr


def test_packages_import_without_pyroute2_and_requests() -> None:
    proc = _python("""
        sys.modules['pyroute2'] = None  # makes `import pyroute2` raise ImportError
        sys.modules['requests'] = None
        import berth.cli.main, berth.container, berth.container.tools, berth.volume  # noqa: F401
        from berth.container import archive, execute, logs, restore  # noqa: F401
        parser = berth.cli.main.build_parser()
        print(sorted(m for m, mod in sys.modules.items()
                     if mod is not None and m.split('.')[0] in ('pyroute2', 'requests')))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
