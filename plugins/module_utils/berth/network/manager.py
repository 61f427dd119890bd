"""NetworkManager: networks (create/remove/list/inspect) and containers on them (attach/detach/
release), persisted in the store and realised in the kernel with an undo for every step.

Kernel state is derived from the store: a bridge and its rules can be recreated from a network row
(after a reboot ``attach`` does it on the way), and ``check()`` reconciles the two.

iptables is read and written only where needed: a network's rules are verified once per boot
(``verified``), a container without published ports has no rules (its endpoint rows say so:
``ports`` is written before its rules and removed after them), and rules are deleted by their
exact text without a dump.
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from ..errors import BerthError, Conflict, InvalidArgument, NotFound
from ..store import Store
from . import firewall, ipam, netlink, portmap, records
from .config import NetworkConfig, check_ifname
from .portmap import PortMapping
from .records import Endpoint, Network
from .verified import VerifiedNetworks
from .views import Attachment, attachment_of, network_dict

if TYPE_CHECKING:
    from .reconcile import CheckReport

DEFAULT_NETWORK = "bridge"
PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _new_id() -> str:
    return os.urandom(32).hex()


def port_rules_of(ep: Endpoint) -> list[firewall.Rule]:
    """The DNAT rules of an endpoint, as ``attach`` wrote them (none without published ports)."""
    return firewall.port_rules(ep.ip or "", [PortMapping.from_dict(p) for p in ep.ports])


def network_rules_of(net: Network) -> list[firewall.Rule]:
    if net.driver != "bridge" or not (net.bridge and net.subnet):
        return []
    return firewall.network_rules(net.bridge, net.subnet, net.internal)


def subnet_spec(net: Network) -> ipam.SubnetSpec:
    if not (net.subnet and net.gateway):
        raise BerthError(f"network {net.name} has no IPv4 subnet and gateway")
    return ipam.SubnetSpec(net.network, ipaddress.IPv4Address(net.gateway),
                           ipaddress.IPv4Network(net.ip_range) if net.ip_range else None)


class NetworkManager:
    def __init__(self, store: Store, config: Optional[NetworkConfig] = None) -> None:
        self.store = store
        self.db = store.db
        self.config = config or NetworkConfig.load()
        self.netns_dir = os.path.join(store.run, "netns")
        self.verified = VerifiedNetworks(store.run)
        records.open_schema(self.db)

    # ---- helpers ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with self.store.lock("network"):
            yield

    def netns_path(self, container_id: str) -> str:
        """Where a container's network namespace file lives (``--network container:<id>``)."""
        return os.path.join(self.netns_dir, container_id)

    def _get(self, name: str) -> Network:
        net = records.get_network(self.db, name)
        if net is None:
            raise NotFound(f"network {name} not found")
        return net

    def _used_ranges(self) -> list[ipam.UsedRange]:
        networks = records.all_networks(self.db)
        own_bridges = {n.bridge for n in networks if n.bridge}
        used = [ipam.UsedRange(n.network, f"network {n.name}") for n in networks if n.subnet]
        used += [ipam.UsedRange(net, f"route on {dev or 'the host'}")
                 for net, dev in netlink.ipv4_routes() if dev not in own_bridges]
        return used

    def _realize(self, net: Network, verify: bool = False) -> None:
        """Bridge, sysctls and firewall rules of a bridge network (idempotent). The rules are read
        back from iptables (and repaired) only with ``verify`` or when they were not verified on
        this boot for this bridge: that dump would otherwise cost every container start."""
        if net.driver != "bridge":
            return
        if not (net.bridge and net.subnet and net.gateway):
            raise BerthError(f"bridge network {net.name} has no bridge, subnet or gateway")
        if not net.internal:
            netlink.enable_ip_forward()
        netlink.ensure_bridge(net.bridge, ipaddress.IPv4Interface(f"{net.gateway}/"
                                                                  f"{net.network.prefixlen}"),
                              net.id, net.mtu)
        rules = network_rules_of(net)
        lines = [rule.line(net.id) for rule in rules]
        if not verify and self.verified.fresh(net.id, net.bridge, lines):
            return
        firewall.ensure(net.id, rules)
        self.verified.record(net.id, net.bridge, lines)

    def _unrealize(self, nets: Sequence[Network]) -> None:
        """Rules (one batch for all ``nets``) and bridges of networks that go."""
        for net in nets:
            self.verified.forget(net.id)
        firewall.delete({net.id: network_rules_of(net) for net in nets})
        for net in nets:
            if net.bridge:
                netlink.delete_link(net.bridge)

    # ---- networks -----------------------------------------------------------------------------

    def create(self, name: str, subnet: Optional[str] = None, gateway: Optional[str] = None,
               ip_range: Optional[str] = None, internal: bool = False,
               labels: Optional[dict[str, str]] = None, options: Optional[dict[str, str]] = None,
               driver: str = "bridge") -> dict[str, Any]:
        """``docker network create``; returns the inspect dict."""
        if driver != "bridge":
            raise InvalidArgument(f"network driver {driver!r} is not supported (only bridge)")
        if not _NAME.match(name or ""):
            raise InvalidArgument(f"invalid network name {name!r}: use letters, digits, '_', '.', "
                                  f"'-'")
        if name in PREDEFINED:
            raise Conflict(f"network name {name} is reserved for a predefined network")
        if (gateway or ip_range) and not subnet:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        options = {str(k): str(v) for k, v in (options or {}).items()}
        if MTU_OPTION in options and not options[MTU_OPTION].isdigit():
            raise InvalidArgument(f"invalid {MTU_OPTION} {options[MTU_OPTION]!r}")
        with self._lock():
            net = self._create_locked(name, subnet, gateway, ip_range, internal, labels or {},
                                      options)
        return network_dict(net, [])

    def _create_locked(self, name: str, subnet: Optional[str], gateway: Optional[str],
                       ip_range: Optional[str], internal: bool, labels: dict[str, str],
                       options: dict[str, str], bridge: Optional[str] = None) -> Network:
        if records.get_network(self.db, name) is not None:
            raise Conflict(f"network with name {name} already exists")
        used = self._used_ranges()
        if subnet:
            spec = ipam.parse_spec(subnet, gateway, ip_range)
            ipam.check_free(spec.subnet, used)
        elif name == DEFAULT_NETWORK:
            spec = ipam.default_bridge_spec(self.config, used)
        else:
            net_ = ipam.pick_from_pools(self.config.pools, used)
            spec = ipam.SubnetSpec(net_, net_.network_address + 1)
        net_id = _new_id()
        bridge = bridge or options.get(BRIDGE_NAME_OPTION) or f"br-{net_id[:12]}"
        check_ifname(bridge, "bridge name")
        if self.db.query_one("SELECT 1 FROM networks WHERE bridge = ?", (bridge,)):
            raise Conflict(f"bridge {bridge} is already used by another network")
        if netlink.find_link(bridge) is not None:
            raise Conflict(f"interface {bridge} already exists")
        mtu = options.get(MTU_OPTION) or (str(self.config.mtu) if self.config.mtu != 1500 else "")
        if mtu:
            options[MTU_OPTION] = mtu
        net = Network(net_id, name, "bridge", bridge, str(spec.subnet), str(spec.gateway),
                      str(spec.ip_range) if spec.ip_range else None, internal, labels, options,
                      records.now())
        with self.db.transaction() as tx:
            net.insert(tx)
            records.record_tag(tx, net.id, "network")
        try:
            self._realize(net, verify=True)
        except BaseException:
            with contextlib.suppress(Exception):
                self._unrealize([net])
            with self.db.transaction() as tx:
                tx.execute("DELETE FROM networks WHERE id = ?", (net.id,))
                records.forget_tag(tx, net.id)
            raise
        return net

    def ensure_default(self) -> dict[str, Any]:
        """The predefined ``bridge``, ``host`` and ``none`` networks; returns ``bridge``'s dict."""
        with self._lock():
            for name, driver in PREDEFINED.items():
                if name == DEFAULT_NETWORK or records.get_network(self.db, name):
                    continue
                with self.db.transaction() as tx:
                    Network(_new_id(), name, driver, created=records.now()).insert(tx)
            net = records.get_network(self.db, DEFAULT_NETWORK)
            if net is None:
                net = self._create_locked(DEFAULT_NETWORK, None, None, None, False, {},
                                          {"com.docker.network.bridge.default_bridge": "true"},
                                          bridge=self.config.default_bridge_name(self.store.root))
            else:
                self._realize(net)
        return network_dict(net, records.endpoints(self.db, net.id))

    def remove(self, name: str) -> None:
        """``docker network rm``: refused for predefined networks and networks in use."""
        with self._lock():
            net = self._get(name)
            if net.name in PREDEFINED:
                raise Conflict(f"{net.name} is a predefined network and cannot be removed")
            eps = records.endpoints(self.db, net.id)
            if eps:
                raise Conflict(f"network {net.name} has active endpoints "
                               f"({', '.join(e.name or e.container_id[:12] for e in eps)})")
            self._unrealize([net])
            with self.db.transaction() as tx:
                tx.execute("DELETE FROM networks WHERE id = ?", (net.id,))
                records.forget_tag(tx, net.id)

    def list(self) -> list[dict[str, Any]]:
        return [network_dict(n, records.endpoints(self.db, n.id))
                for n in records.all_networks(self.db)]

    def inspect(self, name: str) -> dict[str, Any]:
        net = self._get(name)
        return network_dict(net, records.endpoints(self.db, net.id))

    # ---- containers ---------------------------------------------------------------------------

    def attach(self, container_id: str, network: str, ip: Optional[str] = None,
               aliases: Sequence[str] = (), ports: Iterable[Union[str, PortMapping]] = (),
               name: str = "", mac: str = "") -> Attachment:
        """Put a container on a network: its namespace file (created on first attach), a veth
        ``ethN`` with an address (and ``mac``, else one derived from the address), and DNAT rules
        for ``ports`` (``-p`` strings or mappings). Ports are checked before anything is created;
        every step is undone if a later one fails."""
        if network in PREDEFINED and records.get_network(self.db, network) is None:
            self.ensure_default()
        net = self._get(network)
        mappings = portmap.parse_all(ports)
        for m in mappings:
            if m.host_ip and ":" in m.host_ip:
                raise InvalidArgument(f"cannot publish {m.describe()}: IPv6 host addresses need "
                                      f"an IPv6 network, which berth does not support")
        with self._lock():
            existing = records.endpoints(self.db, container_id=container_id)
            if any(e.network_id == net.id for e in existing):
                raise Conflict(f"container {container_id[:12]} is already attached to network "
                               f"{net.name}")
            if existing and (net.driver != "bridge" or self._special(existing)):
                raise Conflict(f"container {container_id[:12]} cannot be on network {net.name} "
                               f"and another network at the same time")
            if net.driver == "host":
                return Attachment(container_id, net.name, net.id, None)
            if net.driver == "null":
                return self._attach_none(container_id, net, name)
            if net.internal:
                mappings = []  # Docker does not publish ports of containers on internal networks
            if mappings and any(e.ports for e in existing):
                raise Conflict(f"container {container_id[:12]} already publishes ports")
            resolved: list[PortMapping] = []
            stale: list[firewall.SavedRule] = []
            verify = False
            if mappings:
                # one dump of nat: the ports in use, leftovers of this container, and (for free)
                # whether the network's nat side is intact, which its marker cannot tell
                snap = firewall.snapshot(("nat",))
                resolved = portmap.resolve(mappings, snap.published_ports())
                stale = snap.rules_of(container_id)
                verify = snap.lacks(net.id, network_rules_of(net))
            return self._attach_bridge(container_id, net, existing, ip, list(aliases), resolved,
                                       name, mac, stale, verify)

    def _special(self, eps: list[Endpoint]) -> bool:
        ids = {n.id for n in records.all_networks(self.db) if n.driver != "bridge"}
        return any(e.network_id in ids for e in eps)

    def _attach_none(self, container_id: str, net: Network, name: str) -> Attachment:
        netns = self.netns_path(container_id)
        ep = Endpoint(net.id, container_id, _new_id(), name)
        with self.db.transaction() as tx:
            ep.insert(tx)
            new_sandbox = records.add_sandbox(tx, container_id, netns)
        try:
            self._ensure_netns(netns)
        except BaseException:
            self._drop_rows(container_id, net.id, new_sandbox)
            raise
        return attachment_of(net, ep, netns)

    def _ensure_netns(self, netns: str) -> bool:
        if netlink.is_netns(netns):
            return False
        netlink.remove_netns(netns)  # an unmounted placeholder left by a crash
        netlink.create_netns(netns)
        return True

    def _drop_rows(self, container_id: str, network_id: str, drop_sandbox: bool) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM network_endpoints WHERE network_id = ? AND container_id = ?",
                       (network_id, container_id))
            if drop_sandbox:
                tx.execute("DELETE FROM network_sandboxes WHERE container_id = ?", (container_id,))
                records.forget_tag(tx, container_id)

    def _attach_bridge(self, container_id: str, net: Network, existing: list[Endpoint],
                       ip: Optional[str], aliases: list[str], ports: list[PortMapping],
                       name: str, mac: str = "", stale: Sequence[firewall.SavedRule] = (),
                       verify: bool = False) -> Attachment:
        netns = self.netns_path(container_id)
        used_ifnames = {e.ifname for e in existing}
        ifname = next(f"eth{i}" for i in range(len(existing) + 1) if f"eth{i}" not in used_ifnames)
        spec = subnet_spec(net)
        with self.db.transaction() as tx:
            addr = ipam.choose_address(spec, ipam.taken_addresses(tx, net.id), ip, net.name)
            ep = Endpoint(net.id, container_id, _new_id(), name, str(addr),
                          mac.lower() or ipam.mac_for(addr), ifname, None, aliases,
                          [p.to_dict() for p in ports])
            ep.insert(tx)
            new_sandbox = records.add_sandbox(tx, container_id, netns)
        try:
            with contextlib.ExitStack() as undo:
                self._realize(net, verify)
                if self._ensure_netns(netns):
                    undo.callback(netlink.remove_netns, netns)
                first = not existing
                ep.veth = netlink.create_endpoint(netlink.EndpointSpec(
                    net.bridge or "", netns, ifname,
                    ipaddress.IPv4Interface(f"{addr}/{spec.subnet.prefixlen}"), ep.mac or "",
                    spec.gateway if first and not net.internal else None, container_id, net.mtu))
                undo.callback(netlink.delete_link, ep.veth)
                if ports:
                    rules = firewall.port_rules(str(addr), ports)
                    firewall.add(container_id, rules, stale)
                    undo.callback(firewall.delete, {container_id: rules})
                with self.db.transaction() as tx:
                    tx.execute("UPDATE network_endpoints SET veth = ? WHERE network_id = ? AND "
                               "container_id = ?", (ep.veth, net.id, container_id))
                undo.pop_all()
        except BaseException:
            self._drop_rows(container_id, net.id, new_sandbox)
            raise
        return attachment_of(net, ep, netns)

    def attachments(self, container_id: str) -> list[Attachment]:
        nets = {n.id: n for n in records.all_networks(self.db)}
        netns = records.sandboxes(self.db).get(container_id)
        return [attachment_of(nets[e.network_id], e, netns)
                for e in records.endpoints(self.db, container_id=container_id)]

    def detach(self, container_id: str, network: str) -> None:
        """``docker network disconnect``: the veth and (if published through it) the DNAT rules go;
        the namespace file stays until ``release_container``."""
        with self._lock():
            net = self._get(network)
            eps = list(records.endpoints(self.db, net.id, container_id))
            if not eps:
                raise NotFound(f"container {container_id[:12]} is not attached to network "
                               f"{net.name}")
            self._remove_endpoint(eps[0])
            self._drop_rows(container_id, net.id, False)

    def _remove_endpoint(self, ep: Endpoint) -> None:
        firewall.delete({ep.container_id: port_rules_of(ep)})
        self._remove_link(ep)

    def _remove_link(self, ep: Endpoint) -> None:
        if ep.veth and netlink.delete_link(ep.veth):
            return
        netns = records.sandboxes(self.db).get(ep.container_id)
        if netns and ep.ifname:
            netlink.delete_netns_link(netns, ep.ifname)

    def release_container(self, container_id: str) -> None:
        """Everything the container holds goes: rules, veths, addresses, namespace file.
        Idempotent; kernel objects are removed before the rows that describe them."""
        self.release_containers([container_id])

    def release_containers(self, container_ids: Iterable[str]) -> None:
        """``release_container`` of several, with the rules of all of them in one batch (no
        iptables call at all when none of them published ports)."""
        with self._lock():
            self._release_locked(list(container_ids))

    def _release_locked(self, container_ids: Sequence[str]) -> None:
        endpoints = {cid: records.endpoints(self.db, container_id=cid) for cid in container_ids}
        firewall.delete({cid: [rule for ep in eps for rule in port_rules_of(ep)]
                         for cid, eps in endpoints.items() if any(ep.ports for ep in eps)})
        sandboxes = records.sandboxes(self.db)
        for cid, eps in endpoints.items():
            for ep in eps:
                self._remove_link(ep)
            netlink.remove_netns(sandboxes.get(cid) or self.netns_path(cid))
            with self.db.transaction() as tx:
                tx.execute("DELETE FROM network_endpoints WHERE container_id = ?", (cid,))
                tx.execute("DELETE FROM network_sandboxes WHERE container_id = ?", (cid,))
                records.forget_tag(tx, cid)

    def peers(self, container_id: str) -> list[tuple[str, list[str]]]:
        """(ip, names) of the other containers on this container's user networks (the default
        bridge has no name resolution, as in Docker)."""
        out = []
        for ep in records.endpoints(self.db, container_id=container_id):
            net = records.get_network(self.db, ep.network_id)
            if net is None or net.name in PREDEFINED:
                continue
            for peer in records.endpoints(self.db, net.id):
                if peer.container_id != container_id and peer.ip:
                    names = [n for n in [peer.name, *peer.aliases, peer.container_id[:12]] if n]
                    out.append((peer.ip, names))
        return out

    def remove_all(self) -> None:
        """Every container's network state and every network, predefined ones included (test
        teardown, uninstall). Kernel objects first, rows after."""
        with self._lock():
            self._release_locked(sorted(records.sandboxes(self.db)))
            networks = records.all_networks(self.db)
            self._unrealize(networks)
            for net in networks:
                with self.db.transaction() as tx:
                    tx.execute("DELETE FROM network_endpoints WHERE network_id = ?", (net.id,))
                    tx.execute("DELETE FROM networks WHERE id = ?", (net.id,))
                    records.forget_tag(tx, net.id)

    def check(self, repair: bool = False, foreign: bool = False) -> CheckReport:
        """Reconcile the kernel with the store; see ``reconcile.check``."""
        from . import reconcile  # only ``system check`` and the tests reconcile

        with self._lock():
            return reconcile.check(self, repair=repair, foreign=foreign)

    # ---- the container service's entry point ------------------------------------------------

    def attach_container(self, container_id: str, mode: str, hostname: str = "",
                         publish: Sequence[str] = (), ip: Optional[str] = None,
                         aliases: Sequence[str] = ()) -> dict[str, Any]:
        """``berth run --network <mode> -p ...`` in one call: returns ``netns_path``, ``ip``,
        ``settings`` (NetworkSettings.Networks) and ``ports`` (NetworkSettings.Ports)."""
        att = self.attach(container_id, mode or DEFAULT_NETWORK, ip=ip, aliases=aliases,
                          ports=publish, name=hostname)
        return {"netns_path": att.netns_path, "ip": att.ip, "attachment": att,
                "settings": {att.network: att.settings()}, "ports": att.docker_ports()}
