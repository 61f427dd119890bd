"""Registry settings from the daemon config, and the endpoints to try for a registry host.

Docker's rules: ``registry-mirrors`` serve docker.io only and are tried in order before the origin;
``insecure-registries`` lists host:port entries and CIDRs (127.0.0.0/8 always counts) whose registries
may be reached with unverified TLS or plain http; ``certs.d/<host:port>/`` holds a registry's CA
(``*.crt``) and client certificate (``client.cert`` + ``client.key``).
"""
from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InvalidArgument
from ..paths import config_dir

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_INSECURE_CIDRS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Endpoint:
    url: str  # scheme://host[:port], no trailing slash
    insecure: bool  # skip TLS verification (https) or plain http allowed
    ca: str | None = None  # CA bundle file for https
    is_mirror: bool = False
    client_cert: tuple[str, str] | None = None  # (cert file, key file)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


def is_docker_hub(host: str) -> bool:
    return host.lower() in DOCKER_HUB_ALIASES


def split_host(host: str) -> tuple[str, int | None]:
    """``[::1]:5000`` -> ("::1", 5000); ``example.com`` -> ("example.com", None)."""
    if host.startswith("["):
        name, _sep, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, _sep, port = host.partition(":")
    else:
        name, port = host, ""
    if port and not port.isdigit():
        raise InvalidArgument(f"invalid registry host {host!r}")
    return name, int(port) if port else None


def is_loopback(host: str) -> bool:
    name, _port = split_host(host)
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class DaemonConfig:
    """The registry part of daemon.json, with Docker's key names."""

    def __init__(self, mirrors: list[str] | None = None, insecure_registries: list[str] | None = None,
                 config_root: str | None = None) -> None:
        self.config_root = config_root or config_dir()
        self.mirrors = [_normalise_mirror(m) for m in (mirrors or [])]
        self.insecure_hosts: set[str] = set()
        self.insecure_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
            ipaddress.ip_network(c) for c in DEFAULT_INSECURE_CIDRS]
        for entry in insecure_registries or []:
            if not isinstance(entry, str) or not entry:
                raise InvalidArgument(f"invalid insecure-registries entry {entry!r}")
            entry = _strip_scheme(entry)
            if "/" in entry:
                try:
                    self.insecure_networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise InvalidArgument(f"invalid insecure-registries CIDR {entry!r}") from None
            else:
                self.insecure_hosts.add(entry.lower())

    @classmethod
    def load(cls, config_root: str | None = None) -> DaemonConfig:
        root = config_root or config_dir()
        path = os.path.join(root, "daemon.json")
        try:
            with open(path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return cls(config_root=root)
        except ValueError as e:
            raise InvalidArgument(f"invalid daemon config {path}: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"invalid daemon config {path}: expected a JSON object")
        mirrors = doc.get("registry-mirrors") or []
        insecure = doc.get("insecure-registries") or []
        for key, value in (("registry-mirrors", mirrors), ("insecure-registries", insecure)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidArgument(f"invalid daemon config {path}: {key} must be a list of strings")
        return cls(mirrors, insecure, config_root=root)

    def is_insecure(self, host: str) -> bool:
        """True if ``host`` (host[:port]) is listed as insecure by name, or is an IP address inside a
        listed CIDR. Unlike Docker, host names are not resolved for the CIDR check: no DNS lookups
        while reading configuration, and the answer cannot change with the resolver."""
        host = host.lower()
        name, _port = split_host(host)
        if host in self.insecure_hosts or name in self.insecure_hosts:
            return True
        if name == "localhost":
            return True
        try:
            addr = ipaddress.ip_address(name)
        except ValueError:
            return False
        return any(addr in net for net in self.insecure_networks if addr.version == net.version)

    def certs_for(self, host: str) -> tuple[str | None, tuple[str, str] | None]:
        """(CA bundle file, (client cert, client key)) from certs.d/<host>, like Docker."""
        directory = os.path.join(self.config_root, "certs.d", host.replace("[", "").replace("]", ""))
        if not os.path.isdir(directory):
            return None, None
        ca_path = os.path.join(directory, "ca.crt")
        if not os.path.isfile(ca_path):
            crts = sorted(n for n in os.listdir(directory) if n.endswith(".crt"))
            ca_path = os.path.join(directory, crts[0]) if crts else ""
        cert = os.path.join(directory, "client.cert")
        key = os.path.join(directory, "client.key")
        if os.path.isfile(cert) != os.path.isfile(key):
            raise InvalidArgument(f"{directory}: client.cert and client.key must both exist")
        return (ca_path or None), ((cert, key) if os.path.isfile(cert) else None)

    def endpoints_for(self, registry_host: str) -> list[Endpoint]:
        """Endpoints to try, in order, for pulling from ``registry_host``."""
        if is_docker_hub(registry_host):
            endpoints = [self._endpoint(url, mirror=True) for url in self.mirrors]
            endpoints.append(self._endpoint(f"https://{DOCKER_HUB_API}", mirror=False))
            return endpoints
        split_host(registry_host)  # validates the port
        if self.is_insecure(registry_host):
            # Docker tries TLS first (without verification), then plain http.
            ca, cert = self.certs_for(registry_host)
            return [Endpoint(f"https://{registry_host}", True, ca, False, cert),
                    Endpoint(f"http://{registry_host}", True, None, False, None)]
        return [self._endpoint(f"https://{registry_host}", mirror=False)]

    def _endpoint(self, url: str, mirror: bool) -> Endpoint:
        parts = urlsplit(url)
        ca, cert = self.certs_for(parts.netloc)
        insecure = parts.scheme == "http" or self.is_insecure(parts.netloc)
        return Endpoint(f"{parts.scheme}://{parts.netloc}", insecure, ca, mirror, cert)


def endpoints_for(registry_host: str, config: DaemonConfig | None = None) -> list[Endpoint]:
    return (config or DaemonConfig.load()).endpoints_for(registry_host)


def _strip_scheme(entry: str) -> str:
    for prefix in ("http://", "https://"):
        if entry.lower().startswith(prefix):
            return entry[len(prefix):].rstrip("/")
    return entry


def _normalise_mirror(url: object) -> str:
    if not isinstance(url, str):
        raise InvalidArgument(f"invalid registry mirror {url!r}")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") \
            or parts.query or parts.fragment:
        raise InvalidArgument(f"invalid registry mirror {url!r}: expected http(s)://host[:port]")
    return f"{parts.scheme}://{parts.netloc}"
