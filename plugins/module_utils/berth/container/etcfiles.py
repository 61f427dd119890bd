"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container sees: files in the container dir,
bind-mounted at start. They are rewritten in place (same inode) so a running container sees the
updates its peers' starts and stops cause; the contents come from ``berth.network.hosts``."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .layout import ContainerPaths, write_atomic

HOST_HOSTS = "/etc/hosts"
ETC_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def prepare(paths: ContainerPaths, hostname: str) -> None:
    """At create: the hostname, and empty hosts/resolv.conf that ``start`` fills."""
    write_atomic(paths.hostname, (hostname + "\n").encode())
    for path in (paths.hosts, paths.resolv_conf):
        write_atomic(path, b"")


def hosts_content(hostname: str, ips: Sequence[str] = (), names: Iterable[str] = (),
                  extra_hosts: Sequence[str] = (),
                  peers: Iterable[tuple[str, Iterable[str]]] = (),
                  host_network: bool = False) -> str:
    """Docker's /etc/hosts: with the host's network the host's file plus ``--add-host`` lines;
    otherwise localhost, ``--add-host``, the container's own addresses (hostname, name, aliases)
    and its peers (user-network neighbours and ``--link`` targets)."""
    from ..network import hosts_file, parse_add_host

    if host_network:
        text = _read(HOST_HOSTS)
        if text and not text.endswith("\n"):
            text += "\n"
        for entry in extra_hosts:
            name, ip = parse_add_host(entry)
            text += f"{ip}\t{name}\n"
        return text
    return hosts_file(hostname, ips, list(names), extra_hosts, peers)


def resolv_content(dns: Sequence[str] = (), search: Sequence[str] = (),
                   options: Sequence[str] = (), host_network: bool = False) -> str:
    """The host's resolver minus loopback servers (no public fallback), ``--dns*`` overriding."""
    from ..network import resolv_conf

    return resolv_conf(dns, search, options, host_network=host_network)


def write(path: str, content: str) -> None:
    """Rewrite keeping the inode, so a bind mount of ``path`` sees the new content."""
    from ..network import write_in_place

    write_in_place(path, content)


def write_start(paths: ContainerPaths, hostname: str, hosts: str, resolv: str) -> None:
    write(paths.hostname, hostname + "\n")
    write(paths.hosts, hosts)
    write(paths.resolv_conf, resolv)


def use_files_of(oci: Mapping[str, Any], other: ContainerPaths) -> None:
    """``--network container:<other>``: bind the other container's hostname/hosts/resolv.conf."""
    sources = dict(zip(ETC_FILES, (other.hostname, other.hosts, other.resolv_conf)))
    for mount in oci.get("mounts") or []:
        if mount.get("destination") in sources and mount.get("type") == "bind":
            source = sources[mount["destination"]]
            if os.path.exists(source):
                mount["source"] = source
