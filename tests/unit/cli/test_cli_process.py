"""The CLI as a process: output helpers, ``python -m berth.cli`` only runs as a program, and the
container, volume and CLI packages import without pyroute2 and requests (each is imported only by
the code that needs it, so ``berth ps`` works and the Ansible import test passes)."""
from __future__ import annotations

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
