"""Without the requests library berth still imports (registry, daemon API); registry access then
fails with one line naming the library. The library is made unimportable in a child interpreter
(``sys.modules[name] = None`` makes ``import name`` raise ImportError), so this process keeps it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN_UTILS = str(Path(__file__).resolve().parents[3] / "plugins" / "module_utils")


def run_without(library: str, code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys\nsys.modules[{library!r}] = None\nsys.path.insert(0, {PLUGIN_UTILS!r})\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_registry_and_api_import_without_requests() -> None:
    proc = run_without("requests", """
        import berth.api.server, berth.registry  # noqa: F401
        from berth.errors import MissingDependency
        from berth.registry import RegistryClient
        try:
            RegistryClient("127.0.0.1:5000")
        except MissingDependency as e:
            print(e)
            print(type(e.__cause__).__name__)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "the Python library 'requests' is required for registry access: pip install requests",
        "ModuleNotFoundError",
    ]
