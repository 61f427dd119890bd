"""Published ports: every -p form, -P, conflicts and free ports."""
from __future__ import annotations

import socket

import pytest

from berth.errors import Conflict, InvalidArgument
from berth.network import PortMapping, docker_ports, from_exposed, parse_all, parse_publish
from berth.network.portmap import resolve

P = PortMapping


@pytest.mark.parametrize("spec, expected", [
    ("80", [P(80)]),
    ("80/udp", [P(80, "udp")]),
    ("80/TCP", [P(80, "tcp")]),
    ("8080:80", [P(80, host_port=8080)]),
    ("8080:80/udp", [P(80, "udp", host_port=8080)]),
    ("127.0.0.1:8080:80", [P(80, host_ip="127.0.0.1", host_port=8080)]),
    ("127.0.0.1::80", [P(80, host_ip="127.0.0.1")]),
    ("0.0.0.0:53:53/udp", [P(53, "udp", "0.0.0.0", 53)]),
    ("[::1]:8080:80", [P(80, host_ip="::1", host_port=8080)]),
    ("[::]::80/udp", [P(80, "udp", "::")]),
    ("8000-8001:80-81", [P(80, host_port=8000), P(81, host_port=8001)]),
    ("10.0.0.1:8000-8001:80-81/udp", [P(80, "udp", "10.0.0.1", 8000),
                                      P(81, "udp", "10.0.0.1", 8001)]),
    ("80-82", [P(80), P(81), P(82)]),
    ("8000-8010:80", [P(80, host_port_range=(8000, 8010))]),
])
def test_parse_publish(spec, expected):
    assert parse_publish(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("", "invalid -p"),
    ("80/sctp", "invalid protocol"),
    ("0", "invalid port"),
    ("65536", "invalid port"),
    ("http", "invalid port"),
    ("81-80", "invalid port range"),
    ("8000-8002:80-81", "differ in size"),
    ("1.2.3.4:80", "invalid port"),
    ("300.1.1.1:80:80", "invalid host address"),
    ("::1:80:80", "brackets"),
    ("[::1]80:80", "ipv6"),
    ("[::1]:80", "ipv6"),
])
def test_parse_publish_rejects(spec, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_publish(spec)


def test_parse_all_merges_duplicates_and_refuses_double_publish():
    assert parse_all(["8080:80", "8080:80", P(81)]) == [P(80, host_port=8080), P(81)]
    assert len(parse_all(["8080:80", "8080:80/udp", "127.0.0.1:8081:80", "127.0.0.2:8081:81"])) == 4
    with pytest.raises(Conflict, match="published twice"):
        parse_all(["8080:80", "8080:81"])
    with pytest.raises(Conflict, match="published twice"):
        parse_all(["127.0.0.1:8080:80", "8080:81"])


def test_publish_all_from_exposed_ports():
    assert from_exposed({"80/tcp": {}, "53/udp": {}, "443": {}}) == [P(443), P(80), P(53, "udp")]


def test_mapping_round_trips_through_dict():
    m = P(80, "udp", "127.0.0.1", 0, (8000, 8010))
    assert PortMapping.from_dict(m.to_dict()) == m


def test_docker_ports_shape():
    assert docker_ports([P(80, host_port=8080), P(80, host_ip="127.0.0.1", host_port=8081)],
                        exposed=["443/tcp", "80/tcp"]) == {
        "443/tcp": None,
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
                   {"HostIp": "127.0.0.1", "HostPort": "8081"}]}


def test_resolve_picks_free_ports_and_refuses_taken_ones():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        with pytest.raises(Conflict) as exc:
            resolve([P(80, host_ip="127.0.0.1", host_port=busy)])
        assert str(exc.value) == f"cannot publish 127.0.0.1:{busy}/tcp: address already in use"
        # the same number over UDP is a different port
        assert resolve([P(80, "udp", "127.0.0.1", busy)])[0].host_port == busy
        # a range skips the busy port
        picked = resolve([P(80, host_ip="127.0.0.1", host_port_range=(busy, busy + 50))])
        assert picked[0].host_port != busy and picked[0].host_port_range == (0, 0)

    ports = resolve([P(80), P(81)], published=[])
    assert all(m.host_port > 0 for m in ports) and ports[0].host_port != ports[1].host_port


def test_resolve_honours_ports_berth_already_publishes():
    free = resolve([P(80, host_ip="127.0.0.1")])[0].host_port
    with pytest.raises(Conflict, match="port is already allocated"):
        resolve([P(80, host_ip="127.0.0.1", host_port=free)], published=[("tcp", "", free)])
    assert resolve([P(80, "udp", "127.0.0.1", free)], published=[("tcp", "", free)])


def test_resolve_refuses_an_address_the_host_does_not_have():
    with pytest.raises(Conflict, match="not an address of this host"):
        resolve([P(80, host_ip="192.0.2.254", host_port=18000)])
