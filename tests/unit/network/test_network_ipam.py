"""IPAM: subnet validation and choice, address allocation, daemon.json network keys."""
from __future__ import annotations

import ipaddress
import json

import pytest

from berth.errors import Conflict, InvalidArgument
from berth.network import NetworkConfig
from berth.network.ipam import (SubnetSpec, UsedRange, check_free, choose_address,
                                default_bridge_spec, mac_for, parse_spec, pick_from_pools)

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address


def used(*nets: str) -> list[UsedRange]:
    return [UsedRange(N(n), "test") for n in nets]


def test_parse_spec_defaults_gateway_to_first_host():
    spec = parse_spec("10.1.0.0/16")
    assert spec == SubnetSpec(N("10.1.0.0/16"), A("10.1.0.1"), None)
    assert parse_spec("10.1.2.3/16").subnet == N("10.1.0.0/16")  # host bits are dropped


@pytest.mark.parametrize("subnet, gateway, ip_range, message", [
    ("10.1.0.0/31", None, None, "too small"),
    ("nonsense", None, None, "invalid subnet"),
    ("fd00::/64", None, None, "IPv6"),
    ("10.1.0.0/24", "10.2.0.1", None, "not a host address"),
    ("10.1.0.0/24", "10.1.0.255", None, "not a host address"),
    ("10.1.0.0/24", "10.1.0.0", None, "not a host address"),
    ("10.1.0.0/24", None, "10.1.1.0/25", "not inside subnet"),
    ("10.1.0.0/24", "bad", None, "invalid gateway"),
])
def test_parse_spec_rejects(subnet, gateway, ip_range, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_spec(subnet, gateway, ip_range)


def test_check_free_names_the_clash():
    check_free(N("10.2.0.0/24"), used("10.1.0.0/16"))
    with pytest.raises(Conflict, match=r"10.1.0.0/24 overlaps 10.1.0.0/16"):
        check_free(N("10.1.0.0/24"), used("10.1.0.0/16"))


def test_pools_skip_every_used_range():
    cfg = NetworkConfig.from_dict({"default-address-pools": [
        {"base": "10.50.0.0/23", "size": 24}, {"base": "10.60.0.0/16", "size": 20}]})
    assert pick_from_pools(cfg.pools, []) == N("10.50.0.0/24")
    assert pick_from_pools(cfg.pools, used("10.50.0.0/24")) == N("10.50.1.0/24")
    assert pick_from_pools(cfg.pools, used("10.50.0.0/23", "10.60.0.0/19")) == N("10.60.32.0/20")
    with pytest.raises(Conflict, match="no free subnet"):
        pick_from_pools(cfg.pools, used("10.50.0.0/23", "10.60.0.0/16"))


def test_default_bridge_prefers_bip_then_10_88_then_pools():
    assert default_bridge_spec(NetworkConfig(), []) == SubnetSpec(N("10.88.0.0/16"), A("10.88.0.1"))
    taken = default_bridge_spec(NetworkConfig(), used("10.88.5.0/24"))
    assert taken == SubnetSpec(N("10.89.0.0/24"), A("10.89.0.1"))
    cfg = NetworkConfig.from_dict({"bip": "192.168.77.5/24"})
    assert default_bridge_spec(cfg, []) == SubnetSpec(N("192.168.77.0/24"), A("192.168.77.5"))
    with pytest.raises(Conflict):
        default_bridge_spec(cfg, used("192.168.0.0/16"))


def test_addresses_lowest_free_skipping_reserved():
    spec = parse_spec("10.1.0.0/29", "10.1.0.1")
    assert choose_address(spec, []) == A("10.1.0.2")
    assert choose_address(spec, ["10.1.0.2", "10.1.0.4"]) == A("10.1.0.3")
    assert choose_address(spec, ["10.1.0.2", "10.1.0.3"]) == A("10.1.0.4")  # freed ones reused
    full = [f"10.1.0.{i}" for i in range(2, 7)]
    with pytest.raises(Conflict, match="no free address left in 10.1.0.0/29 on network n"):
        choose_address(spec, full, network_name="n")


def test_gateway_inside_the_range_is_never_handed_out():
    spec = parse_spec("10.1.0.0/24", "10.1.0.130", "10.1.0.128/30")
    picks = [str(choose_address(spec, taken))
             for taken in ([], ["10.1.0.128"], ["10.1.0.128", "10.1.0.129"])]
    assert picks == ["10.1.0.128", "10.1.0.129", "10.1.0.131"]
    with pytest.raises(Conflict):
        choose_address(spec, ["10.1.0.128", "10.1.0.129", "10.1.0.131"])


def test_static_addresses():
    spec = parse_spec("10.1.0.0/24", None, "10.1.0.128/25")
    assert choose_address(spec, [], "10.1.0.9") == A("10.1.0.9")  # outside the range is allowed
    with pytest.raises(Conflict, match="already in use"):
        choose_address(spec, ["10.1.0.9"], "10.1.0.9")
    for bad in ("10.1.0.1", "10.1.0.0", "10.1.0.255"):
        with pytest.raises(InvalidArgument, match="reserved"):
            choose_address(spec, [], bad)
    with pytest.raises(InvalidArgument, match="not in subnet"):
        choose_address(spec, [], "10.2.0.9")
    with pytest.raises(InvalidArgument):
        choose_address(spec, [], "fd00::1")


def test_mac_is_derived_from_the_address():
    assert mac_for(A("172.17.0.2")) == "02:42:ac:11:00:02"


def test_config_file(tmp_path):
    (tmp_path / "daemon.json").write_text(json.dumps({
        "bridge": "berthx", "bip": "10.77.0.1/16", "mtu": 1400,
        "default-address-pools": [{"base": "10.100.0.0/16", "size": 24}],
        "registry-mirrors": ["https://ignored.example"]}))
    cfg = NetworkConfig.load(str(tmp_path))
    assert cfg.bridge == "berthx" and str(cfg.bip) == "10.77.0.1/16" and cfg.mtu == 1400
    assert [(str(p.base), p.size) for p in cfg.pools] == [("10.100.0.0/16", 24)]
    assert NetworkConfig.load(str(tmp_path / "missing")).bridge is None


@pytest.mark.parametrize("doc, message", [
    ({"bip": "10.0.0.0/8"}, "not a host address"),
    ({"bip": "nope"}, "invalid bip"),
    ({"bridge": "a-name-far-too-long"}, "invalid interface name"),
    ({"mtu": 10}, "invalid mtu"),
    ({"default-address-pools": {"base": "10.0.0.0/8"}}, "must be a list"),
    ({"default-address-pools": [{"base": "10.0.0.0/8", "size": 4}]}, "cannot be cut"),
    ({"default-address-pools": [{"base": "10.0.0.0/8"}]}, "invalid default-address-pools"),
])
def test_config_errors(doc, message):
    with pytest.raises(InvalidArgument, match=message):
        NetworkConfig.from_dict(doc)


def test_default_bridge_name_depends_on_root():
    assert NetworkConfig().default_bridge_name("/var/lib/berth") == "berth0"
    other = NetworkConfig().default_bridge_name("/tmp/x/root")
    assert other.startswith("berth-") and len(other) <= 15
    assert other != NetworkConfig().default_bridge_name("/tmp/y/root")
    assert NetworkConfig(bridge="br9").default_bridge_name("/tmp/x/root") == "br9"
