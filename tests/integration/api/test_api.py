"""berthd's HTTP API: system endpoints, containers created with curl, errors, logs, events."""
from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import threading

import pytest


def curl(berthd, method: str, path: str, body=None) -> tuple[int, bytes]:
    """The real curl over the unix socket: (status, body)."""
    cmd = ["curl", "-sS", "--unix-socket", berthd.socket, "-X", method, "-o", "-",
           "-w", "\n%{http_code}", f"http://localhost{path}"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout
    text, _sep, code = out.rpartition(b"\n")
    return int(code), text


def test_ping_version_info(berthd):
    status, headers, body = berthd.request("GET", "/_ping")
    assert (status, body) == (200, b"OK")
    assert headers["Api-Version"] == "1.41"
    status, headers, body = berthd.request("HEAD", "/_ping")
    assert status == 200 and body == b""
    version = berthd.json("GET", "/v1.41/version")
    assert version["ApiVersion"] == "1.41" and version["MinAPIVersion"] == "1.12"
    assert version["Os"] == "linux"
    # a newer client's path prefix is served as 1.41
    assert berthd.json("GET", "/v1.47/version")["ApiVersion"] == "1.41"
    info = berthd.json("GET", "/info")
    assert info["Images"] == 1 and info["Containers"] == 0
    assert info["DockerRootDir"] == str(berthd.env.root)


def test_socket_is_root_only_and_pidfile_names_the_daemon(berthd):
    mode = os.stat(berthd.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    with open(berthd.pidfile) as f:
        assert int(f.read()) == berthd.proc.pid


def test_lists_containers_created_by_the_cli(berthd):
    cid = berthd.env.berth("create", "--name", "from-cli", "-l", "tier=web", "busybox",
                           "true").stdout.decode().strip()
    rows = berthd.json("GET", "/v1.41/containers/json?all=1")
    assert [(r["Id"], r["Names"], r["State"], r["Image"]) for r in rows] == \
        [(cid, ["/from-cli"], "created", "busybox")]
    assert rows[0]["Labels"] == {"tier": "web"}
    assert berthd.json("GET", "/v1.41/containers/json") == []  # running only
    filtered = berthd.json("GET", '/containers/json?all=1&filters={"label":["tier=db"]}')
    assert filtered == []


def test_curl_create_start_logs_stop_remove(berthd):
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "echo out; echo err >&2; exec sleep 600"],
            "Env": ["GREETING=hi"], "Labels": {"made-by": "curl"},
            "HostConfig": {"RestartPolicy": {"Name": "no"}, "NetworkMode": "none",
                           "Memory": 64 * 1024 * 1024}}
    status, raw = curl(berthd, "POST", "/v1.41/containers/create?name=web", body)
    assert status == 201, raw
    cid = json.loads(raw)["Id"]
    status, raw = curl(berthd, "POST", f"/v1.41/containers/{cid}/start")
    assert status == 204, raw
    doc = berthd.json("GET", "/v1.41/containers/web/json")
    assert doc["State"]["Running"] and doc["State"]["Pid"] > 0
    assert "GREETING=hi" in doc["Config"]["Env"] and doc["HostConfig"]["Memory"] == 64 << 20
    os.kill(doc["State"]["Pid"], 0)  # a real process on this host
    # the CLI sees what the API made
    assert "web" in berthd.env.berth("ps").stdout.decode()
    # logs with Docker's 8-byte stream headers; wait until both lines are written
    frames = []
    for _attempt in range(200):
        _status, _headers, raw = berthd.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
        frames = _demux(raw)
        if len(frames) >= 2:
            break
        threading.Event().wait(0.05)
    assert sorted(frames) == [(1, b"out\n"), (2, b"err\n")]
    _status, _headers, raw = berthd.request("GET", f"/containers/{cid}/logs?stdout=1")
    assert _demux(raw) == [(1, b"out\n")]
    status, raw = curl(berthd, "POST", "/containers/create?name=web", body)
    assert status == 409 and "already in use" in json.loads(raw)["message"]
    status, raw = curl(berthd, "DELETE", f"/containers/{cid}")
    assert status == 409 and "running" in json.loads(raw)["message"]
    status, _body = curl(berthd, "POST", f"/containers/{cid}/stop?t=1")
    assert status == 204
    assert berthd.json("GET", f"/containers/{cid}/json")["State"]["Status"] == "exited"
    status, _body = curl(berthd, "POST", f"/containers/{cid}/stop")
    assert status == 304
    wait = berthd.json("POST", f"/containers/{cid}/wait")
    assert wait["StatusCode"] == 137  # exec sleep ignores SIGTERM as PID 1: killed after 1s
    status, _body = curl(berthd, "DELETE", f"/v1.41/containers/{cid}")
    assert status == 204
    assert berthd.json("GET", "/containers/json?all=1") == []


def _demux(raw: bytes) -> list[tuple[int, bytes]]:
    out = []
    while raw:
        kind, size = struct.unpack(">BxxxL", raw[:8])
        out.append((kind, raw[8:8 + size]))
        raw = raw[8 + size:]
    return out


@pytest.mark.parametrize("method,path,body,status,fragment", [
    ("GET", "/containers/nope/json", None, 404, "No such container: nope"),
    ("GET", "/images/nope:1/json", None, 404, "nope"),
    ("POST", "/containers/create", {"Image": "no-such-image"}, 404, "no-such-image"),
    ("POST", "/containers/create", {"Image": "busybox",
                                    "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}},
     400, "restart policy"),
    ("POST", "/containers/create", b"{not json", 400, "invalid JSON"),
    ("GET", "/no/such/endpoint", None, 404, "page not found"),
    ("DELETE", "/_ping", None, 405, "not allowed"),
])
def test_errors_have_dockers_shape(berthd, method, path, body, status, fragment):
    got, headers, raw = berthd.request(method, path, body)
    assert got == status
    assert headers["Content-Type"] == "application/json"
    assert fragment in json.loads(raw)["message"]


def test_events_stream_shows_create_start_die(berthd):
    conn = berthd.connection(timeout=120)
    conn.request("GET", '/v1.41/events?filters={"type":["container"]}')
    resp = conn.getresponse()
    assert resp.status == 200
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def read() -> None:
        for line in resp:
            event = json.loads(line)
            seen.append((event["Action"], event["Actor"]["ID"]))
            if event["Action"] == "die":
                break
        done.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        cid = berthd.json("POST", "/containers/create?name=ev",
                          {"Image": "busybox", "Cmd": ["sh", "-c", "exit 3"],
                           "HostConfig": {"NetworkMode": "none"}}, expect=201)["Id"]
        status, _headers, _body = berthd.request("POST", f"/containers/{cid}/start")
        assert status == 204
        assert berthd.json("POST", f"/containers/{cid}/wait?condition=not-running")[
            "StatusCode"] == 3
        assert done.wait(60), f"no die event; saw {seen}"
    finally:
        conn.close()
    assert [a for a, i in seen if i == cid] == ["create", "start", "die"]
    # the same events are kept for ?since=
    _status, _headers, raw = berthd.request("GET", f"/events?since=0&until={int(__import__('time').time()) + 1}"
                                            f"&filters=%7B%22container%22%3A%5B%22ev%22%5D%7D")
    assert [json.loads(x)["Action"] for x in raw.splitlines()] == ["create", "start", "die"]


def test_images_networks_volumes(berthd, busybox):
    images = berthd.json("GET", "/images/json")
    assert [(i["Id"], i["RepoTags"]) for i in images] == [(busybox, ["busybox:latest"])]
    status, _headers, _body = berthd.request("POST", "/images/busybox/tag?repo=example.com/bb&tag=v1")
    assert status == 201
    assert berthd.json("GET", "/images/example.com/bb:v1/json")["Id"] == busybox
    report = berthd.json("DELETE", "/images/example.com/bb:v1")
    assert report == [{"Untagged": "example.com/bb:v1"}]
    vol = berthd.json("POST", "/volumes/create", {"Name": "data", "Labels": {"a": "b"}},
                      expect=201)
    assert vol["Name"] == "data" and vol["Labels"] == {"a": "b"}
    assert [v["Name"] for v in berthd.json("GET", "/volumes")["Volumes"]] == ["data"]
    status, _headers, _body = berthd.request("DELETE", "/volumes/data")
    assert status == 204
    assert berthd.json("GET", "/volumes")["Volumes"] == []
    net = berthd.json("POST", "/networks/create",
                      {"Name": "apinet", "IPAM": {"Config": [{"Subnet": "10.213.7.0/24"}]}},
                      expect=201)
    doc = berthd.json("GET", "/networks/apinet")
    assert doc["Id"] == net["Id"] and doc["IPAM"]["Config"][0]["Subnet"] == "10.213.7.0/24"
    assert "apinet" in [n["Name"] for n in berthd.json("GET", "/networks")]
    status, _headers, _body = berthd.request("DELETE", "/networks/apinet")
    assert status == 204
    status, _headers, _body = berthd.request("GET", "/networks/apinet")
    assert status == 404


def test_image_save_and_load_round_trip(berthd, busybox):
    status, headers, tarball = berthd.request("GET", "/images/get?names=busybox")
    assert status == 200 and headers["Content-Type"] == "application/x-tar"
    assert b"manifest.json" in tarball
    assert berthd.json("DELETE", "/images/busybox")[0] == {"Untagged": "busybox:latest"}
    status, _headers, raw = berthd.request("POST", "/images/load?quiet=0", tarball,
                                           headers={"Content-Type": "application/x-tar"})
    assert status == 200
    assert "Loaded image: busybox:latest" in raw.decode()
    assert berthd.json("GET", "/images/busybox/json")["Id"] == busybox
