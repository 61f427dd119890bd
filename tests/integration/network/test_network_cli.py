"""``berth network create|ls|inspect|rm|connect|disconnect|prune`` as a user types them."""
from __future__ import annotations

import ipaddress
import json
import random

import pytest
from net_helpers import free_subnets


@pytest.fixture
def cli(berth_env, busybox):
    """``berth`` in the test's root; removes the containers it made (networks go with
    berth_env's teardown)."""
    yield berth_env
    ids = berth_env.berth("ps", "-aq", "--no-trunc").stdout.decode().split()
    if ids:
        berth_env.berth("rm", "-f", *ids)


def out(env, *args: str) -> str:
    return env.berth(*args).stdout.decode()


def test_create_with_dockers_flags_then_inspect_ls_rm(cli) -> None:
    subnet = ipaddress.IPv4Network(free_subnets(1)[0])
    gateway = str(subnet.network_address + 254)
    ip_range = str(list(subnet.subnets(new_prefix=26))[1])
    net_id = out(cli, "network", "create", "--subnet", str(subnet), "--gateway", gateway,
                 "--ip-range", ip_range, "--internal", "--label", "team=web", "-o",
                 "com.docker.network.driver.mtu=1400", "backend").strip()
    assert len(net_id) == 64
    [doc] = json.loads(out(cli, "network", "inspect", "backend"))
    assert doc["Id"] == net_id and doc["Internal"] is True and doc["Labels"] == {"team": "web"}
    assert doc["IPAM"]["Config"] == [{"Subnet": str(subnet), "Gateway": gateway,
                                      "IPRange": ip_range}]
    assert doc["Options"]["com.docker.network.driver.mtu"] == "1400"
    assert out(cli, "network", "inspect", "-f", "{{.Name}} {{.Driver}}", net_id[:12]) == \
        "backend bridge\n"

    listing = out(cli, "network", "ls")
    assert listing.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert {"bridge", "host", "none", "backend"} <= {line.split()[1]
                                                     for line in listing.splitlines()[1:]}
    assert out(cli, "network", "ls", "-q", "-f", "label=team=web") == net_id[:12] + "\n"
    assert out(cli, "network", "ls", "--format", "{{.Name}}", "-f", "type=custom") == "backend\n"
    assert out(cli, "network", "ls", "-q", "--no-trunc", "-f", "name=backend") == net_id + "\n"
    assert "backend" not in out(cli, "network", "ls", "-f", "type=builtin")

    clash = cli.berth("network", "create", "--subnet", str(subnet), "other", check=False)
    assert clash.returncode != 0 and len(clash.stderr.decode().strip().splitlines()) == 1
    assert out(cli, "network", "rm", "backend") == "backend\n"
    missing = cli.berth("network", "inspect", "backend", check=False)
    assert missing.returncode == 1 and b"No such network: backend" in missing.stderr
    refused = cli.berth("network", "rm", "bridge", check=False)
    assert refused.returncode == 1 and b"predefined" in refused.stderr


def test_connect_disconnect_and_rm_of_a_network_in_use(cli) -> None:
    subnet = ipaddress.IPv4Network(free_subnets(1)[0])
    out(cli, "network", "create", "--subnet", str(subnet), "app")
    cid = out(cli, "run", "-d", "--name", "worker", "busybox", "sleep", "600").strip()
    fixed = str(subnet.network_address + 9)
    cli.berth("network", "connect", "--ip", fixed, "--alias", "jobs", "app", "worker")
    assert f"inet {fixed}/24" in out(cli, "exec", "worker", "ip", "-4", "addr", "show", "eth1")
    [doc] = json.loads(out(cli, "inspect", "worker"))
    assert set(doc["NetworkSettings"]["Networks"]) == {"bridge", "app"}
    assert doc["NetworkSettings"]["Networks"]["app"]["Aliases"] == ["jobs"]
    [net] = json.loads(out(cli, "network", "inspect", "app"))
    assert list(net["Containers"]) == [cid]

    busy = cli.berth("network", "rm", "app", check=False)
    assert busy.returncode == 1 and b"active endpoints" in busy.stderr
    again = cli.berth("network", "connect", "app", "worker", check=False)
    assert again.returncode != 0 and b"already exists" in again.stderr

    cli.berth("network", "disconnect", "app", "worker")
    assert "eth1" not in out(cli, "exec", "worker", "ip", "link")
    [doc] = json.loads(out(cli, "inspect", "worker"))
    assert set(doc["NetworkSettings"]["Networks"]) == {"bridge"}
    last = cli.berth("network", "disconnect", "bridge", "worker", check=False)
    assert last.returncode != 0
    out(cli, "network", "rm", "app")


def test_connect_of_a_stopped_container_applies_at_start(cli) -> None:
    out(cli, "network", "create", "--subnet", free_subnets(1)[0], "later")
    out(cli, "create", "--name", "idle", "busybox", "sleep", "600")
    cli.berth("network", "connect", "later", "idle")
    [doc] = json.loads(out(cli, "inspect", "idle"))
    assert set(doc["NetworkSettings"]["Networks"]) == {"bridge", "later"}
    cli.berth("start", "idle")
    links = out(cli, "exec", "idle", "ip", "-o", "link")
    assert "eth0" in links and "eth1" in links


def test_prune_removes_only_unused_custom_networks(cli) -> None:
    a, b = free_subnets(2)
    out(cli, "network", "create", "--subnet", a, "--label", "keep=no", "unused")
    out(cli, "network", "create", "--subnet", b, "used")
    out(cli, "run", "-d", "--network", "used", "busybox", "sleep", "600")
    assert out(cli, "network", "prune", "-f") == "Deleted Networks:\nunused\n"
    names = out(cli, "network", "ls", "--format", "{{.Name}}").split()
    assert "used" in names and "unused" not in names and "bridge" in names


def test_unknown_network_is_refused_at_create(cli) -> None:
    name = f"nosuch{random.randint(0, 1 << 30)}"
    proc = cli.berth("create", "--network", name, "busybox", "true", check=False)
    assert proc.returncode != 0 and f"network {name} not found" in proc.stderr.decode()
    assert out(cli, "ps", "-aq") == ""
