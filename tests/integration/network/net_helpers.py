"""Helpers of the network integration tests (a unique module name: tests dirs have no __init__)."""
from __future__ import annotations

import ipaddress
import random
import secrets
import subprocess
import time

from berth.network import NetworkManager, firewall, netlink
from berth.store import Store


def free_subnets(count: int) -> list[str]:
    """``count`` random 10.x /24s that overlap no host route (other tests' bridges included)."""
    routes = [net for net, _dev in netlink.ipv4_routes()]
    out: list[str] = []
    while len(out) < count:
        cand = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if not any(cand.overlaps(r) for r in routes) and str(cand) not in out:
            out.append(str(cand))
    return out


class NetEnv:
    def __init__(self, store: Store, manager: NetworkManager, suffix: str) -> None:
        self.store = store
        self.manager = manager
        self.suffix = suffix
        self.processes: list[subprocess.Popen] = []

    def bridge(self, n: int) -> str:
        return f"bt{self.suffix}{n}"

    def network(self, name: str, n: int, **kw) -> dict:
        subnet = kw.pop("subnet", None) or free_subnets(1)[0]
        options = {"com.docker.network.bridge.name": self.bridge(n)}
        return self.manager.create(f"{name}-{self.suffix}", subnet=subnet, options=options, **kw)

    def container_id(self) -> str:
        return secrets.token_hex(32)

    def spawn(self, netns: str, *argv: str, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["nsenter", f"--net={netns}", *argv], **kw)
        self.processes.append(proc)
        return proc

    def run_in(self, netns: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", f"--net={netns}", *argv], capture_output=True,
                              text=True, timeout=timeout, check=False)


def wait_until(predicate, what: str, attempts: int = 100, pause: float = 0.05):
    """Readiness polling (not a timed assertion): fail with ``what`` if it never happens."""
    for _attempt in range(attempts):
        result = predicate()
        if result:
            return result
        time.sleep(pause)
    raise AssertionError(f"never happened: {what}")


def tagged_leftovers(tags: set[str]) -> list[str]:
    """Rules and links in the kernel carrying one of ``tags``."""
    out = [r.line for r in firewall.tagged_rules() if r.tag in tags]
    out += [link.name for link in netlink.tagged_links() if link.tag in tags]
    return out
