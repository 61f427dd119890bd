"""Real traffic between namespaces on berth bridges, and through published ports from 127.0.0.1."""
from __future__ import annotations

import socket
import subprocess
import sys

from net_helpers import wait_until

from berth.network import firewall


def _ping(env, netns: str, ip: str) -> bool:
    return env.run_in(netns, "busybox", "ping", "-c", "1", "-W", "1", ip).returncode == 0


def _drop_count(bridge: str) -> int:
    """Packets dropped by the BERTH-ISOLATION-2 rule of ``bridge``."""
    out = subprocess.run(["iptables", "-t", "filter", "-L", firewall.ISOLATION_2, "-v", "-x", "-n"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[2] == "DROP" and bridge in fields[6]:
            return int(fields[0])
    raise AssertionError(f"no isolation rule for {bridge}:\n{out}")


def test_same_network_pings_other_network_is_isolated(net_env):
    net_env.network("front", 1)
    net_env.network("back", 2)
    front, back = f"front-{net_env.suffix}", f"back-{net_env.suffix}"
    a = net_env.manager.attach(net_env.container_id(), front, name="a")
    b = net_env.manager.attach(net_env.container_id(), front, name="b")
    c = net_env.manager.attach(net_env.container_id(), back, name="c")

    assert a.ip != b.ip and a.ifname == b.ifname == "eth0"
    assert _ping(net_env, a.netns_path, b.ip)
    assert _ping(net_env, b.netns_path, a.ip)
    assert _ping(net_env, c.netns_path, c.gateway)  # c's own network works

    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read().strip() == "1"  # so only the isolation rules can stop what follows
    before = _drop_count(net_env.bridge(1))
    assert not _ping(net_env, c.netns_path, a.ip)
    assert _drop_count(net_env.bridge(1)) > before


def test_second_network_is_eth1_and_reaches_both(net_env):
    net_env.network("one", 1)
    net_env.network("two", 2)
    one, two = f"one-{net_env.suffix}", f"two-{net_env.suffix}"
    cid = net_env.container_id()
    first = net_env.manager.attach(cid, one)
    second = net_env.manager.attach(cid, two)
    peer = net_env.manager.attach(net_env.container_id(), two)
    assert (first.ifname, second.ifname) == ("eth0", "eth1")
    assert first.netns_path == second.netns_path
    assert _ping(net_env, first.netns_path, first.gateway)
    assert _ping(net_env, first.netns_path, peer.ip)
    routes = net_env.run_in(first.netns_path, "busybox", "ip", "route").stdout
    assert f"default via {first.gateway} dev eth0" in routes

    net_env.manager.detach(cid, two)
    assert "eth1" not in net_env.run_in(first.netns_path, "busybox", "ip", "link").stdout
    assert not _ping(net_env, first.netns_path, peer.ip)


def _serve_http(env, netns: str, tmp_path, text: str) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text(text)
    env.spawn(netns, "busybox", "httpd", "-f", "-p", "80", "-h", str(www))


def _curl(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "-m", "5", url], capture_output=True, text=True, check=False)


def test_published_tcp_port_answers_on_localhost_and_hairpin(net_env, tmp_path):
    net_env.manager.ensure_default()
    web = net_env.manager.attach(net_env.container_id(), "bridge", ports=["80"], name="web")
    [mapping] = web.ports
    assert mapping.host_port > 0 and mapping.container_port == 80
    _serve_http(net_env, web.netns_path, tmp_path, "hello from berth\n")

    url = f"http://127.0.0.1:{mapping.host_port}/"
    reply = wait_until(lambda: _curl(url).stdout, f"curl {url}")
    assert reply == "hello from berth\n"

    # hairpin: another container reaches the published port through the host address
    other = net_env.manager.attach(net_env.container_id(), "bridge", name="client")
    got = net_env.run_in(other.netns_path, "curl", "-sS", "-m", "5",
                         f"http://{other.gateway}:{mapping.host_port}/")
    assert got.stdout == "hello from berth\n", got.stderr


UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(b"echo:" + data, peer)
"""


def test_published_udp_port_passes_a_datagram(net_env):
    net_env.network("udp", 1)
    port = _free_udp_port()
    att = net_env.manager.attach(net_env.container_id(), f"udp-{net_env.suffix}",
                                 ports=[f"127.0.0.1:{port}:5353/udp"])
    assert [(m.protocol, m.host_ip, m.host_port) for m in att.ports] == [("udp", "127.0.0.1", port)]
    # busybox nc here has no -u: a tiny UDP echo server, run as a plain process in the namespace
    net_env.spawn(att.netns_path, sys.executable, "-c", UDP_ECHO)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)

        def echoed() -> bytes:
            s.sendto(b"datagram-via-dnat", ("127.0.0.1", port))
            try:
                return s.recv(512)
            except socket.timeout:
                return b""
        reply = wait_until(echoed, "a UDP datagram through the DNAT rule")
        assert reply == b"echo:datagram-via-dnat"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
