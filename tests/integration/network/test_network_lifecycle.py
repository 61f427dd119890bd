"""Networks and attachments against the real kernel: create/inspect/remove, none/host/internal,
port conflicts refused before anything exists, release leaves nothing, check() repairs leaks."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest
from net_helpers import free_subnets, tagged_leftovers
from pyroute2 import IPRoute

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.network import PortMapping, firewall, netlink, records


def _iptables_save() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _links_in(netns: str) -> set[str]:
    return {link.name for link in netlink.links(netns)}


def test_create_inspect_list_remove(net_env):
    subnet, = free_subnets(1)
    base = subnet.rsplit(".", 1)[0]
    info = net_env.network("app", 1, subnet=subnet, gateway=f"{base}.254",
                           ip_range=f"{base}.128/25", labels={"team": "a"})
    assert info["Name"] == f"app-{net_env.suffix}" and info["Driver"] == "bridge"
    assert info["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": f"{base}.254",
                                       "IPRange": f"{base}.128/25"}]
    assert info["Labels"] == {"team": "a"}
    assert info["Options"]["com.docker.network.bridge.name"] == net_env.bridge(1)
    link = netlink.find_link(net_env.bridge(1))
    assert link is not None and link.kind == "bridge" and link.tag == info["Id"]
    with open(f"/proc/sys/net/ipv4/conf/{net_env.bridge(1)}/route_localnet") as f:
        assert f.read().strip() == "1"

    cid = net_env.container_id()
    att = net_env.manager.attach(cid, info["Id"][:12], name="svc", aliases=["api"])
    assert att.ip == f"{base}.128" and att.gateway == f"{base}.254"  # first of the ip-range
    assert att.mac == "02:42:" + ":".join(f"{int(b):02x}" for b in att.ip.split("."))
    inspected = net_env.manager.inspect(info["Name"])
    assert inspected["Containers"][cid]["IPv4Address"] == f"{base}.128/24"
    assert [n["Name"] for n in net_env.manager.list()] == [info["Name"]]
    settings = att.settings()
    assert settings["IPAddress"] == att.ip and settings["Aliases"] == ["api"]

    with pytest.raises(Conflict, match="active endpoints"):
        net_env.manager.remove(info["Name"])
    with pytest.raises(Conflict, match="already exists"):
        net_env.network("app", 1, subnet=free_subnets(1)[0])
    with pytest.raises(Conflict, match="overlaps"):
        net_env.manager.create(f"other-{net_env.suffix}", subnet=subnet)
    net_env.manager.release_container(cid)
    net_env.manager.remove(info["Name"])
    assert netlink.find_link(net_env.bridge(1)) is None
    assert info["Id"] not in _iptables_save()
    with pytest.raises(NotFound):
        net_env.manager.inspect(info["Name"])


def test_default_bridge_uses_daemon_config(net_env):
    info = net_env.manager.ensure_default()
    bip = net_env.manager.config.bip
    assert info["Name"] == "bridge"
    assert info["IPAM"]["Config"] == [{"Subnet": str(bip.network), "Gateway": str(bip.ip)}]
    assert info["Options"]["com.docker.network.bridge.name"] == f"bt{net_env.suffix}0"
    assert {n["Name"] for n in net_env.manager.list()} == {"bridge", "host", "none"}
    assert net_env.manager.ensure_default()["Id"] == info["Id"]  # idempotent
    with pytest.raises(Conflict, match="predefined"):
        net_env.manager.remove("bridge")


def test_none_has_only_loopback_and_host_has_no_namespace(net_env):
    net_env.manager.ensure_default()
    cid = net_env.container_id()
    none = net_env.manager.attach(cid, "none")
    assert none.ip is None and os.path.exists(none.netns_path)
    assert _links_in(none.netns_path) == {"lo"}
    with pytest.raises(Conflict):
        net_env.manager.attach(cid, "bridge")
    host = net_env.manager.attach(net_env.container_id(), "host")
    assert host.host and host.netns_path is None
    net_env.manager.release_container(cid)
    assert not os.path.exists(none.netns_path)


def test_internal_network_has_no_way_out_and_publishes_nothing(net_env):
    info = net_env.network("intern", 1, internal=True)
    att = net_env.manager.attach(net_env.container_id(), info["Name"], ports=["18555:80"])
    assert att.ports == [] and att.gateway is None
    with IPRoute(netns=att.netns_path, flags=0) as ns:
        assert not [r for r in ns.get_routes(family=socket.AF_INET) if r.get("dst_len") == 0]
    assert "--dport 18555" not in _iptables_save()
    drops = [line for line in _iptables_save().splitlines()
             if line.startswith(f"-A BERTH-FORWARD -i {net_env.bridge(1)} -m comment")]
    assert len(drops) == 1 and drops[0].endswith("-j DROP")


def test_static_ip_and_address_conflicts(net_env):
    subnet, = free_subnets(1)
    base = subnet.rsplit(".", 1)[0]
    info = net_env.network("static", 1, subnet=subnet)
    a = net_env.manager.attach(net_env.container_id(), info["Name"], ip=f"{base}.50")
    assert a.ip == f"{base}.50"
    with pytest.raises(Conflict, match="already in use"):
        net_env.manager.attach(net_env.container_id(), info["Name"], ip=f"{base}.50")
    with pytest.raises(InvalidArgument, match="not in subnet"):
        net_env.manager.attach(net_env.container_id(), info["Name"], ip="192.0.2.77")


def _nothing_of(net_env, cid: str) -> None:
    assert f"berth:{cid}" not in _iptables_save()
    assert tagged_leftovers({cid}) == []
    path = net_env.manager.netns_path(cid)
    assert not os.path.exists(path) and not _mounted(path)
    assert not records.endpoints(net_env.store.db, container_id=cid)


def test_port_in_use_is_refused_before_anything_exists(net_env):
    net_env.manager.ensure_default()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        for spec in (f"127.0.0.1:{port}:80", f"{port}:80"):
            cid = net_env.container_id()
            with pytest.raises(Conflict) as exc:
                net_env.manager.attach(cid, "bridge", ports=[spec])
            message = str(exc.value)
            assert "\n" not in message and str(port) in message and "in use" in message
            _nothing_of(net_env, cid)

    # a port published by another berth container has no socket: the DNAT rules tell
    first = net_env.manager.attach(net_env.container_id(), "bridge", ports=["80"])
    taken = first.ports[0].host_port
    cid = net_env.container_id()
    with pytest.raises(Conflict, match="already allocated"):
        net_env.manager.attach(cid, "bridge", ports=[f"{taken}:8080"])
    _nothing_of(net_env, cid)


def test_release_removes_rules_veths_and_namespace(net_env):
    net_env.manager.ensure_default()
    net_env.network("extra", 1)
    cid = net_env.container_id()
    a = net_env.manager.attach(cid, "bridge", ports=["80", "53/udp", "127.0.0.1::8080"])
    b = net_env.manager.attach(cid, f"extra-{net_env.suffix}")
    assert _iptables_save().count(f"berth:{cid}") == 3
    assert {a.veth, b.veth} <= {link.name for link in netlink.tagged_links() if link.tag == cid}
    assert _links_in(a.netns_path) == {"lo", "eth0", "eth1"}
    net_env.manager.release_container(cid)
    _nothing_of(net_env, cid)
    net_env.manager.release_container(cid)  # idempotent
    assert net_env.manager.check().clean


def test_check_finds_and_repairs_leaks(net_env):
    net_env.manager.ensure_default()
    cid = net_env.container_id()
    att = net_env.manager.attach(cid, "bridge", ports=["80"])
    assert net_env.manager.check().clean

    # a crash after the kernel objects of "ghost" were made but before its rows were written
    ghost = net_env.container_id()
    with net_env.store.db.transaction() as tx:
        records.record_tag(tx, ghost, "container")
    ghost_rule = firewall.port_rules("10.255.255.254", [PortMapping(80, host_port=1)])
    firewall.replace(ghost, ghost_rule)
    ghost_veth = f"btg{net_env.suffix}"
    foreign_tag = net_env.container_id()  # another berth root's: reported, never touched
    foreign_veth = f"btf{net_env.suffix}"
    try:
        with IPRoute() as ipr:
            for name, tag in ((ghost_veth, ghost), (foreign_veth, foreign_tag)):
                ipr.link("add", ifname=name, kind="veth", peer={"ifname": name + "p"})
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], ifalias=f"berth:{tag}")
        netlink.delete_link(att.veth)  # and the live container lost its veth

        report = net_env.manager.check()
        assert not report.clean and not report.repaired
        assert any(ghost in line and "DNAT" in line for line in report.leaked)
        assert any(ghost_veth in line for line in report.leaked)
        assert any(foreign_veth in line for line in report.foreign)
        assert report.missing == [f"veth of container {cid[:12]} on network bridge"]

        net_env.manager.check(repair=True)
        assert net_env.manager.check().clean
        assert tagged_leftovers({ghost}) == []
        assert netlink.find_link(foreign_veth) is not None
        assert ghost not in records.known_tags(net_env.store.db)
        new = net_env.manager.attachments(cid)[0]
        assert new.veth != att.veth and netlink.find_link(new.veth).master  # back on the bridge
        assert subprocess.run(["nsenter", f"--net={att.netns_path}", "busybox", "ping", "-c", "1",
                               "-W", "1", att.gateway], capture_output=True, check=False).returncode == 0
    finally:
        firewall.remove([ghost])
        for name in (ghost_veth, foreign_veth):
            netlink.delete_link(name)


def test_check_releases_container_whose_namespace_vanished(net_env):
    net_env.manager.ensure_default()
    cid = net_env.container_id()
    att = net_env.manager.attach(cid, "bridge", ports=["80"])
    netlink.remove_netns(att.netns_path)  # e.g. a reboot emptied the run dir
    report = net_env.manager.check(repair=True)
    assert f"netns {att.netns_path} of container {cid[:12]}" in report.missing
    _nothing_of(net_env, cid)
    assert net_env.manager.check().clean


def test_failed_attach_undoes_every_step(net_env, monkeypatch):
    net_env.manager.ensure_default()
    cid = net_env.container_id()

    def refuse(tag, rules, stale=()):
        raise firewall.FirewallError("injected: iptables-restore refused the batch")
    monkeypatch.setattr(firewall, "add", refuse)
    before = {link.name for link in netlink.links()}
    with pytest.raises(firewall.FirewallError, match="injected"):
        net_env.manager.attach(cid, "bridge", ports=["80"])
    _nothing_of(net_env, cid)
    assert {link.name for link in netlink.links()} == before  # the veth went too
    assert cid not in records.known_tags(net_env.store.db)
    monkeypatch.undo()
    att = net_env.manager.attach(cid, "bridge", ports=["80"])  # and a retry works
    assert att.ports[0].host_port > 0


def test_peers_and_container_service_entry_point(net_env):
    info = net_env.network("peers", 1)
    a, b = net_env.container_id(), net_env.container_id()
    got = net_env.manager.attach_container(a, info["Name"], hostname="alpha", publish=["80"])
    assert got["netns_path"] == net_env.manager.netns_path(a)
    assert got["settings"][info["Name"]]["IPAddress"] == got["ip"]
    [(key, [binding])] = got["ports"].items()
    assert key == "80/tcp" and int(binding["HostPort"]) > 0
    att_b = net_env.manager.attach(b, info["Name"], name="beta", aliases=["db"])
    assert net_env.manager.peers(a) == [(att_b.ip, ["beta", "db", b[:12]])]
    assert net_env.manager.peers(b) == [(got["ip"], ["alpha", a[:12]])]
    net_env.manager.ensure_default()
    c = net_env.container_id()
    net_env.manager.attach(c, "bridge", name="gamma")
    assert net_env.manager.peers(c) == []  # no name resolution on the default bridge
