"""Netfilter rules through the ``iptables`` CLI (its stable interface, nft or legacy backend alike).

Chains (shared by every berth root on the host, created once, never deleted)::

    nat    BERTH              <- PREROUTING, OUTPUT (-m addrtype --dst-type LOCAL): DNAT per port
    nat    BERTH-POSTROUTING  <- POSTROUTING: MASQUERADE out, hairpin, localhost -> container
    filter BERTH-FORWARD      <- FORWARD (first): isolation, then accept to/from berth bridges
    filter BERTH-ISOLATION, BERTH-ISOLATION-2: traffic between two berth bridges is dropped
    filter BERTH-INPUT        <- INPUT (first): no 127/8 into the host from a bridge

Every rule berth adds carries ``-m comment --comment berth:<tag>`` (network or container id); rules
of one owner are added in one ``iptables-restore --noflush`` batch and deleted in one.

Dumps (``iptables-save``) cost an exec and a parse that grows with the host's rules, so the hot
paths avoid them: rules berth wrote are deleted by their exact text (``delete``; a dump only when
that is refused), new port rules are added with the dump that chose their host ports (``add``),
and the manager calls ``ensure`` only for a network not verified since boot.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Optional

from ..errors import BerthError
from ..values import Value
from .portmap import PortMapping

IPTABLES = "iptables"
IPTABLES_RESTORE = "iptables-restore"
IPTABLES_SAVE = "iptables-save"
# Host-wide, not per berth root: the chains are shared. Not /run/xtables.lock: iptables-legacy
# itself takes that one and would wait for us forever.
LOCK_PATH = "/run/berth-iptables.lock"

DNAT_CHAIN = "BERTH"
POST_CHAIN = "BERTH-POSTROUTING"
FORWARD_CHAIN = "BERTH-FORWARD"
ISOLATION_1 = "BERTH-ISOLATION"
ISOLATION_2 = "BERTH-ISOLATION-2"
INPUT_CHAIN = "BERTH-INPUT"
BASE_COMMENT = "berth"
TAG_PREFIX = "berth:"
TABLES = ("nat", "filter")  # every berth chain and rule lives in one of these

CHAINS = (("nat", DNAT_CHAIN), ("nat", POST_CHAIN), ("filter", FORWARD_CHAIN),
          ("filter", ISOLATION_1), ("filter", ISOLATION_2), ("filter", INPUT_CHAIN))
_LOCAL = ["-m", "addrtype", "--dst-type", "LOCAL"]
# (table, chain, rule, insert-first) hooking berth's chains in; order inside a chain matters only
# for BERTH-FORWARD, whose first rule must be the isolation jump.
HOOKS = (("nat", "PREROUTING", _LOCAL + ["-j", DNAT_CHAIN], False),
         ("nat", "OUTPUT", _LOCAL + ["-j", DNAT_CHAIN], False),
         ("nat", "POSTROUTING", ["-j", POST_CHAIN], False),
         ("filter", "FORWARD", ["-j", FORWARD_CHAIN], True),
         ("filter", "INPUT", ["-j", INPUT_CHAIN], True),
         ("filter", FORWARD_CHAIN, ["-j", ISOLATION_1], True))


class FirewallError(BerthError):
    """iptables refused a change."""


class Rule(Value, frozen=True):
    """One iptables rule of berth's, without its comment tag (``line`` adds it)."""
    table: str
    chain: str
    match: tuple[str, ...]
    target: tuple[str, ...]

    def line(self, tag: str) -> str:
        parts = ["-A", self.chain, *self.match, "-m", "comment", "--comment", TAG_PREFIX + tag,
                 *self.target]
        # iptables-restore knows only double quotes; berth's tokens never need any
        if any(not p or any(c.isspace() or c in "\"'" for c in p) for p in parts):
            raise FirewallError(f"refusing to write an ambiguous iptables rule: {parts}")
        return " ".join(parts)


class SavedRule(Value, frozen=True):
    """One ``-A`` line of iptables-save that carries a berth comment."""
    table: str
    chain: str
    line: str           # as printed by iptables-save, quoting included
    tag: str


def _rule(table: str, chain: str, match: str, target: str) -> Rule:
    return Rule(table, chain, tuple(match.split()), tuple(target.split()))


def network_rules(bridge: str, subnet: str, internal: bool) -> list[Rule]:
    """What a bridge network needs, in order (DROPs after the ACCEPTs of the same bridge)."""
    b, s = bridge, subnet
    rules = [
        _rule("filter", ISOLATION_1, f"-i {b} ! -o {b}", f"-j {ISOLATION_2}"),
        _rule("filter", ISOLATION_2, f"-o {b}", "-j DROP"),
        # route_localnet is on for the bridge: refuse new packets from it to 127/8 on the host
        _rule("filter", INPUT_CHAIN, f"-i {b} -d 127.0.0.0/8 -m conntrack ! --ctstate "
                                     f"RELATED,ESTABLISHED", "-j DROP"),
    ]
    if internal:
        return rules + [
            _rule("filter", FORWARD_CHAIN, f"-i {b} -o {b}", "-j ACCEPT"),
            _rule("filter", FORWARD_CHAIN, f"-i {b}", "-j DROP"),
            _rule("filter", FORWARD_CHAIN, f"-o {b}", "-j DROP"),
        ]
    return rules + [
        _rule("nat", POST_CHAIN, f"-s {s} ! -o {b}", "-j MASQUERADE"),
        _rule("nat", POST_CHAIN, f"-s {s} -o {b} -m conntrack --ctstate DNAT", "-j MASQUERADE"),
        _rule("nat", POST_CHAIN, f"-o {b} -m addrtype --src-type LOCAL", "-j MASQUERADE"),
        _rule("filter", FORWARD_CHAIN, f"-o {b} -m conntrack --ctstate RELATED,ESTABLISHED",
              "-j ACCEPT"),
        _rule("filter", FORWARD_CHAIN, f"-o {b} -m conntrack --ctstate DNAT", "-j ACCEPT"),
        _rule("filter", FORWARD_CHAIN, f"-i {b}", "-j ACCEPT"),
        _rule("filter", FORWARD_CHAIN, f"-o {b}", "-j DROP"),
    ]


def port_rules(container_ip: str, mappings: Iterable[PortMapping]) -> list[Rule]:
    """One DNAT per published port; localhost works through route_localnet + BERTH-POSTROUTING."""
    out = []
    for m in mappings:
        match = f"-p {m.protocol} -m {m.protocol} --dport {m.host_port}"
        if m.host_ip:
            match = f"-d {m.host_ip}/32 " + match
        out.append(_rule("nat", DNAT_CHAIN, match,
                         f"-j DNAT --to-destination {container_ip}:{m.container_port}"))
    return out


# ---- running iptables -------------------------------------------------------------------------

@contextlib.contextmanager
def _locked() -> Iterator[None]:
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise FirewallError(f"{argv[0]} not found: install the iptables package") from None


def _check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise FirewallError(f"{what}: {detail[0] if detail else f'exit {proc.returncode}'}")


def save(tables: Sequence[str] = TABLES) -> str:
    """The dump holding ``tables``: ``-t`` for one table; for several, one full dump (each exec
    costs more than reading past the lines of other tables)."""
    proc = _run([IPTABLES_SAVE, "-t", tables[0]] if len(tables) == 1 else [IPTABLES_SAVE])
    _check(proc, "iptables-save failed")
    return proc.stdout


def _restore_text(batch: dict[str, list[str]]) -> str:
    return "".join(f"*{table}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"
                   for table, lines in batch.items() if lines)


def _restore(batch: dict[str, list[str]], what: str) -> None:
    text = _restore_text(batch)
    if text:
        _check(_run([IPTABLES_RESTORE, "-w", "--noflush"], stdin=text), what)


def _try_restore(batch: dict[str, list[str]]) -> bool:
    """Apply ``batch``; False if iptables-restore refused it (it then changed nothing in the
    refused table: each table's batch is one transaction)."""
    text = _restore_text(batch)
    return not text or _run([IPTABLES_RESTORE, "-w", "--noflush"], stdin=text).returncode == 0


def parse_saved(text: str, tables: Sequence[str] = ()
                ) -> tuple[set[tuple[str, str]], list[str], list[SavedRule]]:
    """(chains, every rule line as ``table|line``, berth-tagged rules) of an iptables-save dump;
    of ``tables`` only if given."""
    chains: set[tuple[str, str]] = set()
    lines: list[str] = []
    tagged: list[SavedRule] = []
    table = ""
    skip = False
    for raw in text.splitlines():
        if raw.startswith("*"):
            table = raw[1:].strip()
            skip = bool(tables) and table not in tables
        elif skip:
            continue
        elif raw.startswith(":"):
            chains.add((table, raw[1:].split()[0]))
        elif raw.startswith("-A "):
            lines.append(f"{table}|{raw}")
            if TAG_PREFIX not in raw:
                continue
            tag = _tag_of(raw)
            if tag is not None:
                tagged.append(SavedRule(table, raw.split(None, 2)[1], raw, tag))
    return chains, lines, tagged


#: the berth comment of a saved rule: tags are ids, so no quoting but the optional double quotes
_TAG_COMMENT = re.compile(r'--comment (?:"{0}([\w.:-]+)"|{0}([\w.:-]+))(?: |$)'.format(
    re.escape(TAG_PREFIX)))


def _tag_of(raw: str) -> str | None:
    """The berth tag of one ``-A`` line; a regex, not shlex: dumps with many containers have
    hundreds of berth lines and this runs on every start and removal."""
    found = _TAG_COMMENT.search(raw)
    if found:
        return found.group(1) or found.group(2)
    try:  # an unusual rendering: tokenise it properly
        tokens = shlex.split(raw)
    except ValueError:
        return None
    for i, tok in enumerate(tokens[:-1]):
        if tok == "--comment" and tokens[i + 1].startswith(TAG_PREFIX):
            return tokens[i + 1][len(TAG_PREFIX):]
    return None


def _has_rule(lines: list[str], table: str, chain: str, rule: list[str]) -> bool:
    """Does ``chain`` hold ``rule`` (ignoring its comment)? Compared token-wise on save output."""
    for entry in lines:
        t, _sep, raw = entry.partition("|")
        if t != table or raw.split(None, 2)[1] != chain:  # cheap filter before shlex
            continue
        tokens = shlex.split(raw)
        if tokens[1] != chain:
            continue
        if "--comment" in tokens:
            i = tokens.index("--comment")
            tokens = tokens[:i - 2] + tokens[i + 2:]
        if tokens[2:] == rule:
            return True
    return False


# the parts of a DNAT rule as iptables-save prints it (berth wrote it: no quoting in these)
_PROTO = re.compile(r" -p (\w+)(?: |$)")
_DPORT = re.compile(r" --dport (\d+)(?: |$)")
_DEST = re.compile(r" -d ([0-9.]+)(?:/32)?(?: |$)")


class Snapshot(Value):
    """One parsed dump of some of berth's tables."""
    chains: set[tuple[str, str]]
    lines: list[str]            # every rule as ``table|line``
    tagged: list[SavedRule]
    tables: Sequence[str] = TABLES

    def rules_of(self, tag: str) -> list[SavedRule]:
        return [r for r in self.tagged if r.tag == tag]

    def published_ports(self) -> list[tuple[str, str, int]]:
        """(proto, host_ip or "", port) of every DNAT in the BERTH chain, whichever root made it."""
        out = []
        for rule in self.tagged:
            if rule.table != "nat" or rule.chain != DNAT_CHAIN:
                continue
            proto, port = _PROTO.search(rule.line), _DPORT.search(rule.line)
            if proto and port:
                dest = _DEST.search(rule.line)
                out.append((proto.group(1), dest.group(1) if dest else "", int(port.group(1))))
        return out

    def missing_base(self) -> list[str]:
        """berth's chains and hooks (in the dumped tables) that are not there: a flushed table,
        a deleted chain."""
        out = [f"iptables chain {table}/{chain}" for table, chain in CHAINS
               if table in self.tables and (table, chain) not in self.chains]
        out += [f"iptables hook {table}/{chain} -> {rule[-1]}" for table, chain, rule, _first
                in HOOKS if table in self.tables and not _has_rule(self.lines, table, chain, rule)]
        return out

    def lacks(self, tag: str, rules: Sequence[Rule]) -> bool:
        """Is anything of the base or of ``rules`` (tagged ``tag``) missing in the dumped tables?
        Counted, as ``ensure`` does."""
        have = sum(1 for r in self.tagged if r.tag == tag and r.table in self.tables)
        return have != sum(1 for r in rules if r.table in self.tables) or bool(self.missing_base())


def snapshot(tables: Sequence[str] = TABLES) -> Snapshot:
    return Snapshot(*parse_saved(save(tables), tables), tables=tuple(tables))


def ensure(tag: str, rules: Sequence[Rule]) -> None:
    """berth's chains and hooks exist, and the rules tagged ``tag`` are ``rules`` (checked by
    count; a differing set is replaced in one batch). One iptables-save when nothing is missing."""
    with _locked():
        snap = snapshot()
        if _ensure_base(snap.chains, snap.lines):
            snap = snapshot()
        current = snap.rules_of(tag)
        if len(current) != len(rules):
            _replace_locked(tag, rules, current)


def _ensure_base(chains: set[tuple[str, str]], lines: list[str]) -> bool:
    """Create what is missing; True if anything was."""
    changed = False
    for table, chain in CHAINS:
        if (table, chain) not in chains:
            changed = True
            proc = _run([IPTABLES, "-w", "-t", table, "-N", chain])
            if proc.returncode != 0 and "exists" not in proc.stderr:
                _check(proc, f"cannot create chain {table}/{chain}")
    for table, chain, rule, first in HOOKS:
        if _has_rule(lines, table, chain, rule):
            continue
        changed = True
        where = ["-I", chain, "1"] if first else ["-A", chain]
        comment = ["-m", "comment", "--comment", BASE_COMMENT]
        _check(_run([IPTABLES, "-w", "-t", table, *where, *rule[:-2], *comment, *rule[-2:]]),
               f"cannot hook {chain} in {table}")
    return changed


def tagged_rules() -> list[SavedRule]:
    return snapshot().tagged


def replace(tag: str, rules: Sequence[Rule]) -> None:
    """Make ``rules`` exactly the rules tagged ``tag``: one batch deletes old, adds new."""
    with _locked():
        _replace_locked(tag, rules, snapshot().rules_of(tag))


def _replace_locked(tag: str, rules: Sequence[Rule], current: Sequence[SavedRule]) -> None:
    _restore(_batch(tag, rules, current), f"cannot apply firewall rules of {tag[:12]}")


def _batch(tag: str, rules: Sequence[Rule], stale: Sequence[SavedRule]) -> dict[str, list[str]]:
    batch = _deletions(stale)
    for rule in rules:
        batch.setdefault(rule.table, []).append(rule.line(tag))
    return batch


def _deletions(saved: Iterable[SavedRule]) -> dict[str, list[str]]:
    """A batch deleting ``saved`` (rules as iptables-save printed them), by table."""
    batch: dict[str, list[str]] = {"nat": [], "filter": []}
    for old in saved:
        batch.setdefault(old.table, []).append("-D" + old.line[2:])
    return batch


def add(tag: str, rules: Sequence[Rule], stale: Sequence[SavedRule] = ()) -> None:
    """Make ``rules`` the rules tagged ``tag`` without a dump of its own: ``stale`` are the rules of
    ``tag`` that the caller's recent ``snapshot`` showed, deleted in the same batch. If that
    batch is refused (the snapshot is out of date), ``replace`` reads the tables again."""
    with _locked():
        if not stale:
            _restore(_batch(tag, rules, ()), f"cannot apply firewall rules of {tag[:12]}")
        elif not _try_restore(_batch(tag, rules, stale)):
            _replace_locked(tag, rules, snapshot().rules_of(tag))


def delete(owned: Mapping[str, Sequence[Rule]]) -> None:
    """Delete the rules ``{tag: rules}`` that ``add``/``replace``/``ensure`` wrote, by their exact
    text in one batch, without a dump. If iptables refuses it (a rule is gone or differs: a
    flushed table, the rule text of an older berth), every rule tagged with one of the tags goes
    the slow way (a dump, then ``remove``)."""
    batch: dict[str, list[str]] = {}
    for tag, rules in owned.items():
        for rule in rules:
            batch.setdefault(rule.table, []).append("-D" + rule.line(tag)[2:])
    if not batch:
        return
    with _locked():
        if not _try_restore(batch):
            _remove_locked(set(owned))


def remove(tags: Iterable[str]) -> int:
    """Delete every rule tagged with one of ``tags`` in one batch; returns how many."""
    with _locked():
        return _remove_locked(set(tags))


def _remove_locked(wanted: set[str]) -> int:
    doomed = [old for old in tagged_rules() if old.tag in wanted]
    _restore(_deletions(doomed), "cannot remove firewall rules")
    return len(doomed)


def published_ports(snap: Optional[Snapshot] = None) -> list[tuple[str, str, int]]:
    """(proto, host_ip or "", port) of every DNAT in the BERTH chain (a dump of nat if no
    ``snap``)."""
    return (snap or snapshot(("nat",))).published_ports()
