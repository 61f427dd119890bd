"""Kernel network objects through netlink (pyroute2) and /proc/sys: bridges, veth pairs, network
namespace files, routes and sysctls. No ``ip`` shell-outs.

Every link berth creates carries the alias ``berth:<tag>`` (IFLA_IFALIAS) so leftovers are found by
tag, not by guessing from names.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import ipaddress
import os
import secrets
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import BerthError, Conflict, missing_library

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError as exc:  # netlink needs pyroute2; _ipr() says so when used
    IPRoute = None
    PYROUTE2_IMPORT_ERROR: ImportError | None = exc

    class NetlinkError(Exception):  # type: ignore[no-redef]
        """Stand-in so ``except NetlinkError`` stays valid; never raised without pyroute2."""

        code = 0
else:
    PYROUTE2_IMPORT_ERROR = None

TAG_PREFIX = "berth:"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
RT_TABLE_LOCAL = 255

_libc = ctypes.CDLL(None, use_errno=True)


def _share_libc_with_pyroute2() -> None:
    """pyroute2.netns finds libc with ctypes.util.find_library, which forks ``ldconfig -p`` on
    every process's first namespace switch; hand it the libc handle we have (an optimisation:
    if pyroute2 ever renames its private handle this does nothing)."""
    try:
        import pyroute2.netns as pyroute2_netns
    except ImportError:
        return
    if getattr(pyroute2_netns, "__libc", False) is None:
        setattr(pyroute2_netns, "__libc", _libc)


_share_libc_with_pyroute2()


class NetworkError(BerthError):
    """A kernel network operation failed."""


def _fail(what: str, e: Exception) -> NetworkError:
    if isinstance(e, NetlinkError):
        return NetworkError(f"{what}: {os.strerror(e.code)}")
    return NetworkError(f"{what}: {e}")


@contextlib.contextmanager
def _ipr(netns: Optional[str] = None) -> Iterator[IPRoute]:
    if IPRoute is None:
        raise missing_library("pyroute2", "container networking", PYROUTE2_IMPORT_ERROR)
    # flags=0: never let pyroute2 create a namespace at a path that went missing
    ipr = IPRoute(netns=netns, flags=0) if netns else IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def alias_for(tag: str) -> str:
    return TAG_PREFIX + tag


# ---- namespace files --------------------------------------------------------------------------

def create_netns(path: str) -> None:
    """A new network namespace with ``lo`` up, pinned by a bind mount on ``path`` (so other
    containers and ``nsenter --net=path`` can join it). Raises if ``path`` exists."""
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    except FileExistsError:
        raise Conflict(f"network namespace {path} already exists") from None
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child: only syscalls, then _exit
        code = 1
        try:
            os.close(err_r)
            if _libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
            _loopback_up()
            if _libc.mount(b"/proc/self/ns/net", os.fsencode(path), None, MS_BIND, None) != 0:
                raise OSError(ctypes.get_errno(), "bind mount failed")
            code = 0
        except BaseException as e:  # noqa: BLE001 - report through the pipe, never return
            with contextlib.suppress(OSError):
                os.write(err_w, str(e).encode()[:500])
        finally:
            os._exit(code)
    os.close(err_w)
    try:
        message = os.read(err_r, 600).decode(errors="replace")
    finally:
        os.close(err_r)
    _pid, status = os.waitpid(pid, 0)
    if status != 0 or message:
        remove_netns(path)
        raise NetworkError(f"cannot create network namespace {path}: {message or 'child failed'}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def remove_netns(path: str) -> None:
    """Unmount and delete a namespace file; missing is fine."""
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise NetworkError(f"cannot unmount network namespace {path}: {os.strerror(err)}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def is_netns(path: str) -> bool:
    """True if ``path`` is a mounted namespace file (not just an empty placeholder)."""
    try:
        with open(path, "rb"):
            pass
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


# ---- links ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str
    alias: str
    master: int

    @property
    def tag(self) -> Optional[str]:
        return self.alias[len(TAG_PREFIX):] if self.alias.startswith(TAG_PREFIX) else None


def _link_of(msg: Any) -> Link:
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else ""
    return Link(msg["index"], msg.get("ifname") or "", kind or "", msg.get("ifalias") or "",
                msg.get("master") or 0)


def links(netns: Optional[str] = None) -> list[Link]:
    with _ipr(netns) as ipr:
        return [_link_of(m) for m in ipr.get_links()]


def tagged_links() -> list[Link]:
    """Host links whose alias is ``berth:<tag>`` (bridges and host ends of veth pairs)."""
    return [link for link in links() if link.tag]


def find_link(name: str, netns: Optional[str] = None) -> Optional[Link]:
    with _ipr(netns) as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return None
        return _link_of(ipr.get_links(found[0])[0])


def delete_link(name: str) -> bool:
    """Delete a host link (a veth takes its peer with it); False if it was not there."""
    with _ipr() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return False
        try:
            ipr.link("del", index=found[0])
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise _fail(f"cannot delete interface {name}", e) from None
    return True


def ensure_bridge(name: str, gateway: ipaddress.IPv4Interface, tag: str,
                  mtu: Optional[int] = None) -> None:
    """Bridge ``name`` with ``gateway`` as its address, up, routing 127/8 (localhost DNAT).

    Idempotent; an interface of that name that berth did not tag is refused, never adopted."""
    alias = alias_for(tag)
    with _ipr() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            link = _link_of(ipr.get_links(found[0])[0])
            if link.kind != "bridge" or link.alias != alias:
                raise Conflict(f"interface {name} already exists and is not this network's bridge")
            index = found[0]
        else:
            try:
                ipr.link("add", ifname=name, kind="bridge")
            except NetlinkError as e:
                raise _fail(f"cannot create bridge {name}", e) from None
            index = ipr.link_lookup(ifname=name)[0]
        try:
            settings: dict[str, Any] = {"ifalias": alias}
            if mtu:
                settings["mtu"] = mtu
            ipr.link("set", index=index, **settings)
            have = {(a.get("IFA_ADDRESS"), a["prefixlen"])
                    for a in ipr.get_addr(index=index, family=socket.AF_INET)}
            if (str(gateway.ip), gateway.network.prefixlen) not in have:
                ipr.addr("add", index=index, address=str(gateway.ip),
                         prefixlen=gateway.network.prefixlen)
            ipr.link("set", index=index, state="up")
        except NetlinkError as e:
            if not found:
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", index=index)
            raise _fail(f"cannot set up bridge {name}", e) from None
    set_sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")


def new_veth_name() -> str:
    return "veth" + secrets.token_hex(4)[:7]


@dataclass(frozen=True)
class EndpointSpec:
    bridge: str
    netns: str
    ifname: str                              # inside the namespace: eth0, eth1, ...
    address: ipaddress.IPv4Interface
    mac: str
    gateway: Optional[ipaddress.IPv4Address]  # None: no default route (internal network)
    tag: str
    mtu: Optional[int] = None


def create_endpoint(spec: EndpointSpec) -> str:
    """A veth pair: the host end (returned name) on the bridge, the other end created directly in
    the namespace as ``spec.ifname`` with its address, MAC and (first network only) default route.
    On failure nothing is left."""
    host_end = new_veth_name()
    with _ipr() as ipr:
        bridge = ipr.link_lookup(ifname=spec.bridge)
        if not bridge:
            raise NetworkError(f"bridge {spec.bridge} does not exist")
        try:
            ipr.link("add", ifname=host_end, kind="veth",
                     peer={"ifname": spec.ifname, "net_ns_fd": spec.netns})
        except NetlinkError as e:
            raise _fail(f"cannot create veth pair {host_end}/{spec.ifname}", e) from None
        try:
            index = ipr.link_lookup(ifname=host_end)[0]
            settings: dict[str, Any] = {"master": bridge[0], "ifalias": alias_for(spec.tag)}
            if spec.mtu:
                settings["mtu"] = spec.mtu
            ipr.link("set", index=index, **settings)
            _configure_inside(spec)
            ipr.link("set", index=index, state="up")
        except BaseException as e:
            with contextlib.suppress(NetlinkError, IndexError):
                ipr.link("del", index=ipr.link_lookup(ifname=host_end)[0])
            if isinstance(e, (NetlinkError, OSError, IndexError)):
                raise _fail(f"cannot configure {spec.ifname} in {spec.netns}", e) from None
            raise
    return host_end


def _configure_inside(spec: EndpointSpec) -> None:
    with _ipr(spec.netns) as ns:
        index = ns.link_lookup(ifname=spec.ifname)[0]
        settings: dict[str, Any] = {"address": spec.mac}
        if spec.mtu:
            settings["mtu"] = spec.mtu
        ns.link("set", index=index, **settings)
        ns.addr("add", index=index, address=str(spec.address.ip),
                prefixlen=spec.address.network.prefixlen)
        ns.link("set", index=index, state="up")
        lo = ns.link_lookup(ifname="lo")
        if lo:
            ns.link("set", index=lo[0], state="up")
        if spec.gateway is not None and not _has_default_route(ns):
            ns.route("add", dst="0.0.0.0/0", gateway=str(spec.gateway), oif=index)


def _has_default_route(ipr: IPRoute) -> bool:
    return any(r.get("dst_len") == 0 and r.get("table") != RT_TABLE_LOCAL
               for r in ipr.get_routes(family=socket.AF_INET))


def delete_netns_link(netns: str, ifname: str) -> bool:
    """Delete ``ifname`` inside a namespace (its host end goes with it)."""
    if not is_netns(netns):
        return False
    with _ipr(netns) as ns:
        found = ns.link_lookup(ifname=ifname)
        if not found:
            return False
        try:
            ns.link("del", index=found[0])
        except NetlinkError as e:
            raise _fail(f"cannot delete {ifname} in {netns}", e) from None
    return True


def netns_ifnames(netns: str) -> set[str]:
    return {link.name for link in links(netns)} if is_netns(netns) else set()


# ---- routes and sysctls -----------------------------------------------------------------------

def ipv4_routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    """Every non-default IPv4 route of the host outside the local table, with its device name."""
    with _ipr() as ipr:
        names = {m["index"]: m.get("ifname") for m in ipr.get_links()}
        out = []
        for r in ipr.get_routes(family=socket.AF_INET):
            if r.get("table") == RT_TABLE_LOCAL or not r.get("dst_len"):
                continue
            net = ipaddress.IPv4Network(f"{r.get('dst')}/{r['dst_len']}", strict=False)
            out.append((net, names.get(r.get("oif"), "") or ""))
    return out


def set_sysctl(key: str, value: str) -> None:
    path = os.path.join("/proc/sys", key)
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise NetworkError(f"cannot set sysctl {key.replace('/', '.')}={value}: "
                           f"{e.strerror or e}") from None


def enable_ip_forward() -> None:
    set_sysctl("net/ipv4/ip_forward", "1")
