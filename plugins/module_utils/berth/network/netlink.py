"""Kernel network objects through rtnetlink (``rtnl``) and /proc/sys: bridges, veth pairs, network
namespace files, routes and sysctls. No ``ip`` shell-outs.

Every link berth creates carries the alias ``berth:<tag>`` (IFLA_IFALIAS) so leftovers are found by
tag, not by guessing from names.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
from typing import Optional

from ..errors import BerthError, Conflict
from ..values import Value
from .rtnl import CLONE_NEWNET, RT_TABLE_LOCAL, LinkMsg, NetlinkError, Rtnl
from .rtnl import libc as _libc

TAG_PREFIX = "berth:"
MS_BIND = 4096
MNT_DETACH = 2


class NetworkError(BerthError):
    """A kernel network operation failed."""


def _fail(what: str, e: Exception) -> NetworkError:
    if isinstance(e, OSError) and e.errno:
        return NetworkError(f"{what}: {os.strerror(e.errno)}")
    return NetworkError(f"{what}: {e}")


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
    """``lo`` of the calling process's (new) namespace up."""
    with Rtnl() as rt:
        rt.set_link(_index_of(rt, "lo"), up=True)


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

class Link(Value, frozen=True):
    """A host network interface as berth sees it (``tag``: the berth object it belongs to)."""
    index: int
    name: str
    kind: str
    alias: str
    master: int

    @property
    def tag(self) -> Optional[str]:
        return self.alias[len(TAG_PREFIX):] if self.alias.startswith(TAG_PREFIX) else None


def _link_of(msg: LinkMsg) -> Link:
    return Link(msg.index, msg.name, msg.kind, msg.alias, msg.master)


def links(netns: Optional[str] = None) -> list[Link]:
    with Rtnl(netns) as rt:
        return [_link_of(m) for m in rt.links()]


def tagged_links() -> list[Link]:
    """Host links whose alias is ``berth:<tag>`` (bridges and host ends of veth pairs)."""
    return [link for link in links() if link.tag]


def find_link(name: str, netns: Optional[str] = None) -> Optional[Link]:
    with Rtnl(netns) as rt:
        found = rt.link(name)
    return _link_of(found) if found else None


def delete_link(name: str) -> bool:
    """Delete a host link (a veth takes its peer with it); False if it was not there."""
    with Rtnl() as rt:
        found = rt.link(name)
        if found is None:
            return False
        try:
            rt.delete_link(found.index)
        except NetlinkError as e:
            if e.errno == errno.ENODEV:
                return False
            raise _fail(f"cannot delete interface {name}", e) from None
    return True


def ensure_bridge(name: str, gateway: ipaddress.IPv4Interface, tag: str,
                  mtu: Optional[int] = None) -> None:
    """Bridge ``name`` with ``gateway`` as its address, up, routing 127/8 (localhost DNAT).

    Idempotent; an interface of that name that berth did not tag is refused, never adopted."""
    alias = alias_for(tag)
    with Rtnl() as rt:
        found = rt.link(name)
        if found:
            if found.kind != "bridge" or found.alias != alias:
                raise Conflict(f"interface {name} already exists and is not this network's bridge")
            index = found.index
        else:
            try:
                rt.add_bridge(name)
                index = _index_of(rt, name)
            except NetlinkError as e:
                raise _fail(f"cannot create bridge {name}", e) from None
        try:
            rt.set_link(index, alias=alias, mtu=mtu or None)
            if (str(gateway.ip), gateway.network.prefixlen) not in rt.addresses(index):
                rt.add_address(index, str(gateway.ip), gateway.network.prefixlen)
            rt.set_link(index, up=True)
        except NetlinkError as e:
            if not found:
                with contextlib.suppress(NetlinkError):
                    rt.delete_link(index)
            raise _fail(f"cannot set up bridge {name}", e) from None
    set_sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")


def _index_of(rt: Rtnl, name: str) -> int:
    found = rt.link(name)
    if found is None:
        raise NetlinkError(errno.ENODEV, f"interface {name} vanished")
    return found.index


def new_veth_name() -> str:
    return "veth" + os.urandom(4).hex()[:7]


class EndpointSpec(Value, frozen=True):
    """A container's veth endpoint: the bridge it joins and the namespace side's settings."""
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
    with Rtnl() as rt:
        bridge = rt.link(spec.bridge)
        if bridge is None:
            raise NetworkError(f"bridge {spec.bridge} does not exist")
        try:
            rt.add_veth(host_end, spec.ifname, spec.netns)
        except NetlinkError as e:
            raise _fail(f"cannot create veth pair {host_end}/{spec.ifname}", e) from None
        try:
            index = _index_of(rt, host_end)
            rt.set_link(index, master=bridge.index, alias=alias_for(spec.tag), mtu=spec.mtu or None)
            _configure_inside(spec)
            rt.set_link(index, up=True)
        except BaseException as e:
            with contextlib.suppress(OSError):
                rt.delete_link(_index_of(rt, host_end))
            if isinstance(e, OSError):
                raise _fail(f"cannot configure {spec.ifname} in {spec.netns}", e) from None
            raise
    return host_end


def _configure_inside(spec: EndpointSpec) -> None:
    with Rtnl(spec.netns) as ns:
        index = _index_of(ns, spec.ifname)
        ns.set_link(index, mac=spec.mac, mtu=spec.mtu or None)
        ns.add_address(index, str(spec.address.ip), spec.address.network.prefixlen)
        ns.set_link(index, up=True)  # lo is up since create_netns
        if spec.gateway is not None and not _has_default_route(ns):
            ns.add_default_route(str(spec.gateway), index)


def _has_default_route(rt: Rtnl) -> bool:
    return any(r.dst_len == 0 and r.table != RT_TABLE_LOCAL for r in rt.routes())


def delete_netns_link(netns: str, ifname: str) -> bool:
    """Delete ``ifname`` inside a namespace (its host end goes with it)."""
    if not is_netns(netns):
        return False
    with Rtnl(netns) as ns:
        found = ns.link(ifname)
        if found is None:
            return False
        try:
            ns.delete_link(found.index)
        except NetlinkError as e:
            raise _fail(f"cannot delete {ifname} in {netns}", e) from None
    return True


def netns_ifnames(netns: str) -> set[str]:
    return {link.name for link in links(netns)} if is_netns(netns) else set()


# ---- routes and sysctls -----------------------------------------------------------------------

def ipv4_routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    """Every non-default IPv4 route of the host outside the local table, with its device name."""
    with Rtnl() as rt:
        names = {link.index: link.name for link in rt.links()}
        out = []
        for r in rt.routes():
            if r.table == RT_TABLE_LOCAL or not r.dst_len or r.dst is None:
                continue
            net = ipaddress.IPv4Network(f"{r.dst}/{r.dst_len}", strict=False)
            out.append((net, names.get(r.oif, "")))
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
