"""``/networks/...``: thin handlers over ``berth.network.NetworkManager``."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidArgument
from .containers import docker_filters
from .routing import Request, Response, Router, json_response, no_content

LIST_FILTERS = ("name", "id", "driver", "label", "type")


def register(r: Router) -> None:
    r.add("GET", "/networks", list_networks)
    r.add("POST", "/networks/create", create)
    r.add("GET", "/networks/{name}", inspect)
    r.add("DELETE", "/networks/{name}", remove)


def _matches(net: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key not in LIST_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "name" and not any(v in net["Name"] for v in values):
            return False
        if key == "id" and not any(net["Id"].startswith(v) for v in values):
            return False
        if key == "driver" and net["Driver"] not in values:
            return False
        if key == "type":
            kind = "builtin" if net["Name"] in ("bridge", "host", "none") else "custom"
            if kind not in values:
                return False
        if key == "label":
            labels = net.get("Labels") or {}
            for v in values:
                k, sep, want = v.partition("=")
                if k not in labels or (sep and labels[k] != want):
                    return False
    return True


def list_networks(ctx: Any, req: Request) -> Response:
    manager = ctx.networks()
    manager.ensure_default()
    filters = docker_filters(req.json_arg("filters"))
    return json_response([n for n in manager.list() if _matches(n, filters)])


def inspect(ctx: Any, req: Request, name: str) -> Response:
    manager = ctx.networks()
    if name in ("bridge", "host", "none"):
        manager.ensure_default()
    return json_response(manager.inspect(name))


def create(ctx: Any, req: Request) -> Response:
    body = req.json_body()
    name = body.get("Name") or ""
    ipam = ((body.get("IPAM") or {}).get("Config") or [{}])
    if len(ipam) > 1:
        raise InvalidArgument("only one IPAM config (one IPv4 subnet) is supported")
    first = ipam[0] if ipam else {}
    if body.get("EnableIPv6"):
        raise InvalidArgument("IPv6 networks are not supported")
    net = ctx.networks().create(name, subnet=first.get("Subnet") or None,
                                gateway=first.get("Gateway") or None,
                                ip_range=first.get("IPRange") or None,
                                internal=bool(body.get("Internal")),
                                labels=body.get("Labels") or {}, options=body.get("Options") or {},
                                driver=body.get("Driver") or "bridge")
    ctx.bus.publish("network", "create", net["Id"], {"name": net["Name"], "type": net["Driver"]})
    return json_response({"Id": net["Id"], "Warning": ""}, 201)


def remove(ctx: Any, req: Request, name: str) -> Response:
    manager = ctx.networks()
    net = manager.inspect(name)
    manager.remove(net["Name"])
    ctx.bus.publish("network", "destroy", net["Id"], {"name": net["Name"], "type": net["Driver"]})
    return no_content()
