"""Containers using volumes: named, anonymous (the image's VOLUME), --volumes-from, binds, tmpfs —
the acceptance list of the volumes issue, run as a user would with the ``berth`` CLI."""
from __future__ import annotations

import os

EROFS = "Read-only file system"
#: shell prefix: wait (bounded, a guard against hangs) until the other container wrote its marker
WAIT_FOR = "i=0; while [ ! -e {0} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "


def test_named_volume_outlives_both_containers(vol) -> None:
    vol("run", "--name", "writer", "-v", "shared:/data", "busybox",
        "sh", "-c", "echo from-writer > /data/note")
    vol("rm", "writer")
    assert vol.volumes() == ["shared"]
    code, out = vol.run("--name", "reader", "-v", "shared:/srv/in", "busybox",
                        "cat", "/srv/in/note")
    assert (code, out) == (0, "from-writer\n")
    vol("rm", "-v", "reader")  # -v removes anonymous volumes only
    assert vol.volumes() == ["shared"]
    data = vol.out("volume", "inspect", "-f", "{{.Mountpoint}}", "shared")
    with open(os.path.join(data.strip(), "note")) as f:
        assert f.read() == "from-writer\n"
    assert vol.volume_mounts() == []


def test_volumes_from_shares_and_ro_makes_writes_fail(vol) -> None:
    vol("run", "-d", "--name", "owner", "-v", "named-vol:/named", "-v", "/anon", "busybox",
        "sh", "-c", "echo n > /named/f; echo a > /anon/f; touch /anon/ready; exec sleep 300")
    code, out = vol.run("--rm", "--volumes-from", "owner", "busybox",
                        "sh", "-c", WAIT_FOR.format("/anon/ready") +
                        "cat /named/f /anon/f && echo more >> /anon/f")
    assert (code, out) == (0, "n\na\n")
    code, out = vol.run("--rm", "--volumes-from", "owner:ro", "busybox",
                        "sh", "-c", "cat /anon/f; touch /named/new")
    assert code == 1 and out.startswith("a\nmore\n") and EROFS in out
    mounts = {m["Destination"]: m for m in vol.inspect("owner")["Mounts"]}
    assert mounts["/named"]["Name"] == "named-vol" and mounts["/named"]["RW"] is True
    assert len(mounts["/anon"]["Name"]) == 64 and mounts["/anon"]["Type"] == "volume"
    # a volume in use (by a running container) cannot be removed; prune keeps it
    code, out = vol.fails("volume", "rm", "named-vol")
    assert code == 1 and "volume is in use" in out
    vol("volume", "prune", "-a", "-f")
    assert sorted(vol.volumes()) == sorted(["named-vol", mounts["/anon"]["Name"]])
    vol("rm", "-f", "-v", "owner")
    assert vol.volumes() == ["named-vol"]
    vol("volume", "rm", "named-vol")
    assert vol.volumes() == []


def test_image_volume_is_seeded_and_rm_v_deletes_it(vol) -> None:
    vol("run", "--name", "base", "busybox", "sh", "-c",
        "mkdir -p /data/sub && echo seeded > /data/file && ln -s ../file /data/sub/link && "
        "chown -R 123:456 /data/sub && chmod 2770 /data/sub")
    vol("commit", "-c", "VOLUME /data", "base", "withvol")
    vol("rm", "base")
    assert vol.out("image", "inspect", "-f", "{{json .Config.Volumes}}", "withvol").strip() == \
        '{"/data":{}}'

    code, out = vol.run("--name", "first", "withvol", "sh", "-c",
                        "cat /data/file /data/sub/link; stat -c '%u:%g %a' /data/sub; "
                        "echo changed > /data/file")
    assert (code, out) == (0, "seeded\nseeded\n123:456 2770\n")
    anon = vol.inspect("first")["Mounts"][0]
    assert anon["Type"] == "volume" and anon["Destination"] == "/data" and anon["RW"] is True
    assert vol.volumes("dangling=false") == [anon["Name"]]
    # plain rm keeps the anonymous volume, listed as dangling
    vol("rm", "first")
    assert vol.volumes("dangling=true") == [anon["Name"]]
    with open(os.path.join(anon["Source"], "file")) as f:
        assert f.read() == "changed\n"

    # a second container gets its own, freshly seeded volume; rm -v deletes it
    code, out = vol.run("--name", "second", "withvol", "cat", "/data/file")
    assert (code, out) == (0, "seeded\n")
    second = vol.inspect("second")["Mounts"][0]["Name"]
    assert second != anon["Name"]
    vol("rm", "-v", "second")
    assert vol.volumes() == [anon["Name"]]
    assert not os.path.exists(os.path.join(vol.root, "volumes", second))
    # --rm removes the anonymous volumes too (as Docker does); an explicit mount replaces VOLUME
    code, out = vol.run("--rm", "withvol", "true")
    assert code == 0 and vol.volumes() == [anon["Name"]]
    code, out = vol.run("--rm", "--tmpfs", "/data", "withvol", "ls", "/data")
    assert (code, out) == (0, "")
    out = vol.out("volume", "prune", "-f")
    assert anon["Name"] in out and "Total reclaimed space" in out
    assert vol.volumes() == []


def test_bind_mount_both_ways_and_read_only(vol, host_dir) -> None:
    with open(os.path.join(host_dir, "from-host"), "w") as f:
        f.write("hello\n")
    code, out = vol.run("--rm", "-v", f"{host_dir}:/mnt/h", "busybox",
                        "sh", "-c", "cat /mnt/h/from-host; echo back > /mnt/h/from-ctr")
    assert (code, out) == (0, "hello\n")
    with open(os.path.join(host_dir, "from-ctr")) as f:
        assert f.read() == "back\n"
    code, out = vol.run("--rm", "-v", f"{host_dir}:/mnt/h:ro", "busybox",
                        "sh", "-c", "cat /mnt/h/from-ctr; touch /mnt/h/x")
    assert code == 1 and out.startswith("back\n") and EROFS in out
    code, out = vol.run("--rm", "--mount", f"type=bind,source={host_dir},target=/b,readonly",
                        "busybox", "sh", "-c", "ls /b; rm /b/from-host")
    assert code == 1 and "from-host" in out and EROFS in out
    assert os.path.exists(os.path.join(host_dir, "from-host"))
    # -v creates a missing host directory; --mount type=bind refuses it
    missing = os.path.join(host_dir, "made", "by-v")
    vol("run", "--rm", "-v", f"{missing}:/m", "busybox", "touch", "/m/ok")
    assert os.path.exists(os.path.join(missing, "ok"))
    code, out = vol.fails("run", "--rm", "--mount",
                          f"type=bind,source={host_dir}/absent,target=/m", "busybox", "true")
    assert code == 125
    assert f"bind source path does not exist: {host_dir}/absent" in out
    assert vol.out("ps", "-aq") == "" and not os.path.exists(f"{host_dir}/absent")
    doc = vol.inspect(vol.out("create", "-v", f"{host_dir}:/c:ro", "busybox", "true").strip())
    assert doc["Mounts"] == [{"Type": "bind", "Source": host_dir, "Destination": "/c",
                              "Mode": "ro", "RW": False, "Propagation": "rprivate"}]


def test_tmpfs_mounts_with_size(vol) -> None:
    code, out = vol.run("--rm", "--tmpfs", "/t1:size=1m,mode=1777",
                        "--mount", "type=tmpfs,target=/t2,tmpfs-size=2097152", "busybox",
                        "sh", "-c", "grep -E ' /t[12] ' /proc/mounts | sort; stat -c %a /t1")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("tmpfs /t1 tmpfs ") and "size=1024k" in lines[0]
    assert "nosuid" in lines[0] and "noexec" in lines[0]
    assert lines[1].startswith("tmpfs /t2 tmpfs ") and "size=2048k" in lines[1]
    assert lines[2] == "1777"
    code, out = vol.run("--rm", "--tmpfs", "/t:size=64k", "busybox",
                        "sh", "-c", "dd if=/dev/zero of=/t/big bs=1k count=100")
    assert code != 0 and "No space left on device" in out


def test_volume_with_driver_options_is_mounted_only_while_used(vol, host_dir) -> None:
    vol("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=3m",
        "scratch")
    vol("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt",
        f"device={host_dir}", "bound")
    assert vol.out("volume", "inspect", "-f", "{{json .Options}}", "scratch").strip() == \
        '{"type":"tmpfs","device":"tmpfs","o":"size=3m"}'
    cid = vol.out("run", "-d", "-v", "scratch:/s", "-v", "bound:/b", "busybox", "sh", "-c",
                  "echo via-volume > /b/f; echo in-tmpfs > /s/f; touch /s/ready; "
                  "exec sleep 300").strip()
    mounted = vol.volume_mounts()
    assert sorted(os.path.basename(os.path.dirname(m)) for m in mounted) == ["bound", "scratch"]
    code, out = vol.run("--rm", "-v", "scratch:/s", "busybox", "sh", "-c",
                        WAIT_FOR.format("/s/ready") + "cat /s/f; grep ' /s ' /proc/mounts")
    assert code == 0 and out.startswith("in-tmpfs\ntmpfs /s tmpfs") and "size=3072k" in out
    assert len(vol.volume_mounts()) == 2  # the first container still holds them
    vol("rm", "-f", cid)
    assert vol.volume_mounts() == []
    with open(os.path.join(host_dir, "f")) as f:
        assert f.read() == "via-volume\n"
    vol("volume", "rm", "scratch", "bound")
    assert os.listdir(host_dir) == ["f"]  # removing a bind-style volume keeps the host data


def test_no_mount_is_left_after_rm(vol, host_dir) -> None:
    vol("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tv")
    cid = vol.out("run", "-d", "-v", "tv:/a", "-v", "nv:/b", "-v", "/c",
                  "-v", f"{host_dir}:/d", "--tmpfs", "/e", "busybox", "sleep", "300").strip()
    assert vol.inspect(cid)["State"]["Running"] is True
    assert len(vol.volume_mounts()) == 1
    vol("rm", "-f", "-v", cid)
    with open("/proc/self/mountinfo") as f:
        table = f.read()
    assert vol.root not in table and cid not in table
    assert sorted(vol.volumes()) == ["nv", "tv"]


def test_failed_create_leaves_no_volume_behind(vol) -> None:
    vol("create", "--name", "taken", "busybox", "true")
    code, out = vol.fails("create", "--name", "taken", "-v", "fresh:/f", "-v", "/anon",
                          "busybox", "true")
    assert code == 125 and "already in use" in out
    assert vol.volumes() == []
    code, out = vol.fails("create", "--volumes-from", "nosuch", "busybox", "true")
    assert "No such container: nosuch" in out
    code, out = vol.fails("create", "-v", "x:/f", "busybox", "true")
    assert "volume name is too short" in out
    assert vol.volumes() == [] and vol.out("ps", "-aq").split() == \
        [vol.inspect("taken")["Id"][:12]]
