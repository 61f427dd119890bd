"""/etc/hosts and /etc/resolv.conf for containers."""
from __future__ import annotations

import os

import pytest

from berth.errors import InvalidArgument
from berth.network import hosts_file, parse_add_host, resolv_conf, write_in_place
from berth.network.hosts import HOSTS_HEAD


def test_hosts_file_layout():
    text = hosts_file("web", ["10.1.0.2"], aliases=["api", "web"],
                      extra_hosts=["db:10.9.9.9", "v6=[fd00::1]"],
                      peers=[("10.1.0.3", ["cache", "cache"]), ("10.1.0.2", ["self"])])
    assert text == HOSTS_HEAD + ("10.9.9.9\tdb\n"
                                 "fd00::1\tv6\n"
                                 "10.1.0.2\tweb api\n"
                                 "10.1.0.3\tcache\n")
    assert hosts_file() == HOSTS_HEAD


@pytest.mark.parametrize("value", ["nocolon", "name:not-an-ip", ":10.0.0.1", "x:host-gateway"])
def test_add_host_rejects(value):
    with pytest.raises(InvalidArgument):
        parse_add_host(value)


def test_resolv_conf_drops_loopback_servers_only(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("# comment\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.255.255.53\n"
                    "search corp.example\noptions ndots:2\n")
    assert resolv_conf(host_path=str(host)) == ("nameserver 10.255.255.53\n"
                                                "search corp.example\noptions ndots:2\n")
    assert resolv_conf(host_network=True, host_path=str(host)) == host.read_text()


def test_resolv_conf_never_invents_public_servers(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nsearch lan\n")
    assert resolv_conf(host_path=str(host)) == "search lan\n"
    assert resolv_conf(host_path=str(tmp_path / "missing")) == ""


def test_resolv_conf_flags_override(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 10.0.0.53\nsearch lan\noptions ndots:2\n")
    assert resolv_conf(["1.1.1.1", "fd00::53"], ["a.example", "b.example"], ["timeout:1"],
                       host_path=str(host)) == ("nameserver 1.1.1.1\nnameserver fd00::53\n"
                                                "search a.example b.example\noptions timeout:1\n")
    assert resolv_conf(dns_search=["."], host_path=str(host)) == ("nameserver 10.0.0.53\n"
                                                                  "options ndots:2\n")
    with pytest.raises(InvalidArgument, match="--dns"):
        resolv_conf(["dns.example"], host_path=str(host))


def test_write_in_place_keeps_the_inode(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("a much longer first version of the file\n")
    inode = os.stat(path).st_ino
    write_in_place(str(path), "short\n")
    assert path.read_text() == "short\n" and os.stat(path).st_ino == inode
