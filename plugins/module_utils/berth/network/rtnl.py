"""A small rtnetlink client (NETLINK_ROUTE) on the stdlib: the dozen requests berth's networking
makes — links, IPv4 addresses and routes — encoded with ``struct`` as linux/rtnetlink.h lays them out.

Why not pyroute2: importing it cost 70–300 ms on every container command (docs/performance.md),
more than everything else ``berth run`` does in the kernel.

    with Rtnl() as rt:                      # the host's namespace
        link = rt.link("br0")               # None if there is no such link
        rt.set_link(link.index, up=True)
    with Rtnl("/run/berth/netns/abc") as rt:   # a socket opened inside a namespace file
        rt.add_address(index, "10.0.0.2", 24)

Errors are :class:`NetlinkError` (an ``OSError`` with the kernel's errno).
"""
from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import socket
import struct
import threading
from typing import Optional

from ..values import Value

# message types and flags (linux/rtnetlink.h, linux/netlink.h)
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER

# attributes
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_IFALIAS, IFLA_NET_NS_FD = 18, 20, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15

IFF_UP = 0x1
RT_TABLE_MAIN, RT_TABLE_LOCAL = 254, 255
RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 3, 0, 1
CLONE_NEWNET = 0x40000000

_HEADER = struct.Struct("=IHHII")       # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")      # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBi")       # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")    # rtmsg: family, dst_len, src_len, tos, table, protocol,
#                                         scope, type, flags
_ATTR = struct.Struct("=HH")            # rtattr: len, type
_U32 = struct.Struct("=I")
_ERRNO = struct.Struct("=i")
_RECV_SIZE = 1 << 16  # the kernel caps a dump's message batch at 32 KiB

libc = ctypes.CDLL(None, use_errno=True)  # also netlink.py's: one handle per process


class NetlinkError(OSError):
    """The kernel refused a request; ``errno`` says why."""


class LinkMsg(Value, frozen=True):
    """The fields of an RTM_NEWLINK reply that berth reads."""
    index: int
    name: str
    kind: str       # IFLA_INFO_KIND: "bridge", "veth", ... ("" for physical devices and lo)
    alias: str
    master: int     # the bridge's index, 0 if none
    up: bool


class RouteMsg(Value, frozen=True):
    """The fields of an RTM_NEWROUTE reply that berth reads."""
    dst: Optional[ipaddress.IPv4Address]   # None: the default route
    dst_len: int
    table: int
    oif: int


def _align(length: int) -> int:
    return (length + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def _attr_str(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def _attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def parse_attrs(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attribute type -> payload; a malformed tail ends the walk instead of reading past it."""
    attrs: dict[int, bytes] = {}
    end = len(data)
    while offset + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size or offset + length > end:
            break
        attrs[kind & NLA_TYPE_MASK] = data[offset + _ATTR.size:offset + length]
        offset += _align(length)
    return attrs


def _text(payload: Optional[bytes]) -> str:
    return payload.split(b"\0", 1)[0].decode(errors="replace") if payload else ""


def _u32(payload: Optional[bytes]) -> int:
    return _U32.unpack(payload[:4])[0] if payload and len(payload) >= 4 else 0


def parse_link(body: bytes) -> LinkMsg:
    _family, _type, index, flags, _change = _IFINFO.unpack_from(body)
    attrs = parse_attrs(body, _IFINFO.size)
    info = parse_attrs(attrs[IFLA_LINKINFO]) if IFLA_LINKINFO in attrs else {}
    return LinkMsg(index, _text(attrs.get(IFLA_IFNAME)), _text(info.get(IFLA_INFO_KIND)),
                   _text(attrs.get(IFLA_IFALIAS)), _u32(attrs.get(IFLA_MASTER)), bool(flags & IFF_UP))


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, flags, change)


def _open_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                         socket.NETLINK_ROUTE)


def _open_socket_in(netns: str) -> socket.socket:
    """A netlink socket belongs to the namespace it was created in. Create it in a short-lived
    thread that joins ``netns`` (setns changes only the calling thread), so this process's own
    namespace never changes, even when something fails half-way."""
    outcome: dict[str, object] = {}

    def join_and_open() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise NetlinkError(err, f"cannot join network namespace {netns}: "
                                            f"{os.strerror(err)}")
            finally:
                os.close(fd)
            outcome["socket"] = _open_socket()
        except OSError as e:
            outcome["error"] = e

    thread = threading.Thread(target=join_and_open, name="berth-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["socket"]  # type: ignore[return-value]


class Rtnl:
    """One NETLINK_ROUTE socket, in the host's namespace or in the one pinned at ``netns``."""

    def __init__(self, netns: Optional[str] = None) -> None:
        self._sock = _open_socket_in(netns) if netns else _open_socket()
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the wire ---------------------------------------------------------------------------

    def request(self, msg_type: int, body: bytes, flags: int = 0) -> list[bytes]:
        """Send one message; return the bodies of the replies. A dump ends with NLMSG_DONE, any
        other request asks for an ack, which ends it (an error ack raises)."""
        self._seq += 1
        seq = self._seq
        dump = flags & NLM_F_DUMP == NLM_F_DUMP
        flags |= NLM_F_REQUEST | (0 if dump else NLM_F_ACK)
        self._sock.send(_HEADER.pack(_HEADER.size + len(body), msg_type, flags, seq, 0) + body)
        replies: list[bytes] = []
        while True:
            data = self._sock.recv(_RECV_SIZE)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, reply_seq, _pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size or offset + length > len(data):
                    raise NetlinkError(errno.EBADMSG, "truncated netlink reply")
                body_at, offset = offset + _HEADER.size, offset + _align(length)
                if reply_seq != seq:
                    continue  # a late reply to an earlier request
                if kind == NLMSG_DONE:
                    return replies
                if kind == NLMSG_ERROR:
                    code = -_ERRNO.unpack_from(data, body_at)[0]
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return replies
                replies.append(data[body_at:body_at + length - _HEADER.size])

    # ---- links --------------------------------------------------------------------------------

    def links(self) -> list[LinkMsg]:
        return [parse_link(b) for b in self.request(RTM_GETLINK, _ifinfo(), NLM_F_DUMP)]

    def link(self, name: str) -> Optional[LinkMsg]:
        try:
            found = self.request(RTM_GETLINK, _ifinfo() + _attr_str(IFLA_IFNAME, name))
        except NetlinkError as e:
            if e.errno in (errno.ENODEV, errno.EINVAL):  # EINVAL: a name the kernel cannot hold
                return None
            raise
        return parse_link(found[0]) if found else None

    def add_bridge(self, name: str) -> None:
        linkinfo = attr(IFLA_LINKINFO, _attr_str(IFLA_INFO_KIND, "bridge"))
        self.request(RTM_NEWLINK, _ifinfo() + _attr_str(IFLA_IFNAME, name) + linkinfo,
                     NLM_F_CREATE | NLM_F_EXCL)

    def add_veth(self, name: str, peer: str, peer_netns: str) -> None:
        """A veth pair: ``name`` here, ``peer`` created directly in the namespace file
        ``peer_netns`` (so it is never visible on the host)."""
        fd = os.open(peer_netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            peer_msg = _ifinfo() + _attr_str(IFLA_IFNAME, peer) + _attr_u32(IFLA_NET_NS_FD, fd)
            linkinfo = attr(IFLA_LINKINFO, _attr_str(IFLA_INFO_KIND, "veth")
                            + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg)))
            self.request(RTM_NEWLINK, _ifinfo() + _attr_str(IFLA_IFNAME, name) + linkinfo,
                         NLM_F_CREATE | NLM_F_EXCL)
        finally:
            os.close(fd)

    def set_link(self, index: int, *, up: Optional[bool] = None, master: Optional[int] = None,
                 alias: Optional[str] = None, mtu: Optional[int] = None,
                 mac: Optional[str] = None) -> None:
        attrs = b""
        if master is not None:
            attrs += _attr_u32(IFLA_MASTER, master)
        if alias is not None:
            attrs += attr(IFLA_IFALIAS, alias.encode())
        if mtu is not None:
            attrs += _attr_u32(IFLA_MTU, mtu)
        if mac is not None:
            attrs += attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
        change = IFF_UP if up is not None else 0
        self.request(RTM_NEWLINK, _ifinfo(index, IFF_UP if up else 0, change) + attrs)

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, _ifinfo(index))

    # ---- IPv4 addresses and routes ------------------------------------------------------------

    def addresses(self, index: int) -> set[tuple[str, int]]:
        """(address, prefix length) of every IPv4 address on link ``index``."""
        found = set()
        for body in self.request(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0),
                                 NLM_F_DUMP):
            _family, prefixlen, _flags, _scope, owner = _IFADDR.unpack_from(body)
            if owner != index:
                continue
            attrs = parse_attrs(body, _IFADDR.size)
            address = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if address and len(address) == 4:
                found.add((socket.inet_ntoa(address), prefixlen))
        return found

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        packed = socket.inet_aton(address)
        attrs = attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        if prefixlen < 31:  # like `ip addr add ... brd +` and Docker
            network = ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False)
            attrs += attr(IFA_BROADCAST, network.broadcast_address.packed)
        self.request(RTM_NEWADDR, _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE,
                                               index) + attrs, NLM_F_CREATE | NLM_F_EXCL)

    def routes(self) -> list[RouteMsg]:
        """Every IPv4 route of every table."""
        out = []
        for body in self.request(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0),
                                 NLM_F_DUMP):
            _family, dst_len, _src, _tos, table, _proto, _scope, _type, _flags = \
                _RTMSG.unpack_from(body)
            attrs = parse_attrs(body, _RTMSG.size)
            dst = attrs.get(RTA_DST)
            out.append(RouteMsg(ipaddress.IPv4Address(dst) if dst and len(dst) == 4 else None,
                                dst_len, _u32(attrs.get(RTA_TABLE)) or table,
                                _u32(attrs.get(RTA_OIF))))
        return out

    def add_default_route(self, gateway: str, oif: int) -> None:
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                           RTN_UNICAST, 0)
        self.request(RTM_NEWROUTE, body + attr(RTA_GATEWAY, socket.inet_aton(gateway))
                     + _attr_u32(RTA_OIF, oif), NLM_F_CREATE | NLM_F_EXCL)
