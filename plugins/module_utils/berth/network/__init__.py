"""berth.network: bridge networks for containers.

    manager = NetworkManager(store)
    manager.ensure_default()                       # predefined bridge / host / none
    manager.create("web", subnet="10.1.0.0/24")    # docker network create
    att = manager.attach(cid, "bridge", ports=["8080:80"], name="app")
    att.netns_path, att.ip, att.settings(), att.docker_ports()
    manager.release_container(cid)                 # everything of the container gone
    manager.check(repair=True)                     # kernel <-> store reconciliation

Modules: ``ipam`` (subnets, addresses), ``portmap`` (-p parsing, free ports), ``netlink`` (bridges,
veth, netns files via rtnetlink: ``rtnl``), ``firewall`` (iptables chains and rules), ``verified``
(which networks' rules were checked since boot), ``hosts`` (/etc/hosts, /etc/resolv.conf),
``manager`` (the service), ``reconcile`` (check).

The names below are imported on first use (PEP 562), like ``berth.container``'s: a container
start needs the manager, not ``reconcile``; ``etcfiles`` needs only ``hosts``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import lazy

if TYPE_CHECKING:  # at run time these come from __getattr__, on first use
    from .config import NetworkConfig
    from .hosts import hosts_file, parse_add_host, resolv_conf, write_in_place
    from .manager import DEFAULT_NETWORK, PREDEFINED, NetworkManager
    from .portmap import PortMapping, docker_ports, from_exposed, parse_all, parse_publish
    from .reconcile import CheckReport
    from .views import Attachment

__all__ = ["NetworkManager", "NetworkConfig", "Attachment", "CheckReport", "PortMapping",
           "DEFAULT_NETWORK", "PREDEFINED", "parse_publish", "parse_all", "from_exposed",
           "docker_ports", "hosts_file", "resolv_conf", "parse_add_host", "write_in_place"]
_HOSTS_NAMES = frozenset({"hosts_file", "parse_add_host", "resolv_conf", "write_in_place"})
_MANAGER_NAMES = frozenset({"DEFAULT_NETWORK", "PREDEFINED", "NetworkManager"})
_PORTMAP_NAMES = frozenset({"PortMapping", "docker_ports", "from_exposed", "parse_all",
                            "parse_publish"})


def __getattr__(name: str) -> Any:
    """A public name of the package, imported on first use and then kept in the package."""
    if name in _HOSTS_NAMES:
        from . import hosts as module
    elif name in _MANAGER_NAMES:
        from . import manager as module
    elif name in _PORTMAP_NAMES:
        from . import portmap as module
    elif name == "NetworkConfig":
        from . import config as module
    elif name == "CheckReport":
        from . import reconcile as module
    elif name == "Attachment":
        from . import views as module
    else:
        raise lazy.no_such_name(__name__, name)
    return lazy.keep(globals(), module, name)
