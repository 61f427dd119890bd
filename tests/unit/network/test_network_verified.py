"""The per-boot markers of verified network rules (a fake /sys and boot id: no kernel)."""
from __future__ import annotations

import os

import pytest

from berth.network import verified
from berth.network.verified import VerifiedNetworks

LINES = ["-A BERTH-FORWARD -o br0 -m comment --comment berth:n1 -j DROP"]


@pytest.fixture
def host(monkeypatch, tmp_path):
    """A boot id file and /sys/class/net/br0/ifindex under tmp_path."""
    boot = tmp_path / "boot_id"
    boot.write_text("b1\n")
    (tmp_path / "net" / "br0").mkdir(parents=True)
    (tmp_path / "net" / "br0" / "ifindex").write_text("7\n")
    monkeypatch.setattr(verified, "BOOT_ID", str(boot))
    monkeypatch.setattr(verified, "SYS_NET", str(tmp_path / "net"))
    return tmp_path


def test_fresh_only_after_record_and_until_forget(host):
    marks = VerifiedNetworks(str(host / "run"))
    assert not marks.fresh("n1", "br0", LINES)
    marks.record("n1", "br0", LINES)
    assert marks.fresh("n1", "br0", LINES)
    assert os.listdir(marks.dir) == ["n1"]  # no temp file left
    marks.forget("n1")
    marks.forget("n1")  # idempotent
    assert not marks.fresh("n1", "br0", LINES)


@pytest.mark.parametrize("change", ["reboot", "new bridge", "other rules", "no bridge"])
def test_stale_after_a_reboot_a_new_bridge_or_other_rules(host, change):
    marks = VerifiedNetworks(str(host / "run"))
    marks.record("n1", "br0", LINES)
    lines = LINES
    if change == "reboot":
        (host / "boot_id").write_text("b2\n")
    elif change == "new bridge":
        (host / "net" / "br0" / "ifindex").write_text("8\n")
    elif change == "other rules":
        lines = LINES + ["-A BERTH-FORWARD -i br0 -m comment --comment berth:n1 -j ACCEPT"]
    else:
        os.unlink(host / "net" / "br0" / "ifindex")
    assert not marks.fresh("n1", "br0", lines)


def test_an_unwritable_run_dir_only_costs_a_verification(host):
    (host / "run").write_text("a file where the directory should be")
    marks = VerifiedNetworks(str(host / "run"))
    marks.record("n1", "br0", LINES)  # no error: the marker is only a saving
    assert not marks.fresh("n1", "br0", LINES)
