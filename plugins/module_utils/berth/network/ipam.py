"""IPv4 address management: choosing subnets that clash with nothing, and addresses inside them.

Pure functions over ``ipaddress`` values; the caller supplies what is in use (host routes, other
berth networks, endpoints already allocated) so every rule here is testable without a kernel.
"""
from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Optional, Union

from ..errors import Conflict, InvalidArgument
from ..values import Value
from .config import DEFAULT_BIP, NetworkConfig, Pool

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address
MAX_PREFIX = 30  # a network, a gateway, one container and a broadcast address at least


class UsedRange(Value, frozen=True):
    """Something a new subnet must not overlap: a host route or another berth network."""
    network: IPv4Network
    owner: str  # for the error message: "route on eth0", "network web"


class SubnetSpec(Value, frozen=True):
    """A network's subnet, gateway and the range its containers' addresses come from."""
    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: Optional[IPv4Network] = None


def _v4_network(value: str, what: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {value!r}: want an IPv4 CIDR like "
                              f"10.1.0.0/16") from None
    if net.version != 4:
        raise InvalidArgument(f"invalid {what} {value}: IPv6 networks are not supported")
    if not isinstance(net, IPv4Network):
        raise InvalidArgument(f"invalid {what} {value}: want an IPv4 network")
    return net


def _v4_address(value: str, what: str) -> IPv4Address:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {value!r}: want an IPv4 address") from None
    if addr.version != 4:
        raise InvalidArgument(f"invalid {what} {value}: IPv6 is not supported")
    if not isinstance(addr, IPv4Address):
        raise InvalidArgument(f"invalid {what} {value}: want an IPv4 address")
    return addr


def parse_spec(subnet: str, gateway: Optional[str] = None,
               ip_range: Optional[str] = None) -> SubnetSpec:
    """Validate ``--subnet/--gateway/--ip-range`` (gateway defaults to the first host address)."""
    net = _v4_network(subnet, "subnet")
    if net.prefixlen > MAX_PREFIX:
        raise InvalidArgument(f"subnet {net} is too small: use a prefix of /{MAX_PREFIX} or "
                              f"shorter")
    if gateway:
        gw = _v4_address(gateway, "gateway")
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"gateway {gw} is not a host address of subnet {net}")
    else:
        gw = net.network_address + 1
    rng = None
    if ip_range:
        rng = _v4_network(ip_range, "ip-range")
        if not rng.subnet_of(net):
            raise InvalidArgument(f"ip-range {rng} is not inside subnet {net}")
    return SubnetSpec(net, gw, rng)


def overlapping(net: IPv4Network, used: Iterable[UsedRange]) -> Optional[UsedRange]:
    for u in used:
        if net.overlaps(u.network):
            return u
    return None


def check_free(net: IPv4Network, used: Iterable[UsedRange]) -> None:
    clash = overlapping(net, used)
    if clash is not None:
        raise Conflict(f"subnet {net} overlaps {clash.network} ({clash.owner})")


def pick_from_pools(pools: Sequence[Pool], used: Sequence[UsedRange]) -> IPv4Network:
    """The first pool subnet that overlaps nothing in use (Docker's default-address-pools)."""
    for pool in pools:
        for candidate in pool.subnets():
            if overlapping(candidate, used) is None:
                return candidate
    raise Conflict("no free subnet left in the default address pools; pass --subnet or add "
                   "default-address-pools to daemon.json")


def default_bridge_spec(cfg: NetworkConfig, used: Sequence[UsedRange]) -> SubnetSpec:
    """The default ``bridge`` network: daemon.json ``bip`` if set (it must be free), else
    10.88.0.0/16, else the first free pool subnet."""
    if cfg.bip is not None:
        check_free(cfg.bip.network, used)
        return SubnetSpec(cfg.bip.network, cfg.bip.ip)
    default = ipaddress.IPv4Interface(DEFAULT_BIP)
    if overlapping(default.network, used) is None:
        return SubnetSpec(default.network, default.ip)
    net = pick_from_pools(cfg.pools, used)
    return SubnetSpec(net, net.network_address + 1)


def _candidates(spec: SubnetSpec) -> Iterable[IPv4Address]:
    source = spec.ip_range or spec.subnet
    reserved = {spec.subnet.network_address, spec.subnet.broadcast_address, spec.gateway}
    first, last = int(source.network_address), int(source.broadcast_address)
    for value in range(first, last + 1):
        addr = IPv4Address(value)
        if addr not in reserved:
            yield addr


def choose_address(spec: SubnetSpec, taken: Iterable[Union[str, IPv4Address]],
                   requested: Optional[str] = None, network_name: str = "") -> IPv4Address:
    """A requested static address (inside the subnet, not reserved, not taken) or the lowest free
    one of the ip-range (or subnet). Addresses are reused lowest-first: the MAC is derived from the
    address, so a reused address never meets a stale ARP entry."""
    used = {IPv4Address(str(t)) for t in taken}
    label = f" on network {network_name}" if network_name else ""
    if requested:
        addr = _v4_address(requested, "ip")
        if addr not in spec.subnet:
            raise InvalidArgument(f"address {addr} is not in subnet {spec.subnet}{label}")
        if addr in (spec.subnet.network_address, spec.subnet.broadcast_address, spec.gateway):
            raise InvalidArgument(f"address {addr} is reserved in subnet {spec.subnet}{label}")
        if addr in used:
            raise Conflict(f"address {addr} is already in use{label}")
        return addr
    for addr in _candidates(spec):
        if addr not in used:
            return addr
    raise Conflict(f"no free address left in {spec.ip_range or spec.subnet}{label}")


def taken_addresses(conn: sqlite3.Connection, network_id: str) -> list[str]:
    rows = conn.execute("SELECT ip FROM network_endpoints WHERE network_id = ? AND ip IS NOT NULL",
                        (network_id,)).fetchall()
    return [r["ip"] for r in rows]


def mac_for(addr: IPv4Address) -> str:
    """Docker's scheme: locally administered 02:42 followed by the four address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)
