"""Which bridge networks had their firewall rules verified since the host booted.

``NetworkManager`` realises a network on every attach; reading iptables for that costs a dump per
container start. Rules vanish with a reboot, so a marker per network in BERTH_RUN records what the
last verification saw: the boot id, the bridge's interface index and the rule set's digest. A
reboot (new boot id; /run is emptied too), a recreated bridge or a berth whose rules differ makes
the marker stale, and the next attach verifies (and repairs) again. A flush by hand
(``iptables -F``) is not visible here: ``check()`` finds it, drops the marker (so the next
attach restores the rules) and ``--repair`` restores them at once.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from typing import Optional

BOOT_ID = "/proc/sys/kernel/random/boot_id"
SYS_NET = "/sys/class/net"


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class VerifiedNetworks:
    def __init__(self, run_dir: str) -> None:
        self.dir = os.path.join(run_dir, "network", "verified")

    def _path(self, network_id: str) -> str:
        return os.path.join(self.dir, network_id)

    @staticmethod
    def stamp(bridge: str, rule_lines: Sequence[str]) -> Optional[str]:
        """What a marker holds; None when the boot or the bridge cannot be read (never fresh)."""
        boot, index = _read(BOOT_ID), _read(os.path.join(SYS_NET, bridge, "ifindex"))
        if not boot or not index:
            return None
        digest = hashlib.sha256("\n".join(rule_lines).encode()).hexdigest()[:16]
        return f"{boot} {index} {digest}"

    def fresh(self, network_id: str, bridge: str, rule_lines: Sequence[str]) -> bool:
        """Were the rules ``rule_lines`` of this network verified on this boot, for this bridge?"""
        want = self.stamp(bridge, rule_lines)
        return want is not None and _read(self._path(network_id)) == want

    def record(self, network_id: str, bridge: str, rule_lines: Sequence[str]) -> None:
        """Call after a successful verification (write, then rename: never a torn marker)."""
        stamp = self.stamp(bridge, rule_lines)
        if stamp is None:
            return
        tmp = self._path(f".{network_id}.{os.getpid()}")
        try:
            os.makedirs(self.dir, 0o700, exist_ok=True)
            with open(tmp, "w") as f:
                f.write(stamp + "\n")
            os.replace(tmp, self._path(network_id))
        except OSError:  # only a saving lost: the next attach verifies again
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def forget(self, network_id: str) -> None:
        """Before the network's rules change or go (and when they were found wrong)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(network_id))
