"""Without pyroute2 berth still imports (network package, daemon API); a netlink operation then
fails with one line naming the library. The library is made unimportable in a child interpreter
(``sys.modules[name] = None`` makes ``import name`` raise ImportError), so this process keeps it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN_UTILS = str(Path(__file__).resolve().parents[3] / "plugins" / "module_utils")


def test_network_and_api_import_without_pyroute2() -> None:
    code = f"import sys\nsys.modules['pyroute2'] = None\nsys.path.insert(0, {PLUGIN_UTILS!r})\n"
    code += textwrap.dedent("""
        import berth.api.server, berth.network  # noqa: F401
        from berth.errors import MissingDependency
        from berth.network import netlink
        try:
            netlink.links()
        except MissingDependency as e:
            print(e)
            print(type(e.__cause__).__name__)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "the Python library 'pyroute2' is required for container networking: pip install pyroute2",
        "ModuleNotFoundError",
    ]
