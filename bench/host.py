"""Host state the benchmark may change, recorded before and put back after.

Other engineers' tests run on the same host at the same time, so nothing here restores a whole
table: only the iptables rules and chains that appeared during the run AND belong to a reference
engine (DOCKER*, CNI-*, NETAVARK*, or naming one of the bench's bridges/subnets) are deleted, the
filter/nat built-in chain policies are set back to what they were, bridges and netns files the
reference engines created are removed, and every mount under the bench's temp dir is detached.
"""
from __future__ import annotations

import ctypes
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

ENGINE_CHAIN_PREFIXES = ("DOCKER", "CNI-", "NETAVARK")
# Paths the reference engines create outside their configured roots whatever the flags say.
WATCHED = ("/etc/docker/key.json", "/run/docker", "/run/containerd", "/run/runc", "/run/netns",
           "/var/lib/cni", "/run/libpod", "/run/containers",
           os.path.expanduser("~/.config/containers"))
TABLES = ("filter", "nat")
MNT_DETACH = 2


def log(msg: str) -> None:
    sys.stderr.write(f"bench: {msg}\n")
    sys.stderr.flush()


def _save(table: str) -> str:
    proc = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True,
                          check=False)
    return proc.stdout if proc.returncode == 0 else ""


def parse_table(text: str) -> tuple[dict[str, str], set[str], list[str]]:
    """(built-in chain policies, chain names, '-A ...' rule lines) of one iptables-save table."""
    policies: dict[str, str] = {}
    chains: set[str] = set()
    rules: list[str] = []
    for line in text.splitlines():
        if line.startswith(":"):
            name, policy = line[1:].split()[:2]
            chains.add(name)
            if policy != "-":
                policies[name] = policy
        elif line.startswith("-A "):
            rules.append(line)
    return policies, chains, rules


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def netns_files() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix``, deepest first."""
    prefix = prefix.rstrip("/")
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def detach_mounts(prefix: str) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    count = 0
    for _attempt in range(3):  # a detach can uncover a mount below it
        points = mounts_under(prefix)
        if not points:
            break
        for point in points:
            if libc.umount2(point.encode(), MNT_DETACH) == 0:
                count += 1
    return count


@dataclass
class HostSnapshot:
    """What the host looked like before the bench started any engine."""
    tables: dict[str, tuple[dict[str, str], set[str], list[str]]] = field(default_factory=dict)
    links: set[str] = field(default_factory=set)
    netns: set[str] = field(default_factory=set)
    cni_files: set[str] = field(default_factory=set)
    ip_forward: str = "0"
    shm: set[str] = field(default_factory=set)
    existing: set[str] = field(default_factory=set)

    @classmethod
    def take(cls) -> "HostSnapshot":
        snap = cls()
        for table in TABLES:
            snap.tables[table] = parse_table(_save(table))
        snap.links = links()
        snap.netns = netns_files()
        snap.cni_files = _tree("/var/lib/cni")
        snap.shm = set(os.listdir("/dev/shm"))
        snap.existing = {p for p in WATCHED if os.path.lexists(p)}
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            snap.ip_forward = f.read().strip()
        return snap


def _tree(root: str) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.add(os.path.join(dirpath, name))
    return out


def _ours(rule: str, chain: str, markers: tuple[str, ...]) -> bool:
    words = shlex.split(rule)
    target = words[words.index("-j") + 1] if "-j" in words else ""
    if chain.startswith(ENGINE_CHAIN_PREFIXES) or target.startswith(ENGINE_CHAIN_PREFIXES):
        return True
    return any(m in rule for m in markers)


def restore_iptables(before: HostSnapshot, markers: tuple[str, ...]) -> list[str]:
    """Delete the reference engines' new rules/chains; put built-in chain policies back."""
    done: list[str] = []
    for table in TABLES:
        old_policies, old_chains, old_rules = before.tables[table]
        policies, chains, rules = parse_table(_save(table))
        old = set(old_rules)
        for rule in rules:
            chain = rule.split()[1]
            if rule in old or not _ours(rule, chain, markers):
                continue
            spec = shlex.split(rule)[2:]
            if subprocess.run(["iptables", "-w", "-t", table, "-D", chain, *spec],
                              capture_output=True, check=False).returncode == 0:
                done.append(f"{table}: -D {chain} {' '.join(spec)}")
        for chain in sorted(chains - old_chains):
            if chain.startswith(ENGINE_CHAIN_PREFIXES):
                subprocess.run(["iptables", "-w", "-t", table, "-F", chain], capture_output=True,
                               check=False)
        for chain in sorted(chains - old_chains):
            if chain.startswith(ENGINE_CHAIN_PREFIXES):
                if subprocess.run(["iptables", "-w", "-t", table, "-X", chain],
                                  capture_output=True, check=False).returncode == 0:
                    done.append(f"{table}: -X {chain}")
        for chain, policy in old_policies.items():
            if policies.get(chain) not in (None, policy):
                subprocess.run(["iptables", "-w", "-t", table, "-P", chain, policy], check=False)
                done.append(f"{table}: -P {chain} {policy}")
    return done


def restore_links(before: HostSnapshot, names: tuple[str, ...]) -> list[str]:
    """Remove the bridges (and stray veths on them) that the reference engines created."""
    done = []
    for name in sorted(links() - before.links):
        if name in names or name.startswith(("docker", "cni-podman", "br-")):
            proc = subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
            if proc.returncode == 0:
                done.append(f"link {name}")
    return done


def restore_netns(before: HostSnapshot) -> list[str]:
    """Podman's CNI network namespaces live in /run/netns/cni-*: remove the new ones."""
    done = []
    for name in sorted(netns_files() - before.netns):
        if name.startswith("cni-"):
            path = f"/run/netns/{name}"
            ctypes.CDLL(None, use_errno=True).umount2(path.encode(), MNT_DETACH)
            try:
                os.unlink(path)
                done.append(f"netns {name}")
            except OSError:
                pass
    return done


def restore_files(before: HostSnapshot) -> list[str]:
    """CNI's result cache (/var/lib/cni) and podman's shm lock files created during the run."""
    done = []
    for path in sorted(_tree("/var/lib/cni") - before.cni_files, key=len, reverse=True):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
            done.append(path)
        except OSError:
            pass
    for name in sorted(set(os.listdir("/dev/shm")) - before.shm):
        if name.startswith("libpod"):
            try:
                os.unlink(f"/dev/shm/{name}")
                done.append(f"/dev/shm/{name}")
            except OSError:
                pass
    return done


def restore_paths(before: HostSnapshot) -> list[str]:
    """Remove what the engines created at WATCHED paths: files, and directories left empty."""
    done = []
    for path in WATCHED:
        if path in before.existing or not os.path.lexists(path):
            continue
        if not os.path.isdir(path) or os.path.islink(path):
            os.unlink(path)
            done.append(path)
            continue
        for walked in sorted(os.walk(path), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(walked[0])
            except OSError:
                pass
        done.append(path if not os.path.exists(path) else f"{path} left: not empty or busy")
    return done


def restore_ip_forward(before: HostSnapshot) -> list[str]:
    """Put ip_forward back unless another engine (e.g. a concurrent berth test) now relies on it."""
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        now = f.read().strip()
    if now == before.ip_forward:
        return []
    foreign = [n for n in links() if n.startswith("berth-")]
    if foreign:
        return [f"ip_forward left at {now}: other bridges ({len(foreign)}) are up"]
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write(before.ip_forward)
    return [f"ip_forward {now} -> {before.ip_forward}"]
