"""``check()``: compare the kernel (iptables rules, links, namespace files) with the store.

* leaked  - a kernel object tagged with one of this store's tags that nothing in the store wants
            (a crash between creating it and recording it, or between the reverse steps);
* missing - something the store describes that the kernel lacks (a reboot, someone's ``ip link
            del``, a flushed table: berth's chains and hooks too, when the store has a bridge
            network). A network found short of rules loses its ``verified`` marker, so the next
            attach restores them even without ``repair``;
* foreign - tagged ``berth:`` but unknown to this store: another berth root on the same host owns
            it. Reported, and only repaired with ``foreign=True``.

With ``repair=True`` leaked objects are removed and missing ones recreated from the store; a
container whose namespace file is gone cannot get it back (its processes are elsewhere), so its
network state is released instead.
"""
from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Any

from ..errors import BerthError
from ..values import Value, asdict, field
from . import firewall, netlink, records
from .portmap import PortMapping

if TYPE_CHECKING:
    from .manager import NetworkManager


class CheckReport(Value):
    """What ``check`` found: kernel objects without records, records without objects, others'."""
    leaked: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not self.leaked and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), clean=self.clean)


def check(mgr: NetworkManager, repair: bool = False, foreign: bool = False) -> CheckReport:
    """The caller holds the manager's lock."""
    from .manager import network_rules_of  # manager imports this module: not at the top

    db = mgr.db
    report = CheckReport(repaired=repair)
    live, known = records.live_tags(db), records.known_tags(db)
    networks = records.all_networks(db)
    sandboxes = records.sandboxes(db)
    endpoints = records.endpoints(db)
    expected_links: dict[str, set[str]] = {n.id: {n.bridge} for n in networks if n.bridge}
    for ep in endpoints:
        if ep.veth:
            expected_links.setdefault(ep.container_id, set()).add(ep.veth)

    def bucket(tag: str) -> list[str]:
        return report.leaked if tag in known or foreign else report.foreign

    # ---- leaked and foreign
    rule_tags: set[str] = set()
    counts: dict[str, int] = {}
    snap = firewall.snapshot()
    for rule in snap.tagged:
        counts[rule.tag] = counts.get(rule.tag, 0) + 1
        if rule.tag not in live:
            bucket(rule.tag).append(f"rule {rule.table} {rule.line}")
            if rule.tag in known or foreign:
                rule_tags.add(rule.tag)
    stale_links = []
    present_links = set()
    for link in netlink.tagged_links():
        present_links.add(link.name)
        tag = link.tag or ""
        if tag in live and link.name in expected_links.get(tag, set()):
            continue
        if tag in live:  # e.g. the veth of an attach whose row was lost: ours for sure
            report.leaked.append(f"link {link.name} ({link.kind}, berth:{tag})")
            stale_links.append(link.name)
            continue
        bucket(tag).append(f"link {link.name} ({link.kind}, berth:{tag})")
        if tag in known or foreign:
            stale_links.append(link.name)
    stale_netns = []
    for name in sorted(os.listdir(mgr.netns_dir)) if os.path.isdir(mgr.netns_dir) else []:
        if name in live:
            continue
        path = os.path.join(mgr.netns_dir, name)
        bucket(name).append(f"netns {path}")
        if name in known or foreign:
            stale_netns.append(path)

    if repair:
        firewall.remove(rule_tags)
        for name in stale_links:
            netlink.delete_link(name)
        for path in stale_netns:
            netlink.remove_netns(path)
        with db.transaction() as tx:
            for tag in known - live:
                records.forget_tag(tx, tag)

    # ---- missing
    bridges = [n for n in networks if n.driver == "bridge" and n.bridge and n.subnet]
    base = snap.missing_base() if bridges else []
    report.missing.extend(base)
    for net in bridges:
        want = len(network_rules_of(net))
        problems = []
        if net.bridge not in present_links:
            problems.append(f"bridge {net.bridge} of network {net.name}")
        if counts.get(net.id, 0) != want:
            problems.append(f"firewall rules of network {net.name} ({counts.get(net.id, 0)} of "
                            f"{want})")
        report.missing.extend(problems)
        if problems or base:
            mgr.verified.forget(net.id)
            if repair:
                mgr._realize(net, verify=True)
    nets = {n.id: n for n in networks}
    for cid, netns in sorted(sandboxes.items()):
        eps = [e for e in endpoints if e.container_id == cid]
        if not netlink.is_netns(netns):
            report.missing.append(f"netns {netns} of container {cid[:12]}")
            if repair:
                mgr._release_locked([cid])
            continue
        for ep in eps:
            net = nets[ep.network_id]
            if net.driver == "bridge" and ep.veth not in present_links:
                report.missing.append(f"veth of container {cid[:12]} on network {net.name}")
                if repair:
                    _recreate_endpoint(mgr, net, ep, netns, first=ep.ifname == "eth0")
        published = [(e, [PortMapping.from_dict(p) for p in e.ports]) for e in eps if e.ports]
        want = sum(len(ports) for _endpoint, ports in published)
        if counts.get(cid, 0) != want:
            report.missing.append(f"port rules of container {cid[:12]} ({counts.get(cid, 0)} of "
                                  f"{want})")
            if repair:
                rules = [r for e, ports in published
                         for r in firewall.port_rules(e.ip or "", ports)]
                firewall.replace(cid, rules)
    return report


def _recreate_endpoint(mgr: NetworkManager, net: records.Network, ep: records.Endpoint,
                       netns: str, first: bool) -> None:
    mgr._realize(net)
    if ep.ifname:
        netlink.delete_netns_link(netns, ep.ifname)
    if not (ep.ip and net.subnet and net.gateway):
        raise BerthError(f"endpoint on network {net.name} has no address, subnet or gateway")
    veth = netlink.create_endpoint(netlink.EndpointSpec(
        net.bridge or "", netns, ep.ifname or "eth0",
        ipaddress.IPv4Interface(f"{ep.ip}/{net.network.prefixlen}"), ep.mac or "",
        ipaddress.IPv4Address(net.gateway) if first and not net.internal else None,
        ep.container_id, net.mtu))
    with mgr.db.transaction() as tx:
        tx.execute("UPDATE network_endpoints SET veth = ? WHERE network_id = ? AND "
                   "container_id = ?", (veth, net.id, ep.container_id))
