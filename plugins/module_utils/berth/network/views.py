"""What callers get back: the ``Attachment`` of a container to a network and Docker-shaped dicts
(``docker network inspect`` and ``NetworkSettings.Networks`` entries)."""
from __future__ import annotations

from typing import Any, Optional

from ..values import Value, field
from .portmap import PortMapping, docker_ports
from .records import Endpoint, Network


class Attachment(Value):
    """A container on one network. ``netns_path`` is None for the host network."""
    container_id: str
    network: str
    network_id: str
    netns_path: Optional[str]
    ifname: Optional[str] = None
    ip: Optional[str] = None
    prefixlen: int = 0
    gateway: Optional[str] = None
    mac: Optional[str] = None
    veth: Optional[str] = None
    endpoint_id: str = ""
    aliases: list[str] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)

    @property
    def host(self) -> bool:
        return self.netns_path is None

    def settings(self) -> dict[str, Any]:
        """One ``NetworkSettings.Networks`` entry."""
        return {
            "IPAMConfig": None, "Links": None, "Aliases": list(self.aliases) or None,
            "NetworkID": self.network_id, "EndpointID": self.endpoint_id,
            "Gateway": self.gateway or "", "IPAddress": self.ip or "",
            "IPPrefixLen": self.prefixlen, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "MacAddress": self.mac or "", "DriverOpts": None,
        }

    def docker_ports(self) -> dict[str, Any]:
        """``NetworkSettings.Ports`` for the ports published through this attachment."""
        return docker_ports(self.ports)


def attachment_of(net: Network, ep: Endpoint, netns: Optional[str]) -> Attachment:
    prefix = net.network.prefixlen if net.subnet and ep.ip else 0
    gateway = net.gateway if ep.ip and not net.internal else None
    return Attachment(ep.container_id, net.name, net.id, netns, ep.ifname, ep.ip, prefix, gateway,
                      ep.mac, ep.veth, ep.endpoint_id, list(ep.aliases),
                      [PortMapping.from_dict(p) for p in ep.ports])


def network_dict(net: Network, endpoints: list[Endpoint]) -> dict[str, Any]:
    """``docker network inspect`` for one network."""
    config: list[dict[str, str]] = []
    if net.subnet:
        entry = {"Subnet": net.subnet, "Gateway": net.gateway or ""}
        if net.ip_range:
            entry["IPRange"] = net.ip_range
        config.append(entry)
    options = dict(net.options)
    if net.bridge:
        options.setdefault("com.docker.network.bridge.name", net.bridge)
    containers = {}
    for ep in endpoints:
        containers[ep.container_id] = {
            "Name": ep.name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac or "",
            "IPv4Address": f"{ep.ip}/{net.network.prefixlen}" if ep.ip and net.subnet else "",
            "IPv6Address": "",
        }
    return {
        "Name": net.name, "Id": net.id, "Created": net.created, "Scope": "local",
        "Driver": net.driver, "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": net.internal, "Attachable": False, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": containers, "Options": options, "Labels": dict(net.labels),
    }
