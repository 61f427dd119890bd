"""Containers on networks, end to end through the CLI: published ports (every -p form, -P, udp),
name resolution on user networks, isolation, joined namespaces, DNS and hosts flags.

Traffic goes only to 127.0.0.1, to this host's own address and to containers on bridges these
tests create. The ``ctr`` fixture removes every container and checks for leaks; ``berth_env``'s
teardown removes every network of the test's root.
"""
from __future__ import annotations

import ipaddress
import json
import random
import socket
import subprocess
import sys

import pytest

SERVE = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def free_subnet() -> str:
    """A random 10.x /24 that no host route overlaps (other tests' bridges included)."""
    routes = []
    with open("/proc/net/route") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            dest, mask = (ipaddress.IPv4Address(bytes.fromhex(x)[::-1])
                          for x in (fields[1], fields[7]))
            routes.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    while True:
        cand = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if not any(cand.overlaps(r) for r in routes if r.prefixlen):
            return str(cand)


def primary_address() -> str | None:
    """The source address of the default route (no packet is sent: a UDP connect only routes)."""
    with open("/proc/net/route") as f:
        gateways = [line.split()[2] for line in f.read().splitlines()[1:]
                    if line.split()[1] == "00000000"]
    if not gateways:
        return None
    gateway = str(ipaddress.IPv4Address(bytes.fromhex(gateways[0])[::-1]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((gateway, 9))
        return s.getsockname()[0]


def curl(url: str) -> str:
    proc = subprocess.run(["curl", "-sS", "-m", "5", url], capture_output=True, text=True,
                          check=False)
    return proc.stdout if proc.returncode == 0 else ""


def fetch(ctr, url: str) -> str:
    """The page at ``url`` once the server answers (readiness polling, not a timed assertion)."""
    got: list[str] = []
    ctr.wait_for(lambda: got.append(curl(url)) or got[-1], f"an answer from {url}")
    return got[-1]


def host_port(ctr, name: str, private: str) -> int:
    [line] = ctr.out("port", name, private).split()
    return int(line.rsplit(":", 1)[1])


def test_published_port_answers_on_localhost(ctr) -> None:
    port = free_port()
    ctr.run_d("--name", "web", "-p", f"{port}:80", "busybox", "sh", "-c", SERVE.format(text="hi"))
    assert fetch(ctr, f"http://127.0.0.1:{port}/") == "hi\n"
    assert ctr.out("port", "web").strip() == f"80/tcp -> 0.0.0.0:{port}"
    doc = ctr.inspect("web")
    settings = doc["NetworkSettings"]
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}
    assert doc["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]}
    bridge = settings["Networks"]["bridge"]
    assert settings["IPAddress"] == bridge["IPAddress"] != ""
    assert settings["Gateway"] == bridge["Gateway"] != ""
    assert settings["MacAddress"] == bridge["MacAddress"] != ""
    assert f"0.0.0.0:{port}->80/tcp" in ctr.out("ps")


def test_published_port_answers_on_the_hosts_primary_address(ctr) -> None:
    address = primary_address()
    if address is None:
        pytest.skip("this machine has no default route, so no primary address")
    port = free_port()
    ctr.run_d("-p", f"{port}:80", "busybox", "sh", "-c", SERVE.format(text="primary"))
    assert fetch(ctr, f"http://{address}:{port}/") == "primary\n"


def test_random_host_port_and_ip_bound_forms(ctr) -> None:
    ctr.run_d("--name", "rnd", "-p", "80", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
              SERVE.format(text="random"))
    lines = sorted(ctr.out("port", "rnd", "80/tcp").split())
    assert len(lines) == 2 and lines[0].startswith("0.0.0.0:") and lines[1].startswith("127.0.0.1:")
    for line in lines:
        port = int(line.rsplit(":", 1)[1])
        assert port > 0
        assert fetch(ctr, f"http://127.0.0.1:{port}/") == "random\n"
    proc = ctr("port", "rnd", "81", check=False)
    assert proc.returncode != 0 and b"No public port '81/tcp'" in proc.stderr


def test_publish_all_uses_the_images_exposed_ports(ctr) -> None:
    ctr.run_d("--name", "base", "busybox", "sh", "-c",
              "mkdir /www && echo exposed > /www/index.html && sleep 600")
    ctr("commit", "-c", "EXPOSE 80", "base", "webimg")
    ctr.run_d("--name", "pall", "-P", "webimg", "httpd", "-f", "-p", "80", "-h", "/www")
    port = host_port(ctr, "pall", "80")
    assert fetch(ctr, f"http://127.0.0.1:{port}/") == "exposed\n"
    assert list(ctr.inspect("pall")["NetworkSettings"]["Ports"]) == ["80/tcp"]


UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(b"echo:" + data, peer)
"""


def test_udp_mapping_passes_a_datagram(ctr) -> None:
    port = free_port(socket.SOCK_DGRAM)
    ctr.run_d("--name", "udp", "-p", f"127.0.0.1:{port}:5353/udp", "busybox", "sleep", "600")
    assert ctr.out("port", "udp").strip() == f"5353/udp -> 127.0.0.1:{port}"
    netns = ctr.inspect("udp")["NetworkSettings"]["SandboxKey"]
    # busybox has no UDP server: a small echo in the container's network namespace
    echo = subprocess.Popen(["nsenter", f"--net={netns}", sys.executable, "-c", UDP_ECHO])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            replies: list[bytes] = []

            def echoed() -> bytes:
                s.sendto(b"datagram", ("127.0.0.1", port))
                try:
                    replies.append(s.recv(512))
                except socket.timeout:
                    return b""
                return replies[-1]

            ctr.wait_for(echoed, "a UDP datagram through the DNAT rule")
            assert replies[-1] == b"echo:datagram"
    finally:
        echo.kill()
        echo.wait()


def test_taken_host_port_is_refused_before_anything_exists(ctr) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = ctr("run", "-d", "-p", f"{port}:80", "busybox", "true", check=False)
    err = proc.stderr.decode().strip()
    assert proc.returncode != 0
    assert len(err.splitlines()) == 1 and str(port) in err and "in use" in err, err
    assert ctr.ids() == []
    netns_dir = ctr.env.run / "netns"
    assert not netns_dir.exists() or not any(netns_dir.iterdir())


def _ping(ctr, name: str, target: str) -> bool:
    proc = ctr("exec", name, "ping", "-c", "1", "-W", "2", target, check=False)
    return proc.returncode == 0


def test_user_network_names_aliases_and_isolation(ctr) -> None:
    ctr("network", "create", "--subnet", free_subnet(), "front")
    ctr("network", "create", "--subnet", free_subnet(), "back")
    ctr.run_d("--name", "ca", "--network", "front", "--network-alias", "alpha", "busybox",
              "sleep", "600")
    ctr.run_d("--name", "cb", "--network", "front", "--network-alias", "beta", "busybox",
              "sleep", "600")
    ctr.run_d("--name", "cc", "--network", "back", "busybox", "sleep", "600")
    assert _ping(ctr, "ca", "cb") and _ping(ctr, "ca", "beta")
    assert _ping(ctr, "cb", "ca") and _ping(ctr, "cb", "alpha")
    ip_a = ctr.inspect("ca")["NetworkSettings"]["Networks"]["front"]["IPAddress"]
    assert ip_a
    assert not _ping(ctr, "cc", "ca")      # no name on another network
    assert not _ping(ctr, "cc", ip_a)      # nor a route through the isolation rules

    # peers' /etc/hosts follow stop, start, connect and disconnect
    ctr("stop", "-t", "0", "cb")
    assert "beta" not in ctr.out("exec", "ca", "cat", "/etc/hosts")
    ctr("start", "cb")
    assert _ping(ctr, "ca", "beta")
    ctr("network", "connect", "--alias", "gamma", "front", "cc")
    assert _ping(ctr, "ca", "gamma") and _ping(ctr, "cc", "ca")
    ctr("network", "disconnect", "front", "cc")
    assert "gamma" not in ctr.out("exec", "ca", "cat", "/etc/hosts")
    assert not _ping(ctr, "cc", ip_a)


def test_static_ip_comes_back_after_stop_and_start(ctr) -> None:
    subnet = ipaddress.IPv4Network(free_subnet())
    fixed = str(subnet.network_address + 77)
    ctr("network", "create", "--subnet", str(subnet), "fixed")
    ctr.run_d("--name", "st", "--network", "fixed", "--ip", fixed, "busybox", "sleep", "600")
    assert f"inet {fixed}/24" in ctr.out("exec", "st", "ip", "-4", "addr", "show", "eth0")
    ctr("stop", "-t", "0", "st")
    stopped = ctr.inspect("st")["NetworkSettings"]
    assert stopped["Networks"]["fixed"]["IPAddress"] == "" and stopped["SandboxKey"] == ""
    ctr("start", "st")
    assert ctr.inspect("st")["NetworkSettings"]["Networks"]["fixed"]["IPAddress"] == fixed


def test_mac_address_is_the_interfaces_and_inspect_shows_it(ctr) -> None:
    ctr("network", "create", "--subnet", free_subnet(), "macnet")
    ctr.run_d("--name", "mac", "--network", "macnet", "--mac-address", "02:42:AC:11:00:99",
              "busybox", "sleep", "600")
    assert ctr.out("exec", "mac", "cat", "/sys/class/net/eth0/address") == "02:42:ac:11:00:99\n"
    assert ctr.inspect("mac")["NetworkSettings"]["Networks"]["macnet"]["MacAddress"] == \
        "02:42:ac:11:00:99"
    ctr("stop", "-t", "0", "mac")
    ctr("start", "mac")  # the address is the container's, not the run's
    assert ctr.out("exec", "mac", "cat", "/sys/class/net/eth0/address") == "02:42:ac:11:00:99\n"
    for flags, message in ((["--mac-address", "01:00:5e:00:00:01"], b"multicast"),
                           (["--mac-address", "02:42"], b"invalid MAC address"),
                           (["--network", "none", "--mac-address", "02:42:ac:11:00:98"],
                            b"conflicting options")):
        proc = ctr("run", "-d", *flags, "busybox", "true", check=False)
        assert proc.returncode == 125 and message in proc.stderr


def test_container_network_mode_sees_the_others_interfaces(ctr) -> None:
    ctr("network", "create", "--subnet", free_subnet(), "shared")
    ctr.run_d("--name", "owner", "--network", "shared", "busybox", "sleep", "600")
    ip = ctr.inspect("owner")["NetworkSettings"]["Networks"]["shared"]["IPAddress"]
    out = ctr.out("run", "--rm", "--network", "container:owner", "busybox", "sh", "-c",
                  "ip -4 addr show eth0; hostname")
    assert f"inet {ip}/24" in out
    assert ctr.inspect("owner")["Config"]["Hostname"] in out
    proc = ctr("run", "--rm", "--network", "container:owner", "-p", "80", "busybox", "true",
               check=False)
    assert proc.returncode != 0 and b"conflicting options" in proc.stderr


def test_network_none_has_only_loopback(ctr) -> None:
    out = ctr.out("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
    assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]


def test_dns_and_extra_hosts_reach_the_files(ctr) -> None:
    out = ctr.out("run", "--rm", "--dns", "1.2.3.4", "--dns-search", "example.test",
                  "--dns-option", "ndots:2", "--add-host", "db:10.1.2.3", "--hostname", "box",
                  "busybox", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts; hostname")
    resolv, hosts = out.split("---\n")
    assert resolv.splitlines() == ["nameserver 1.2.3.4", "search example.test",
                                   "options ndots:2"]
    assert "10.1.2.3\tdb" in hosts.splitlines()
    assert hosts.splitlines()[-1] == "box"
    assert any(line.endswith("\tbox") or "\tbox " in line for line in hosts.splitlines())


def test_link_adds_a_hosts_entry_on_the_default_bridge(ctr) -> None:
    ctr.run_d("--name", "server", "busybox", "sleep", "600")
    ip = ctr.inspect("server")["NetworkSettings"]["IPAddress"]
    out = ctr.out("run", "--rm", "--link", "server:srv", "busybox", "sh", "-c",
                  "grep srv /etc/hosts && ping -c 1 -W 2 srv >/dev/null && echo reached")
    assert out.splitlines()[0].split()[:2] == [ip, "srv"] and "server" in out.splitlines()[0]
    assert out.splitlines()[-1] == "reached"
    doc = ctr.inspect(ctr.run_d("--link", "server:srv", "busybox", "sleep", "600"))
    assert doc["HostConfig"]["Links"] == [f"/server:{doc['Name']}/srv"]


def test_inspect_of_a_created_container_names_its_network(ctr) -> None:
    cid = ctr.out("create", "-p", "8080:80", "busybox", "true").strip()
    doc = ctr.inspect(cid)
    assert doc["HostConfig"]["NetworkMode"] == "default"
    assert list(doc["NetworkSettings"]["Networks"]) == ["bridge"]
    assert doc["NetworkSettings"]["IPAddress"] == "" and doc["NetworkSettings"]["Ports"] == {}
    assert "80/tcp" in doc["Config"]["ExposedPorts"]
    json.dumps(doc)
