"""A container's /etc/hosts and /etc/resolv.conf, as strings; the container service writes them into
the container dir (``write_in_place`` keeps a bind-mounted file's inode so live updates show)."""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence

from ..errors import InvalidArgument

HOSTS_HEAD = ("127.0.0.1\tlocalhost\n"
              "::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\n"
              "ff02::1\tip6-allnodes\n"
              "ff02::2\tip6-allrouters\n")
HOST_RESOLV_CONF = "/etc/resolv.conf"


def parse_add_host(value: str) -> tuple[str, str]:
    """``--add-host name:ip`` (also ``name=ip``, IPv6 allowed, optionally in brackets)."""
    sep = "=" if "=" in value else ":"
    name, _sep, ip = value.partition(sep)
    ip = ip.strip()
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip == "host-gateway":
        raise InvalidArgument(f"invalid --add-host {value}: host-gateway is not supported")
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        raise InvalidArgument(f"invalid --add-host {value!r}: want name:ip") from None
    if not name or any(c.isspace() for c in name):
        raise InvalidArgument(f"invalid --add-host {value!r}: want name:ip")
    return name, ip


def hosts_file(hostname: str = "", ips: Sequence[str] = (), aliases: Iterable[str] = (),
               extra_hosts: Iterable[str] = (),
               peers: Iterable[tuple[str, Iterable[str]]] = ()) -> str:
    """Docker's layout: localhost lines, ``--add-host`` entries, the container's own addresses with
    its hostname and aliases, then peers on its user networks (berth has no embedded DNS, so names
    of containers sharing a user network are resolved through this file)."""
    lines = [HOSTS_HEAD]
    for entry in extra_hosts:
        name, ip = parse_add_host(entry)
        lines.append(f"{ip}\t{name}\n")
    names = _unique([hostname, *aliases])
    for ip in ips:
        if names:
            lines.append(f"{ip}\t{' '.join(names)}\n")
    own = set(ips)
    for ip, peer_names in peers:
        peer = _unique(peer_names)
        if ip not in own and peer:
            lines.append(f"{ip}\t{' '.join(peer)}\n")
    return "".join(lines)


def _unique(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        if n and n not in out:
            out.append(n)
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_conf(dns: Sequence[str] = (), dns_search: Sequence[str] = (),
                dns_options: Sequence[str] = (), host_network: bool = False,
                host_path: str = HOST_RESOLV_CONF) -> str:
    """``--dns``, ``--dns-search`` (``.`` clears) and ``--dns-option`` override the host's values.

    Without flags the host's file is used minus loopback name servers, which mean nothing inside a
    network namespace; no public resolver is added (the host may be offline): if nothing remains
    the file has no nameserver line. With the host's network the host file is used as is."""
    host = _read(host_path)
    if host_network and not (dns or dns_search or dns_options):
        return host
    servers, search, options = [], [], []
    for line in host.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            if host_network or not _is_loopback(fields[1]):
                servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    for server in dns:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidArgument(f"invalid --dns {server!r}: want an IP address") from None
    if dns:
        servers = list(dns)
    if dns_search:
        search = [] if list(dns_search) == ["."] else list(dns_search)
    if dns_options:
        options = list(dns_options)
    out = [f"nameserver {s}\n" for s in servers]
    if search:
        out.append(f"search {' '.join(search)}\n")
    if options:
        out.append(f"options {' '.join(options)}\n")
    return "".join(out)


def write_in_place(path: str, content: str) -> None:
    """Rewrite ``path`` keeping its inode (a rename would leave a bind mount on the old file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        data = content.encode()
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
