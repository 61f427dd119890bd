"""The network part of daemon.json, with Docker's key names: ``bridge``, ``bip``, ``mtu``,
``default-address-pools``."""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from collections.abc import Iterator
from typing import Any, Optional

from ..errors import InvalidArgument
from ..paths import DEFAULT_ROOT, config_dir
from ..values import Value, field

DEFAULT_BRIDGE = "berth0"
DEFAULT_BIP = "10.88.0.1/16"
DEFAULT_MTU = 1500
# Like Docker's default-address-pools, in a range Docker does not use so both can live on one host.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (("10.89.0.0/16", 24), ("10.90.0.0/15", 24))
IFNAMSIZ = 15


class Pool(Value):
    """An address pool: ``base`` is cut into subnets of prefix length ``size``."""
    base: ipaddress.IPv4Network
    size: int

    def subnets(self) -> Iterator[ipaddress.IPv4Network]:
        return self.base.subnets(new_prefix=self.size)


class NetworkConfig(Value):
    """daemon.json's network settings: the default bridge, its address, the MTU, the pools."""
    bridge: Optional[str] = None  # None: see default_bridge_name
    bip: Optional[ipaddress.IPv4Interface] = None  # None: pick 10.88.0.1/16 or a free default
    mtu: int = DEFAULT_MTU
    pools: list[Pool] = field(default_factory=lambda: [
        Pool(ipaddress.IPv4Network(base), size) for base, size in DEFAULT_POOLS])

    def default_bridge_name(self, root: str) -> str:
        """daemon.json ``bridge``; else ``berth0`` for the default root and a name derived from the
        root for any other, so two berth roots on one host never fight over one bridge."""
        if self.bridge:
            return self.bridge
        if os.path.abspath(root) == DEFAULT_ROOT:
            return DEFAULT_BRIDGE
        return "berth-" + hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:8]

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "daemon config") -> NetworkConfig:
        cfg = cls()
        bridge = doc.get("bridge")
        if bridge is not None:
            check_ifname(bridge, f"{where}: bridge")
            cfg.bridge = bridge
        bip = doc.get("bip")
        if bip is not None:
            try:
                cfg.bip = ipaddress.IPv4Interface(bip)
            except ValueError:
                raise InvalidArgument(f"{where}: invalid bip {bip!r} (want an IPv4 CIDR like "
                                      f"10.88.0.1/16)") from None
            if cfg.bip.ip in (cfg.bip.network.network_address, cfg.bip.network.broadcast_address):
                raise InvalidArgument(f"{where}: bip {bip} is not a host address of its subnet")
        mtu = doc.get("mtu")
        if mtu is not None:
            if not isinstance(mtu, int) or not 68 <= mtu <= 65535:
                raise InvalidArgument(f"{where}: invalid mtu {mtu!r}")
            cfg.mtu = mtu
        pools = doc.get("default-address-pools")
        if pools is not None:
            cfg.pools = [_pool(p, where) for p in _list(pools, where)]
        return cfg

    @classmethod
    def load(cls, config_root: Optional[str] = None) -> NetworkConfig:
        path = os.path.join(config_root or config_dir(), "daemon.json")
        try:
            with open(path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return cls()
        except ValueError as e:
            raise InvalidArgument(f"invalid daemon config {path}: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"invalid daemon config {path}: expected a JSON object")
        return cls.from_dict(doc, path)


def check_ifname(name: Any, what: str) -> None:
    if (not isinstance(name, str) or not name or len(name) > IFNAMSIZ or "/" in name
            or any(c.isspace() for c in name) or name in (".", "..")):
        raise InvalidArgument(f"{what}: invalid interface name {name!r} (1-15 characters, no '/' "
                              f"or spaces)")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(f"{where}: default-address-pools must be a list")
    return value


def _pool(entry: Any, where: str) -> Pool:
    try:
        base = ipaddress.IPv4Network(entry["base"])
        size = int(entry["size"])
    except (TypeError, KeyError, ValueError):
        raise InvalidArgument(f"{where}: invalid default-address-pools entry {entry!r} (want "
                              f"{{\"base\": \"10.89.0.0/16\", \"size\": 24}})") from None
    if not base.prefixlen <= size <= 30:
        raise InvalidArgument(f"{where}: pool {base} cannot be cut into /{size} subnets")
    return Pool(base, size)
