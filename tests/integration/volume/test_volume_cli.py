"""``berth volume create|ls|inspect|rm|prune`` as a user types them."""
from __future__ import annotations

import json
import os


def test_create_ls_inspect_rm(vol) -> None:
    assert vol.out("volume", "create", "--label", "app=web", "-l", "tier", "web-data").strip() \
        == "web-data"
    anon = vol.out("volume", "create").strip()
    assert len(anon) == 64
    table = vol.out("volume", "ls").splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(line.split()[1] for line in table[1:]) == sorted([anon, "web-data"])
    assert vol.out("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}}",
                   "-f", "name=web").strip() == "web-data local app=web,tier="
    assert vol.volumes("label=app=web") == ["web-data"]
    assert vol.volumes("label=app=db") == []
    rows = [json.loads(line) for line in vol.out("volume", "ls", "--format", "json").splitlines()]
    assert {r["Name"] for r in rows} == {anon, "web-data"}
    doc = json.loads(vol.out("volume", "inspect", "web-data"))[0]
    assert doc["Name"] == "web-data" and doc["Labels"] == {"app": "web", "tier": ""}
    assert doc["Mountpoint"] == os.path.join(vol.root, "volumes", "web-data", "_data")
    assert os.path.isdir(doc["Mountpoint"])
    code, out = vol.fails("volume", "inspect", "web-data", "nope")
    assert code == 1 and "no such volume" in out and '"web-data"' in out
    assert vol.out("volume", "rm", "web-data", anon).split() == ["web-data", anon]
    assert not os.path.exists(os.path.dirname(doc["Mountpoint"]))
    code, out = vol.fails("volume", "rm", "web-data")
    assert code == 1 and "no such volume" in out
    vol("volume", "rm", "-f", "web-data")


def test_create_rejects_bad_names_and_options(vol) -> None:
    for args, message in ((["a"], "too short"),
                          (["bad/name"], "invalid characters"),
                          (["-o", "colour=red", "okname"], 'invalid option key: "colour"'),
                          (["-o", "type=tmpfs", "okname"], 'missing required option: "device"'),
                          (["-o", "novalue", "okname"], "invalid key/value pair"),
                          (["-d", "nfs", "okname"], "plugin")):
        code, out = vol.fails("volume", "create", *args)
        assert code == 125 and message in out, out
    assert vol.volumes() == []
    code, out = vol.fails("volume", "ls", "-f", "colour=red")
    assert "invalid filter" in out


def test_prune_asks_first_and_respects_in_use(vol) -> None:
    vol("volume", "create", "keep-me")
    vol("volume", "create", "unused")
    vol("create", "--name", "user", "-v", "keep-me:/k", "-v", "/anon", "busybox", "true")
    lone_anon = vol.out("volume", "create").strip()
    out = vol.out("volume", "prune", input=b"n\n")
    assert "Are you sure you want to continue? [y/N]" in out
    assert len(vol.volumes()) == 4
    out = vol.out("volume", "prune", input=b"y\n")
    assert "Deleted Volumes:\n" + lone_anon + "\n" in out
    assert "unused" in vol.volumes()
    out = vol.out("volume", "prune", "--all", "--force")
    assert "unused" in out
    used = {m["Name"] for m in vol.inspect("user")["Mounts"]}
    assert "keep-me" in used and len(used) == 2
    assert set(vol.volumes()) == used
    code, out = vol.fails("volume", "rm", "keep-me")
    assert "remove keep-me: volume is in use - [" + vol.inspect("user")["Id"] + "]" in out
    vol("rm", "user")
    vol("volume", "prune", "-af")
    assert vol.volumes() == []
