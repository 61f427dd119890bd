"""Parsing of -v, --mount, --tmpfs and --volumes-from, and the local driver's -o checks."""
from __future__ import annotations

import pytest

from berth.container import ContainerSpec
from berth.container.mounts import oci_mounts, parse_volumes_from, requested
from berth.errors import InvalidArgument
from berth.volume import (MountPoint, check_name, mount_point, parse_mount, parse_tmpfs,
                          parse_volume, tmpfs_point)
from berth.volume.local import parse_mount_options, validate_options


def test_dash_v_forms() -> None:
    anon = parse_volume("/data")
    assert (anon.type, anon.destination, anon.anonymous, anon.copy, anon.rw) == \
        ("volume", "/data", True, True, True)
    named = parse_volume("cache:/var/cache/:ro")
    assert (named.type, named.name, named.destination, named.rw, named.mode) == \
        ("volume", "cache", "/var/cache", False, "ro")
    assert parse_volume("cache:/c:nocopy").copy is False
    bind = parse_volume("/srv/x/../y:/y:rw,rshared")
    assert (bind.type, bind.source, bind.rw, bind.propagation, bind.create_source) == \
        ("bind", "/srv/y", True, "rshared", True)
    assert parse_volume("/a:/b").propagation == "rprivate"
    assert parse_volume("/a:/b:z").rw is True


@pytest.mark.parametrize("text", ["", "relative", "/a:ro", "/a:/b:/c:/d", "/a:/", "x:/b",
                                  "/a:/b:bogus", "/a:/b:ro,rw", "vol:/b:rshared", "/a:/b:nocopy",
                                  "-bad:/b", ":/b", "/a:"])
def test_dash_v_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_volume(text)


def test_volume_names() -> None:
    assert check_name("my_vol.1-a") == "my_vol.1-a"
    for bad in ("a", "_x", "a/b", "a b", "ünï"):
        with pytest.raises(InvalidArgument):
            check_name(bad)


def test_mount_flag_structured_and_checked() -> None:
    m = parse_mount("type=volume,source=data,target=/data,readonly,volume-nocopy,"
                    "volume-label=a=b,volume-opt=type=tmpfs,volume-opt=device=tmpfs")
    assert m["read_only"] and m["no_copy"] and m["volume_labels"] == {"a": "b"}
    assert m["volume_options"] == {"type": "tmpfs", "device": "tmpfs"}
    p = mount_point(m)
    assert (p.type, p.name, p.rw, p.copy, p.anonymous) == ("volume", "data", False, False, False)
    anon = mount_point(parse_mount("target=/x"))
    assert anon.type == "volume" and anon.anonymous and anon.copy
    b = mount_point(parse_mount("type=bind,src=/srv,dst=/srv,ro=false,bind-propagation=rslave"))
    assert (b.source, b.rw, b.propagation, b.create_source) == ("/srv", True, "rslave", False)
    t = mount_point(parse_mount("type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770"))
    assert t.tmpfs_options == [f"size={64 * 1024 * 1024}", "mode=1770"]
    assert mount_point(parse_mount('"type=bind","source=/a,b",target=/c')).source == "/a,b"


@pytest.mark.parametrize("text,message", [
    ("type=bind,target=/x", "field Source must not be empty"),
    ("type=bind,source=rel,target=/x", "must be absolute"),
    ("type=tmpfs,source=/x,target=/x", "field source must not be specified"),
    ("type=bind,source=/x,target=/x,volume-nocopy", "field no_copy"),
    ("type=volume,source=v,target=/x,bind-propagation=shared", "field propagation"),
    ("type=nfs,target=/x", "mount type unknown"),
    ("type=volume,source=v", "target is required"),
    ("type=volume,target=/x,readonly=maybe", "invalid value for readonly"),
    ("type=volume,target=/x,colour=blue", "unexpected key 'colour'"),
    ("type", "must be a key=value pair"),
    ("type=volume,target=/x,volume-opt=bogus=1", 'invalid option key: "bogus"'),
    ("type=volume,target=/x,volume-driver=nfs", "only the local volume driver"),
    ("type=tmpfs,target=/x,tmpfs-mode=999", "tmpfs-mode"),
])
def test_mount_flag_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_mount(text)


def test_tmpfs_flag() -> None:
    assert parse_tmpfs("/run") == ("/run", "")
    dest, opts = parse_tmpfs("/run:size=64m,mode=1777,exec")
    point = tmpfs_point(dest, opts)
    assert point.rw and point.tmpfs_options == ["size=64m", "mode=1777", "exec"]
    assert tmpfs_point("/x", "ro").rw is False
    for bad in ("run", "/run:size=lots", "/run:mode=abc", "/run:bogus", "/:size=1m"):
        with pytest.raises(InvalidArgument):
            parse_tmpfs(bad)


def test_volumes_from_syntax() -> None:
    assert parse_volumes_from("web") == ("web", None)
    assert parse_volumes_from("web:ro") == ("web", False)
    assert parse_volumes_from("web:rw") == ("web", True)
    for bad in ("", "web:rx", ":ro"):
        with pytest.raises(InvalidArgument):
            parse_volumes_from(bad)


def test_spec_validation_finds_duplicates_across_flags() -> None:
    spec = ContainerSpec(image="x", binds=["vol:/data"], tmpfs={"/data": ""})
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /data"):
        spec.validate()
    spec = ContainerSpec(image="x", binds=["/h:/a"], mounts=[parse_mount("type=tmpfs,dst=/b")],
                         tmpfs={"/c": "size=1m"}, volumes_from=["other:ro"])
    assert [p.destination for p in requested(spec.validate())] == ["/a", "/b", "/c"]
    restored = ContainerSpec.from_dict(spec.to_dict())
    assert restored.mounts == spec.mounts and restored.tmpfs == {"/c": "size=1m"}


def test_oci_mounts_parents_first_with_docker_defaults() -> None:
    points = [MountPoint("bind", "/a/b/c", source="/h", rw=False, propagation="rprivate"),
              MountPoint("volume", "/a", source="/v/_data", name="v"),
              MountPoint("tmpfs", "/a/b", tmpfs_options=["size=1m", "exec"])]
    out = oci_mounts(points)
    assert [m["destination"] for m in out] == ["/a", "/a/b", "/a/b/c"]
    assert out[0] == {"destination": "/a", "type": "bind", "source": "/v/_data",
                      "options": ["rbind", "rprivate"]}
    assert out[1]["type"] == "tmpfs" and out[1]["options"][-2:] == ["size=1m", "exec"]
    assert "noexec" in out[1]["options"] and "nosuid" in out[1]["options"]
    assert out[2]["options"] == ["rbind", "rprivate", "ro"]


def test_mount_point_round_trip_and_docker_shape() -> None:
    p = parse_volume("data:/d:ro")
    p.source = "/root/volumes/data/_data"
    assert MountPoint.from_dict(p.to_dict()) == p
    assert p.docker() == {"Type": "volume", "Name": "data", "Source": "/root/volumes/data/_data",
                          "Destination": "/d", "Driver": "local", "Mode": "ro", "RW": False,
                          "Propagation": ""}
    assert "Name" not in parse_volume("/h:/c").docker()


def test_local_driver_options(tmp_path) -> None:
    assert validate_options({}) == {}
    assert validate_options({"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=5"})
    assert validate_options({"type": "none", "o": "bind", "device": str(tmp_path)})
    assert parse_mount_options("ro,nosuid,size=1m,uid=5") == (0x1 | 0x2, "size=1m,uid=5")
    for bad, message in (({"colour": "x"}, "invalid option key"),
                         ({"type": "tmpfs"}, 'missing required option: "device"'),
                         ({"device": "tmpfs"}, 'missing required option: "type"'),
                         ({"type": "none", "o": "bind", "device": str(tmp_path / "no")},
                          "does not exist"),
                         ({"type": "none", "device": "/x"}, "needs o=bind"),
                         ({"size": "1g"}, "quota")):
        with pytest.raises(InvalidArgument, match=message):
            validate_options(bad)
