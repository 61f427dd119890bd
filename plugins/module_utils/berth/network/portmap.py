"""Published ports: every ``-p`` form Docker accepts, ``-P``, free host ports, conflict checks.

Forms (each optionally ending in ``/tcp`` or ``/udp``)::

    80            container port 80, a free host port
    8080:80       host 8080 -> container 80
    1.2.3.4:8080:80  1.2.3.4::80   [::1]:8080:80
    8000-8001:80-81  (pairwise)    8000-8010:80  (one free host port of the range)    80-81
"""
from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

from ..errors import Conflict, InvalidArgument
from ..values import Value, asdict

PROTOCOLS = ("tcp", "udp")
RANDOM_TRIES = 64


class PortMapping(Value, frozen=True):
    """One published port (``-p``): the container's port and the host address and port."""
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""          # "" = every IPv4 address of the host
    host_port: int = 0         # 0 = any free port (or one of host_port_range)
    host_port_range: tuple[int, int] = (0, 0)  # Docker's "8000-8010:80": one port from the range

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.protocol}"

    def describe(self) -> str:
        host = f"[{self.host_ip}]" if ":" in self.host_ip else (self.host_ip or "0.0.0.0")
        return f"{host}:{self.host_port or '*'}->{self.key}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["host_port_range"] = list(self.host_port_range)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PortMapping:
        return cls(int(d["container_port"]), d.get("protocol", "tcp"), d.get("host_ip", ""),
                   int(d.get("host_port", 0)), tuple(d.get("host_port_range") or (0, 0)))  # type: ignore[arg-type]


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidArgument(f"invalid port {text!r} in -p {spec}: want 1-65535")
    return int(text)


def _port_range(text: str, spec: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    first = _port(low, spec)
    last = _port(high, spec) if sep else first
    if last < first:
        raise InvalidArgument(f"invalid port range {text!r} in -p {spec}")
    return first, last


def _split_host_ip(body: str, spec: str) -> tuple[str, str]:
    """``[v6]:rest`` or ``v4:h:c`` -> (ip, "h:c"); no ip -> ("", body)."""
    if body.startswith("["):
        end = body.find("]")
        if end < 0 or body[end + 1:end + 2] != ":":
            raise InvalidArgument(f"invalid -p {spec}: want [ipv6]:hostPort:containerPort")
        ip, rest = body[1:end], body[end + 2:]
        if ":" not in rest:
            raise InvalidArgument(f"invalid -p {spec}: want [ipv6]:hostPort:containerPort")
    else:
        parts = body.split(":")
        if len(parts) > 3:
            raise InvalidArgument(f"invalid -p {spec}: put an IPv6 host address in brackets")
        if len(parts) < 3:
            return "", body
        ip, rest = parts[0], ":".join(parts[1:])
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        raise InvalidArgument(f"invalid host address {ip!r} in -p {spec}") from None
    return ip, rest


def parse_publish(spec: str) -> list[PortMapping]:
    """One ``-p`` value -> one mapping per container port."""
    text = spec.strip()
    body, _sep, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol {proto!r} in -p {spec}: want tcp or udp")
    if not body:
        raise InvalidArgument("invalid -p '': want [ip:][hostPort:]containerPort[/proto]")
    ip, rest = _split_host_ip(body, spec)
    host_text, sep, container_text = rest.rpartition(":")
    if not sep:
        container_text, host_text = rest, ""
    c_first, c_last = _port_range(container_text, spec)
    count = c_last - c_first + 1
    if not host_text:
        return [PortMapping(p, proto, ip) for p in range(c_first, c_last + 1)]
    h_first, h_last = _port_range(host_text, spec)
    if count == 1 and h_last > h_first:
        return [PortMapping(c_first, proto, ip, 0, (h_first, h_last))]
    if h_last - h_first + 1 != count:
        raise InvalidArgument(f"invalid -p {spec}: host and container port ranges differ in size")
    return [PortMapping(c_first + i, proto, ip, h_first + i) for i in range(count)]


def parse_all(specs: Iterable[Union[str, PortMapping]]) -> list[PortMapping]:
    """Parse every ``-p``; the same host port twice in one request is refused."""
    out: list[PortMapping] = []
    for spec in specs:
        for m in ([spec] if isinstance(spec, PortMapping) else parse_publish(spec)):
            if m not in out:
                out.append(m)
    seen: dict[tuple[str, int], PortMapping] = {}
    for m in out:
        if not m.host_port:
            continue
        for (proto, port), other in seen.items():
            same_ip = _ips_overlap(other.host_ip, m.host_ip)
            if proto == m.protocol and port == m.host_port and same_ip:
                raise Conflict(f"host port {m.host_port}/{m.protocol} is published twice "
                               f"({other.describe()} and {m.describe()})")
        seen[(m.protocol, m.host_port)] = m
    return out


def from_exposed(exposed: Union[Mapping[str, Any], Iterable[str]]) -> list[PortMapping]:
    """``-P``: every EXPOSEd port (``"80/tcp"`` keys of the image config) to a free host port."""
    out = []
    for key in sorted(exposed, key=lambda k: (k.partition("/")[2] or "tcp", k)):
        port, _sep, proto = key.partition("/")
        out.extend(parse_publish(f"{port}/{proto or 'tcp'}"))
    return out


def _ips_overlap(a: str, b: str) -> bool:
    return not a or not b or a == b


def _bind_error(proto: str, host_ip: str, port: int) -> Optional[OSError]:
    """Bind a socket on the host port the way a server would; the error if that fails."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as s:
        if proto == "tcp":  # a port only in TIME_WAIT is free for a new listener
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as e:
            return e
    return None


def _free_port(proto: str, host_ip: str) -> int:
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as s:
        s.bind((host_ip or "0.0.0.0", 0))
        return s.getsockname()[1]


def _check(m: PortMapping, port: int, published: Iterable[tuple[str, str, int]]) -> Optional[str]:
    """Why host ``port`` cannot serve mapping ``m``, or None."""
    for proto, ip, used in published:
        if proto == m.protocol and used == port and _ips_overlap(ip, m.host_ip):
            return "port is already allocated"
    err = _bind_error(m.protocol, m.host_ip, port)
    if err is None:
        return None
    if err.errno == errno.EADDRNOTAVAIL:
        return f"{m.host_ip} is not an address of this host"
    return err.strerror.lower() if err.strerror else str(err)


def resolve(mappings: Iterable[PortMapping],
            published: Iterable[tuple[str, str, int]] = ()) -> list[PortMapping]:
    """Give every mapping a concrete, available host port, or raise one clear line.

    ``published`` holds (proto, host_ip, port) already taken by berth's DNAT rules: those ports have
    no listening socket, so binding alone would not see them.
    """
    taken = list(published)
    out = []
    for m in mappings:
        if m.host_port:
            reason = _check(m, m.host_port, taken)
            if reason:
                raise Conflict(f"cannot publish {_host(m)}:{m.host_port}/{m.protocol}: {reason}")
            port = m.host_port
        elif m.host_port_range != (0, 0):
            low, high = m.host_port_range
            port = next((p for p in range(low, high + 1) if not _check(m, p, taken)), 0)
            if not port:
                raise Conflict(f"cannot publish {_host(m)}:{low}-{high}/{m.protocol}: every port "
                               f"of the range is in use")
        else:
            port = _random_port(m, taken)
        taken.append((m.protocol, m.host_ip, port))
        out.append(m.replace(host_port=port, host_port_range=(0, 0)))
    return out


def _random_port(m: PortMapping, taken: list[tuple[str, str, int]]) -> int:
    for _try in range(RANDOM_TRIES):
        try:
            port = _free_port(m.protocol, m.host_ip)
        except OSError as e:
            raise Conflict(f"cannot publish {_host(m)}:*/{m.protocol}: {e.strerror or e}") from None
        if not _check(m, port, taken):
            return port
    raise Conflict(f"cannot publish {m.key}: found no free host port")


def _host(m: PortMapping) -> str:
    return f"[{m.host_ip}]" if ":" in m.host_ip else (m.host_ip or "0.0.0.0")


def docker_ports(mappings: Iterable[PortMapping],
                 exposed: Iterable[str] = ()) -> dict[str, Optional[list[dict[str, str]]]]:
    """``NetworkSettings.Ports``: ``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}``;
    exposed but unpublished ports map to None."""
    out: dict[str, Optional[list[dict[str, str]]]] = {k if "/" in k else k + "/tcp": None
                                                      for k in exposed}
    for m in mappings:
        entries = out.get(m.key) or []
        entries.append({"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)})
        out[m.key] = entries
    return out
