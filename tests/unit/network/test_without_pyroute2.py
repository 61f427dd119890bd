"""berth's networking speaks rtnetlink itself (``berth.network.rtnl``): with pyroute2 unimportable
the network package, the daemon API and a real netlink dump still work, and pyroute2 is never
imported. The library is made unimportable in a child interpreter, so this process keeps it."""
from __future__ import annotations

from testlib import python_output


def test_network_works_without_pyroute2() -> None:
    out = python_output("""
        import berth.api.server, berth.network  # noqa: F401
        from berth.network import netlink
        print(netlink.find_link("lo").name)
        print("lo" in {link.name for link in netlink.links()})
        print(sorted(m for m in sys.modules if m.startswith("pyroute2") and sys.modules[m]))
    """, unimportable=["pyroute2"])
    assert out.splitlines() == ["lo", "True", "[]"]
