"""A container's network, the one place that calls ``berth.network``: ``host``, ``none`` (a namespace
with only ``lo``), ``container:<id>`` (another container's namespace) or bridge networks (the
default ``bridge`` and user networks, with published ports).

``berth.network`` (firewall, IPAM, rtnetlink) is imported only by the functions that need it, never by
``berth ps`` or ``berth inspect``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from ..errors import Conflict, InvalidArgument, NotFound
from ..store import Store
from ..values import Value, field

DEFAULT = "bridge"
SPECIAL = ("host", "none")
JOIN = "container:"


class Attachment(Value):
    """What a container got from its network setup: the namespace, its address, Docker's
    NetworkSettings."""
    mode: str                               # "none" | "host" | "container:<id>" | a network name
    netns_path: Optional[str] = None        # None: the host's network namespace
    ip: Optional[str] = None                # the address on the first network
    settings: dict[str, Any] = field(default_factory=dict)  # NetworkSettings.Networks
    ports: dict[str, Any] = field(default_factory=dict)     # NetworkSettings.Ports
    host_network: bool = False

    @property
    def host(self) -> bool:
        return self.host_network


def _manager(store: Store) -> Any:
    from ..network import NetworkManager

    return NetworkManager(store)


def effective_mode(requested: str) -> str:
    return DEFAULT if requested in ("", "default") else requested


def uses_bridges(mode: str) -> bool:
    """Is ``mode`` a bridge network (the default one or a user network)?"""
    return mode not in SPECIAL and not mode.startswith(JOIN)


def endpoint_config(mode: str, ip: str = "", aliases: Sequence[str] = ()) -> dict[str, Any]:
    """The networks a new container asks for: ``{network: {"ip": ..., "aliases": [...]}}``."""
    if not uses_bridges(mode):
        return {}
    return {mode: {"ip": ip, "aliases": list(aliases)}}


def network_name(store: Store, name: str) -> str:
    """The canonical name of network ``name`` (a name, an ID or an ID prefix); NotFound if none."""
    if name in ("bridge", "host", "none"):
        return name  # predefined: ``attach`` creates them when first needed
    return str(_manager(store).inspect(name)["Name"])  # by name, ID or unique ID prefix


# -- published ports --------------------------------------------------------------------------

def exposed_keys(config: Mapping[str, Any]) -> list[str]:
    return sorted((config.get("ExposedPorts") or {}).keys())


def port_requests(publish: Sequence[str], publish_all: bool, config: Mapping[str, Any]) -> list:
    """``-p`` values plus, with ``-P``, every EXPOSEd port that ``-p`` does not already map."""
    from ..network import from_exposed, parse_all

    mappings = parse_all(publish)
    if publish_all:
        taken = {m.key for m in mappings}
        mappings += [m for m in from_exposed(exposed_keys(config)) if m.key not in taken]
    return mappings


def check_ports(publish: Sequence[str], publish_all: bool, config: Mapping[str, Any]) -> None:
    """Refuse a host port that is taken now (so ``run`` leaves no container behind); the ports are
    allocated for real, and checked again, when the container starts."""
    from ..network import firewall, portmap

    mappings = port_requests(publish, publish_all, config)
    if any(m.host_port or m.host_port_range != (0, 0) for m in mappings):
        portmap.resolve([m for m in mappings if m.host_port or m.host_port_range != (0, 0)],
                        firewall.published_ports())


def check_create(store: Store, mode: str, publish: Sequence[str], publish_all: bool,
                 config: Mapping[str, Any]) -> str:
    """Validate the network of a container being created; returns the canonical network name
    for bridge modes (``mode`` otherwise)."""
    if not uses_bridges(mode):
        return mode
    name = network_name(store, mode)
    if publish or publish_all:
        check_ports(publish, publish_all, config)
    return name


# -- attach / release -------------------------------------------------------------------------

def attach(store: Store, cid: str, name: str, mode: str, endpoints: Mapping[str, Any],
           ports: Sequence[Any] = (), exposed: Iterable[str] = (), mac: str = "") -> Attachment:
    """Give container ``cid`` its network (``host``, ``none`` or bridge networks); ports are
    published through the first network, which also gets ``mac`` (``--mac-address``).
    Everything is undone on failure."""
    if mode == "host":
        return Attachment("host", host_network=True)
    if mode.startswith(JOIN):
        raise InvalidArgument("a joined network namespace is set up with networking.join")
    manager = _manager(store)
    if mode == "none":
        att = manager.attach(cid, "none", name=name)
        return Attachment("none", att.netns_path)
    if not endpoints:
        raise Conflict(f"container {name} is connected to no network")
    from ..network import docker_ports

    result = Attachment(mode)
    try:
        for i, (network, cfg) in enumerate(endpoints.items()):
            att = manager.attach(cid, network, ip=cfg.get("ip") or None,
                                 aliases=cfg.get("aliases") or (), ports=ports if i == 0 else (),
                                 name=name, mac=mac if i == 0 else "")
            result.netns_path = att.netns_path
            result.settings[att.network] = att.settings()
            if i == 0:
                result.ip = att.ip
                result.ports = docker_ports(att.ports, exposed)
    except BaseException:
        with contextlib.suppress(Exception):
            manager.release_container(cid)
        raise
    return result


def join(target_id: str, target_state: Mapping[str, Any]) -> Attachment:
    """``--network container:<target>``: the namespace of a running container."""
    if target_state.get("network") == "host":
        return Attachment(JOIN + target_id, host_network=True)
    netns = target_state.get("netns")
    if not netns:
        raise Conflict(f"cannot join the network of container {target_id[:12]}: it has no "
                       f"network namespace")
    return Attachment(JOIN + target_id, netns)


def release(store: Store, cid: str, mode: str) -> None:
    """Undo ``attach`` (idempotent: also called for stale state after a crash or reboot)."""
    if mode == "host" or mode.startswith(JOIN):
        return
    _manager(store).release_container(cid)


def connect(store: Store, cid: str, name: str, network: str, ip: str,
            aliases: Sequence[str]) -> dict[str, Any]:
    """``network connect`` of a running container: its settings entry on ``network``."""
    att = _manager(store).attach(cid, network, ip=ip or None, aliases=aliases, name=name)
    return att.settings()


def disconnect(store: Store, cid: str, network: str) -> None:
    _manager(store).detach(cid, network)


# -- names and peers --------------------------------------------------------------------------

def addresses(store: Store, cid: str) -> list[str]:
    """The container's own IPv4 addresses, first network first."""
    return [a.ip for a in _manager(store).attachments(cid) if a.ip]


def peers(store: Store, cid: str) -> list[tuple[str, list[str]]]:
    """(ip, names) of the containers sharing a user network with ``cid``."""
    return _manager(store).peers(cid)


def peer_ids(store: Store, cid: str) -> set[str]:
    """IDs of the containers whose /etc/hosts names ``cid`` (they share a user network)."""
    from ..network import PREDEFINED

    manager = _manager(store)
    out: set[str] = set()
    for att in manager.attachments(cid):
        if att.network in PREDEFINED:
            continue
        with contextlib.suppress(NotFound):
            out.update(manager.inspect(att.network_id)["Containers"].keys())
    out.discard(cid)
    return out


def ip_on(store: Store, target: str, wanted_networks: Iterable[str]) -> Optional[str]:
    """The address of container ``target`` on one of ``wanted_networks``, else its first one."""
    atts = [a for a in _manager(store).attachments(target) if a.ip]
    wanted = set(wanted_networks)
    for att in atts:
        if att.network in wanted:
            return att.ip
    return atts[0].ip if atts else None


def attached_ids(store: Store) -> set[str]:
    """Every container that holds network state (an endpoint on some network)."""
    out: set[str] = set()
    for net in _manager(store).list():
        out.update(net["Containers"].keys())
    return out


def check(store: Store, repair: bool) -> dict[str, Any]:
    """The network package's reconciliation of kernel and store."""
    return _manager(store).check(repair=repair).to_dict()


# -- the container service's side: set up at start, tear down at release ------------------------
#
# ``svc`` is the ContainerService (not imported: it imports this module).

def endpoints_of(c: Any) -> dict[str, Any]:
    """The networks container ``c`` wants, in order (``network connect`` adds to them)."""
    if "endpoints" in c.state:
        return dict(c.state["endpoints"] or {})
    mode = c.state.get("network") or effective_mode(c.spec.network)
    return endpoint_config(mode, c.spec.ip, c.spec.network_aliases)


def setup(svc: Any, c: Any) -> Attachment:
    """Attach ``c`` (the caller holds its lock and undoes with ``teardown``), write its
    hostname/hosts/resolv.conf and tell its peers."""
    mode = c.state.get("network") or effective_mode(c.spec.network)
    if mode.startswith(JOIN):
        target = svc.records.get(mode[len(JOIN):])
        if target is None:
            raise NotFound(f"No such container: {c.spec.network[len(JOIN):]}")
        target = svc._reconcile(target)
        if target.status not in ("running", "paused"):
            raise Conflict(f"cannot join network of a non running container: {target.name}")
        return join(target.id, target.state)
    ports: list = []
    if uses_bridges(mode):
        ports = port_requests(c.spec.publish, c.spec.publish_all, c.config)
    att = attach(svc.store, c.id, c.name, mode, endpoints_of(c), ports, exposed_keys(c.config),
                 c.spec.mac_address)
    try:
        c.state["link_hosts"] = _link_hosts(svc, c, att)
        spec = c.spec
        resolv = resolv_content_for(spec, att.host)
        from .etcfiles import write_start

        with svc.store.lock("hosts"):
            write_start(svc.paths(c.id), c.config["Hostname"], _hosts_for(svc, c, att.host),
                        resolv)
        refresh_hosts(svc, peer_ids(svc.store, c.id))
    except BaseException:
        with contextlib.suppress(Exception):
            release(svc.store, c.id, mode)
        raise
    return att


def resolv_content_for(spec: Any, host_network: bool) -> str:
    from .etcfiles import resolv_content

    return resolv_content(spec.dns, spec.dns_search, spec.dns_options, host_network)


def _link_hosts(svc: Any, c: Any, att: Attachment) -> list[list[Any]]:
    """``--link name[:alias]``: (target ip, [alias, short id, name]) for /etc/hosts."""
    out: list[list[Any]] = []
    for link in c.spec.links:
        target_ref, _sep, alias = link.partition(":")
        try:
            target = svc.resolve(target_ref)
        except NotFound:
            raise NotFound(f"could not get container for {target_ref}") from None
        alias = alias or target.name
        if target.status not in ("running", "paused"):
            raise Conflict(f"Cannot link to a non running container: /{target.name} AS "
                           f"/{c.name}/{alias}")
        ip = ip_on(svc.store, target.id, att.settings.keys())
        if not ip:
            raise Conflict(f"Cannot link to /{target.name}: it has no address on a bridge network")
        names = [alias, target.id[:12], target.name]
        out.append([ip, [n for i, n in enumerate(names) if n not in names[:i]]])
    return out


def _hosts_for(svc: Any, c: Any, host_network: bool) -> str:
    from .etcfiles import hosts_content

    if host_network:
        return hosts_content(c.config["Hostname"], extra_hosts=c.spec.extra_hosts,
                             host_network=True)
    aliases = [a for cfg in endpoints_of(c).values() for a in cfg.get("aliases") or []]
    links = [(str(ip), list(names)) for ip, names in c.state.get("link_hosts") or []]
    return hosts_content(c.config["Hostname"], addresses(svc.store, c.id), [c.name, *aliases],
                         c.spec.extra_hosts, peers(svc.store, c.id) + links)


def refresh_hosts(svc: Any, cids: Iterable[str]) -> None:
    """Rewrite the /etc/hosts of running containers ``cids`` from the store (in place)."""
    from .etcfiles import write

    with svc.store.lock("hosts"):
        for cid in sorted(set(cids)):
            c = svc.records.get(cid)
            if c is None or c.state.get("released"):
                continue  # a stopped container gets a fresh file when it starts
            mode = c.state.get("network") or ""
            if not uses_bridges(mode):
                continue
            write(svc.paths(cid).hosts, _hosts_for(svc, c, False))


def started_state(att: Attachment) -> dict[str, Any]:
    return {"network": att.mode, "ip": att.ip, "netns": att.netns_path,
            "networks": att.settings, "ports": att.ports}


def teardown(svc: Any, c: Any) -> None:
    """Release ``c``'s network (the caller holds its lock); peers forget its name."""
    mode = c.state.get("network") or "none"
    neighbours: set[str] = set()
    if uses_bridges(mode):
        neighbours = peer_ids(svc.store, c.id)
    release(svc.store, c.id, mode)
    c.state.update(ip=None, netns=None, ports={}, networks={})
    refresh_hosts(svc, neighbours)


def connect_container(svc: Any, ref: str, network: str, aliases: Sequence[str] = (),
                      ip: str = "") -> None:
    """``berth network connect``: a running container gets the interface now, a stopped one
    when it starts."""
    c = svc.records.resolve(ref)
    with svc._locked(c.id):
        c = svc._reconcile(svc.records.get(c.id) or c)
        mode = c.state.get("network") or effective_mode(c.spec.network)
        if not uses_bridges(mode):
            raise Conflict(f"container {c.name} shares the {mode} network namespace and cannot "
                           f"be connected to any other network")
        name = network_name(svc.store, network)
        if name in SPECIAL:
            raise Conflict(f"container {c.name} cannot be connected to the {name} network and "
                           f"another one at the same time")
        if name == DEFAULT and (ip or aliases):
            raise InvalidArgument("user specified IP address and network-scoped aliases are "
                                  "supported on user defined networks only")
        endpoints = endpoints_of(c)
        if name in endpoints:
            raise Conflict(f"endpoint with name {c.name} already exists in network {name}")
        live = c.running and bool(c.state.get("netns"))
        if live:
            settings = connect(svc.store, c.id, c.name, name, ip, aliases)
            c.state["networks"] = dict(c.state.get("networks") or {}, **{name: settings})
        endpoints[name] = {"ip": ip, "aliases": list(aliases)}
        c.state["endpoints"] = endpoints
        svc.records.save_state(c.id, c.state)
    if live:
        refresh_hosts(svc, {c.id} | peer_ids(svc.store, c.id))


def disconnect_container(svc: Any, ref: str, network: str) -> None:
    """``berth network disconnect``; a container keeps at least one network."""
    c = svc.records.resolve(ref)
    with svc._locked(c.id):
        c = svc._reconcile(svc.records.get(c.id) or c)
        mode = c.state.get("network") or effective_mode(c.spec.network)
        name = network_name(svc.store, network)
        endpoints = endpoints_of(c)
        if name not in endpoints:
            if name == mode or (name in SPECIAL and mode in SPECIAL):
                raise Conflict(f"container {c.name} cannot be disconnected from the {name} "
                               f"network")
            raise Conflict(f"container {c.name} is not connected to network {name}")
        if len(endpoints) == 1:
            raise Conflict(f"container {c.name} is connected only to network {name}: connect it "
                           f"to another network first")
        live = c.running and bool(c.state.get("netns"))
        neighbours = peer_ids(svc.store, c.id) if live else set()
        if live:
            disconnect(svc.store, c.id, name)
            networks = dict(c.state.get("networks") or {})
            networks.pop(name, None)
            c.state["networks"] = networks
            if name == next(iter(endpoints)):
                c.state["ports"] = {}
        del endpoints[name]
        c.state["endpoints"] = endpoints
        svc.records.save_state(c.id, c.state)
    if live:
        refresh_hosts(svc, neighbours | {c.id})


# -- berth system check ---------------------------------------------------------------------------

ORPHAN_GRACE = 60.0  # a container dir this young may belong to a ``create`` still under way


def system_check(svc: Any, repair: bool = False) -> dict[str, Any]:
    """Leftovers of crashed commands: runs whose resources were not given back, network state
    of containers that do not run, container dirs without a container; then the network
    package's kernel <-> store check. ``repair`` gives everything back."""
    problems: list[str] = []
    running: set[str] = set()
    busy: set[str] = set()
    known = {c.id for c in svc.records.all()}
    for cid in sorted(known):
        with svc._locked(cid, blocking=False) as got:
            if not got:
                busy.add(cid)  # someone is starting or stopping it right now
                continue
            c = svc.records.get(cid)
            if c is None:
                continue
            c = svc._reconcile(c)
            if c.running:
                running.add(cid)
                if c.state.get("released"):
                    problems.append(f"container {cid[:12]} runs but is recorded as stopped")
                    if repair:
                        c.state["released"] = False
                        svc.records.save_state(cid, c.state)
            elif not c.state.get("released"):
                problems.append(f"container {cid[:12]} ({c.status}) holds the resources of a "
                                f"run that ended")
                if repair:
                    svc._release(c, force=True)
    for cid in sorted(attached_ids(svc.store) - running - busy):
        owner = f"container {cid[:12]}" if cid in known else f"unknown container {cid[:12]}"
        problems.append(f"network state of {owner}, which is not running")
        if repair:
            release(svc.store, cid, DEFAULT)
    problems += _orphan_dirs(svc, known, repair)
    network = check(svc.store, repair)
    return {"containers": problems, "network": network,
            "clean": not problems and bool(network["clean"]), "repaired": repair}


def _orphan_dirs(svc: Any, known: set[str], repair: bool) -> list[str]:
    import os
    import shutil
    import time

    from .. import runtime
    from .layout import is_mounted

    base = os.path.join(svc.store.root, "containers")
    out = []
    for cid in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        path = os.path.join(base, cid)
        if cid in known or not os.path.isdir(path):
            continue
        with contextlib.suppress(OSError):
            if time.time() - os.stat(path).st_mtime < ORPHAN_GRACE:
                continue
        out.append(f"container directory {path} without a container")
        if repair:
            paths = svc.paths(cid)
            if is_mounted(paths.rootfs):
                runtime.unmount_rootfs(paths.rootfs)
            shutil.rmtree(path, ignore_errors=True)
            holder = f"container:{cid}"
            for row in svc.store.db.query("SELECT image_id FROM image_users WHERE holder = ?",
                                          (holder,)):
                svc.images.remove_user(row["image_id"], holder)
    return out


def prepare_create(svc: Any, spec: Any, config: dict[str, Any]) -> dict[str, Any]:
    """At create: check the network and the host ports (nothing exists yet, so a refusal
    leaves nothing), add ``-p``/``--expose`` ports to ``ExposedPorts``; the state entries."""
    mode = effective_mode(spec.network)
    if mode.startswith(JOIN):
        target = svc.resolve(mode[len(JOIN):])
        config["Hostname"] = target.config.get("Hostname") or config["Hostname"]
        return {"network": JOIN + target.id, "endpoints": {}}
    exposed = dict(config.get("ExposedPorts") or {})
    if spec.publish or spec.expose:
        from ..network import parse_all

        for m in parse_all(spec.publish):
            exposed.setdefault(m.key, {})
        for item in spec.expose:
            port, _sep, proto = item.partition("/")
            low, _sep, high = port.partition("-")
            for p in range(int(low), int(high or low) + 1):
                exposed.setdefault(f"{p}/{proto or 'tcp'}", {})
    config["ExposedPorts"] = exposed or None
    if uses_bridges(mode):
        mode = check_create(svc.store, mode, spec.publish, spec.publish_all, config)
    return {"network": mode, "endpoints": endpoint_config(mode, spec.ip, spec.network_aliases)}
