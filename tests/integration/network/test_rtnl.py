"""berth's own rtnetlink client against the kernel, checked with an independent client (pyroute2,
a test dependency only): what it creates is what the kernel reports, errors carry the kernel's
errno, and opening a socket inside a namespace leaves the calling thread where it was."""
from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import socket
import struct
import tempfile
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute

from berth.network import netlink
from berth.network.rtnl import NetlinkError, Rtnl, attr, parse_attrs


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    base = tempfile.mkdtemp(prefix="berth-rtnl-")
    path = os.path.join(base, "ns")
    netlink.create_netns(path)
    try:
        yield path
    finally:
        netlink.remove_netns(path)
        os.rmdir(base)


@pytest.fixture
def bridge_name() -> Iterator[str]:
    name = "brt" + secrets.token_hex(4)
    try:
        yield name
    finally:
        netlink.delete_link(name)


def _oracle_link(ipr: IPRoute, name: str) -> dict:
    found = ipr.link_lookup(ifname=name)
    assert found, f"{name} not in the kernel's link list"
    return ipr.get_links(found[0])[0]


def test_bridge_and_veth_as_the_kernel_sees_them(netns: str, bridge_name: str) -> None:
    gateway = ipaddress.IPv4Interface("10.251.7.1/24")
    netlink.ensure_bridge(bridge_name, gateway, "tagA", mtu=1400)
    netlink.ensure_bridge(bridge_name, gateway, "tagA", mtu=1400)  # idempotent
    spec = netlink.EndpointSpec(bridge=bridge_name, netns=netns, ifname="eth0",
                                address=ipaddress.IPv4Interface("10.251.7.9/24"),
                                mac="02:42:0a:fb:07:09", gateway=gateway.ip, tag="tagB", mtu=1400)
    host_end = netlink.create_endpoint(spec)
    with IPRoute() as ipr:
        bridge = _oracle_link(ipr, bridge_name)
        assert bridge.get("ifalias") == "berth:tagA" and bridge.get("mtu") == 1400
        assert bridge.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "bridge"
        assert bridge["flags"] & 1  # IFF_UP
        addrs = [(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=bridge["index"])
                 if a["family"] == socket.AF_INET]
        assert addrs == [("10.251.7.1", 24)]  # once, although ensured twice
        veth = _oracle_link(ipr, host_end)
        assert veth.get("master") == bridge["index"] and veth.get("ifalias") == "berth:tagB"
        assert veth["flags"] & 1
    with IPRoute(netns=netns, flags=0) as ns:
        eth0 = _oracle_link(ns, "eth0")
        assert eth0.get("address") == "02:42:0a:fb:07:09" and eth0.get("mtu") == 1400
        addr, = [a for a in ns.get_addr(index=eth0["index"]) if a["family"] == socket.AF_INET]
        assert (addr.get("IFA_LOCAL"), addr["prefixlen"]) == ("10.251.7.9", 24)
        assert addr.get("IFA_BROADCAST") == "10.251.7.255"
        default, = [r for r in ns.get_routes(family=socket.AF_INET, table=254)
                    if r["dst_len"] == 0]
        assert default.get("RTA_GATEWAY") == "10.251.7.1" and default.get("RTA_OIF") == eth0["index"]
        assert _oracle_link(ns, "lo")["flags"] & 1
    assert netlink.netns_ifnames(netns) == {"lo", "eth0"}
    routes = dict(netlink.ipv4_routes())
    assert routes[ipaddress.IPv4Network("10.251.7.0/24")] == bridge_name

    assert netlink.delete_netns_link(netns, "eth0")
    assert netlink.find_link(host_end) is None  # the host end went with its peer
    assert not netlink.delete_link(host_end)
    assert not netlink.delete_netns_link(netns, "eth0")


def test_errors_carry_the_kernels_errno(netns: str, bridge_name: str) -> None:
    with Rtnl() as rt:
        assert rt.link("nosuch" + secrets.token_hex(4)) is None
        rt.add_bridge(bridge_name)
        with pytest.raises(NetlinkError) as exc:
            rt.add_bridge(bridge_name)
        assert exc.value.errno == errno.EEXIST
        with pytest.raises(NetlinkError) as exc:
            rt.delete_link(2 ** 31 - 1)
        assert exc.value.errno == errno.ENODEV
    with tempfile.NamedTemporaryFile() as not_a_namespace:
        with pytest.raises(NetlinkError) as exc:
            Rtnl(not_a_namespace.name)
        assert exc.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        Rtnl(netns + ".missing")
    with pytest.raises(netlink.NetworkError, match="does not exist"):
        netlink.create_endpoint(netlink.EndpointSpec(
            bridge="nosuch0", netns=netns, ifname="eth0",
            address=ipaddress.IPv4Interface("10.251.8.2/24"), mac="02:42:0a:fb:08:02",
            gateway=None, tag="t"))


def test_a_namespace_socket_leaves_this_thread_in_its_namespace(netns: str) -> None:
    before = os.readlink("/proc/thread-self/ns/net")
    with Rtnl(netns) as rt:
        names = {link.name for link in rt.links()}
    assert names == {"lo"}
    assert os.readlink("/proc/thread-self/ns/net") == before
    assert "lo" in {link.name for link in netlink.links()} and len(netlink.links()) >= 1


def test_attribute_walk_stops_at_a_malformed_tail() -> None:
    good = attr(3, b"eth0\0") + attr(4, struct.pack("=I", 1500))
    assert parse_attrs(good) == {3: b"eth0\0", 4: struct.pack("=I", 1500)}
    assert parse_attrs(good + struct.pack("=HH", 200, 5) + b"xx") == parse_attrs(good)
    assert parse_attrs(struct.pack("=HH", 2, 1) + good) == {}  # length below the header
