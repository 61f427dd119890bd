"""How often berth runs iptables, against the real kernel: no call for a container without published
ports, one dump + one restore to publish, one restore to unpublish; a network's rules verified once
per boot and bridge, again after ``check()`` found them short; exact deletes that fall back to a
dump when the kernel's rules differ."""
from __future__ import annotations

import os
import subprocess

import pytest
from net_helpers import tagged_leftovers

from berth.network import PortMapping, firewall, netlink, records, verified


@pytest.fixture
def calls(monkeypatch) -> list[list[str]]:
    """Every iptables program berth runs from now on (argv without the table contents)."""
    seen: list[list[str]] = []
    real = firewall._run

    def counting(argv, stdin=None):
        seen.append(list(argv))
        return real(argv, stdin)
    monkeypatch.setattr(firewall, "_run", counting)
    return seen


def _programs(calls: list[list[str]]) -> list[str]:
    return [" ".join(argv[:3]) if argv[0] == firewall.IPTABLES_SAVE else argv[0] for argv in calls]


def _rules_of(tag: str) -> list[str]:
    return [r.line for r in firewall.tagged_rules() if r.tag == tag]


def _default_id(net_env) -> str:
    return net_env.manager.ensure_default()["Id"]


def test_container_without_ports_runs_no_iptables(net_env, calls):
    _default_id(net_env)  # creates the bridge: its rules are verified once here
    assert _programs(calls).count("iptables-save") == 1
    calls.clear()
    cid = net_env.container_id()
    att = net_env.manager.attach(cid, "bridge")
    net_env.manager.release_container(cid)
    assert calls == []
    assert not os.path.exists(att.netns_path) and tagged_leftovers({cid}) == []


def test_publish_is_one_dump_and_one_restore_unpublish_one_restore(net_env, calls):
    _default_id(net_env)
    calls.clear()
    cid = net_env.container_id()
    att = net_env.manager.attach(cid, "bridge", ports=["80", "127.0.0.1::81", "53/udp"])
    assert _programs(calls) == ["iptables-save -t nat", "iptables-restore"]
    assert len(_rules_of(cid)) == 3 and all(p.host_port for p in att.ports)
    calls.clear()
    net_env.manager.release_container(cid)
    assert _programs(calls) == ["iptables-restore"]
    assert tagged_leftovers({cid}) == []


def test_release_of_several_deletes_all_their_rules_in_one_batch(net_env, calls):
    _default_id(net_env)
    published = [net_env.container_id() for _count in range(3)]
    quiet = net_env.container_id()
    for cid in published:
        net_env.manager.attach(cid, "bridge", ports=["80"])
    net_env.manager.attach(quiet, "bridge")
    calls.clear()
    net_env.manager.release_containers([*published, quiet])
    assert _programs(calls) == ["iptables-restore"]
    assert tagged_leftovers({*published, quiet}) == []
    assert not records.sandboxes(net_env.store.db)


def test_release_falls_back_to_a_dump_when_a_rule_is_gone(net_env, calls):
    _default_id(net_env)
    cid = net_env.container_id()
    net_env.manager.attach(cid, "bridge", ports=["80", "81"])
    first = _rules_of(cid)[0]
    subprocess.run(["iptables", "-t", "nat", "-D", *first.replace('"', "").split()[1:]],
                   check=True)  # someone deleted one of the two by hand
    calls.clear()
    net_env.manager.release_container(cid)
    # the exact batch is refused as a whole, then the dump finds and deletes the other rule
    assert _programs(calls) == ["iptables-restore", "iptables-save", "iptables-restore"]
    assert tagged_leftovers({cid}) == []


def test_stale_rules_of_the_container_are_replaced_on_publish(net_env, calls):
    _default_id(net_env)
    cid = net_env.container_id()
    with net_env.store.db.transaction() as tx:  # a crash left a rule of cid behind
        records.record_tag(tx, cid, "container")
    firewall.replace(cid, firewall.port_rules("10.255.255.254", [PortMapping(80, host_port=1)]))
    calls.clear()
    att = net_env.manager.attach(cid, "bridge", ports=["80"])
    assert _programs(calls) == ["iptables-save -t nat", "iptables-restore"]
    [rule] = _rules_of(cid)
    assert f"--to-destination {att.ip}:80" in rule


def test_add_with_an_outdated_snapshot_reads_the_tables_again(net_env):
    tag = net_env.container_id()
    with net_env.store.db.transaction() as tx:
        records.record_tag(tx, tag, "container")
    rules = firewall.port_rules("10.255.255.253", [PortMapping(80, host_port=2)])
    ghost = firewall.SavedRule("nat", firewall.DNAT_CHAIN, rules[0].line(tag).replace(
        "--dport 2", "--dport 3"), tag)  # a rule the snapshot showed, gone since
    try:
        firewall.add(tag, rules, [ghost])
        assert _rules_of(tag) == [rules[0].line(tag).replace(f"berth:{tag}", f'"berth:{tag}"')]
    finally:
        firewall.remove([tag])


def test_network_rules_are_verified_once_then_again_when_stale(
        net_env, calls, monkeypatch, tmp_path):
    net_id = _default_id(net_env)
    assert os.path.exists(os.path.join(net_env.manager.verified.dir, net_id))
    calls.clear()
    net_env.manager.ensure_default()
    net_env.manager.attach(net_env.container_id(), "bridge")
    assert calls == []  # verified on this boot for this bridge: no dump

    boot = tmp_path / "boot_id"  # a reboot: another boot id
    boot.write_text("00000000-0000-4000-8000-000000000000\n")
    monkeypatch.setattr(verified, "BOOT_ID", str(boot))
    net_env.manager.ensure_default()
    assert _programs(calls) == ["iptables-save"]
    calls.clear()
    net_env.manager.ensure_default()
    assert calls == []
    monkeypatch.setattr(verified, "BOOT_ID", "/proc/sys/kernel/random/boot_id")

    net_env.manager.ensure_default()  # this boot again: stale, verified once more
    assert _programs(calls) == ["iptables-save"]
    calls.clear()
    netlink.delete_link(net_env.bridge(0))  # the bridge is made again: a new interface index
    net_env.manager.ensure_default()
    assert _programs(calls) == ["iptables-save"]


def test_check_notices_flushed_network_rules_and_the_next_attach_restores_them(net_env, calls):
    net_id = _default_id(net_env)
    want = len(_rules_of(net_id))
    firewall.remove([net_id])  # an admin's flush, limited to this test's rules
    calls.clear()
    net_env.manager.attach(net_env.container_id(), "bridge")
    assert calls == [] and _rules_of(net_id) == []  # the marker cannot see a flush
    report = net_env.manager.check()
    assert f"firewall rules of network bridge (0 of {want})" in report.missing
    assert not os.path.exists(os.path.join(net_env.manager.verified.dir, net_id))
    net_env.manager.attach(net_env.container_id(), "bridge")  # verifies again, restores
    assert len(_rules_of(net_id)) == want
    assert net_env.manager.check().clean


def test_network_rm_deletes_its_rules_without_a_dump(net_env, calls):
    info = net_env.network("gone", 1)
    calls.clear()
    net_env.manager.remove(info["Name"])
    assert _programs(calls) == ["iptables-restore"]
    assert tagged_leftovers({info["Id"]}) == []
    assert not os.path.exists(os.path.join(net_env.manager.verified.dir, info["Id"]))


def test_publish_notices_a_flushed_nat_side_of_its_network(net_env, calls):
    net_id = _default_id(net_env)
    want = len(_rules_of(net_id))
    firewall.remove([net_id])  # a flush the marker cannot see
    calls.clear()
    net_env.manager.attach(net_env.container_id(), "bridge", ports=["80"])
    # the nat dump that picks the port shows it, and the network is verified and repaired
    assert _programs(calls)[:2] == ["iptables-save -t nat", "iptables-save"]
    assert len(_rules_of(net_id)) == want
    assert net_env.manager.check().clean
