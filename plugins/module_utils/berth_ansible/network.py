"""berth.engine.network and network_info: options and logic.

A network's addressing, ``internal`` flag, labels and driver options are fixed at creation: when the
task asks for other values the network is replaced (removed and created again), which the engine
refuses while containers are connected to it. ``connected`` containers are connected (a running one
at once, a stopped one when it starts) and, unless ``appends``, the others are disconnected.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import engine
from .options import BadOption, Option, comparison_modes, differences


def _ipam(key: str) -> Any:
    return lambda doc: ((doc.get("IPAM") or {}).get("Config") or [{}])[0].get(key)


def _strings(value: Dict[str, Any]) -> Dict[str, str]:
    return {str(k): str(v) for k, v in value.items()}


OPTIONS = (
    Option("name", "str", "Name of the network.", required=True, aliases=("network_name",)),
    Option("state", "str", "V(present) creates the network, V(absent) removes it.",
           choices=("present", "absent"), default="present"),
    Option("driver", "str", "Network driver; only V(bridge) is available.", default="bridge",
           comparison="strict", read=lambda doc: doc.get("Driver")),
    Option("subnet", "str", "Subnet in CIDR notation; one of the default pools when not given.",
           comparison="strict", read=_ipam("Subnet")),
    Option("gateway", "str", "Gateway address (the bridge's); the subnet's first address by default.",
           comparison="strict", read=_ipam("Gateway")),
    Option("ip_range", "str", "Part of the subnet containers get addresses from.",
           comparison="strict", read=_ipam("IPRange")),
    Option("internal", "bool", "Keep the network away from the outside (no NAT, no forwarding).",
           comparison="strict", read=lambda doc: bool(doc.get("Internal"))),
    Option("labels", "dict", "Labels of the network.", comparison="strict",
           read=lambda doc: doc.get("Labels") or {}, to_engine=_strings),
    Option("driver_options", "dict", ("Bridge driver options, for example "
                                      "C(com.docker.network.bridge.name) or "
                                      "C(com.docker.network.driver.mtu); options the engine adds "
                                      "itself are not a difference."),
           comparison="allow_more_present", read=lambda doc: doc.get("Options") or {},
           to_engine=_strings),
    Option("connected", "list", ("Containers (names) connected to the network. Unless O(appends), "
                                 "other containers are disconnected."), elements="str",
           aliases=("containers",)),
    Option("appends", "bool", "Connect the O(connected) containers without disconnecting others.",
           default=False),
)


def run(module: Any) -> Dict[str, Any]:
    p = module.params
    manager = _manager()
    try:
        before = manager.inspect(p["name"])
    except engine.errors().NotFound:
        before = None
    diffs: Dict[str, Any] = {}
    after = before
    if p["state"] == "absent":
        changed = before is not None
        if changed and not module.check_mode:
            manager.remove(p["name"])
        after = None
    else:
        if before is not None:
            diffs = differences(OPTIONS, p, before, comparison_modes(OPTIONS, None))
        changed = before is None or bool(diffs)
        if changed and not module.check_mode:
            if before is not None:
                manager.remove(p["name"])
            after = manager.create(p["name"], subnet=p["subnet"], gateway=p["gateway"],
                                   ip_range=p["ip_range"], internal=bool(p["internal"]),
                                   labels=_strings(p["labels"] or {}),
                                   options=_strings(p["driver_options"] or {}), driver=p["driver"])
    if p["state"] == "present" and p["connected"] is not None:
        members = _connect(module, p["name"], p["connected"], p["appends"])
        if members is not None:
            changed = True
            diffs["connected"] = members
            if not module.check_mode:
                after = manager.inspect(p["name"])
    result: Dict[str, Any] = {"changed": changed, "network": after or {}}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {
            "before": dict({"exists": before is not None}, **{k: v[0] for k, v in diffs.items()}),
            "after": dict({"exists": p["state"] == "present"}, **{k: v[1] for k, v in diffs.items()})}
    return result


def _connect(module: Any, network: str, wanted: List[str],
             appends: bool) -> Optional[Tuple[List[str], List[str]]]:
    """Connect ``wanted`` containers (and disconnect the others unless ``appends``); the member
    names before and after, or None when nothing changes. In check mode the network may not
    exist yet: nobody is connected to it then."""
    ctr = engine.load("container")
    networking = engine.submodule("container", "networking")
    svc = ctr.ContainerService()
    by_name = {c.name: c for c in svc.records.all()}
    missing = sorted(set(wanted) - set(by_name))
    if missing:
        raise BadOption(f"connected: no such container: {missing[0]}")
    members = sorted(name for name, c in by_name.items()
                     if network in networking.endpoints_of(c))
    target = sorted(set(wanted) | (set(members) if appends else set()))
    if target == members:
        return None
    if not module.check_mode:
        for name in target:
            if name not in members:
                networking.connect_container(svc, name, network)
        for name in members:
            if name not in target:
                networking.disconnect_container(svc, name, network)
    return members, target


def _manager() -> Any:
    net = engine.load("network")
    store = engine.load("store").Store()
    return net.NetworkManager(store)


INFO_OPTIONS = (Option("name", "str", "Name or ID of the network.", required=True,
                       aliases=("network_name",)),)


def network_info(module: Any) -> Dict[str, Any]:
    try:
        found = _manager().inspect(module.params["name"])
    except engine.errors().NotFound:
        return {"changed": False, "exists": False, "network": {}}
    return {"changed": False, "exists": True, "network": found}
