"""berth's networking speaks rtnetlink itself (``berth.network.rtnl``): with pyroute2 unimportable
the network package, the daemon API and a real netlink dump still work, and pyroute2 is never
imported. The library is made unimportable in a child interpreter (``sys.modules[name] = None``
makes ``import name`` raise ImportError), so this process keeps it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN_UTILS = str(Path(__file__).resolve().parents[3] / "plugins" / "module_utils")


def test_network_works_without_pyroute2() -> None:
    code = f"import sys\nsys.modules['pyroute2'] = None\nsys.path.insert(0, {PLUGIN_UTILS!r})\n"
    code += textwrap.dedent("""
        import berth.api.server, berth.network  # noqa: F401
        from berth.network import netlink
        print(netlink.find_link("lo").name)
        print("lo" in {link.name for link in netlink.links()})
        print(sorted(m for m in sys.modules if m.startswith("pyroute2") and sys.modules[m]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["lo", "True", "[]"]
