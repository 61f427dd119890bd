"""Real clients against berthd: Debian's docker 20.10 and Docker 28 (DOCKER_HOST=unix://...), and
berth's own CLI in client mode (--host / BERTH_HOST)."""
from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import pytest


def docker(client: str, berthd: Any, *args: str, check: bool = True,
           input: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=berthd.host, DOCKER_CONFIG=str(berthd.env.config / "docker"),
               DOCKER_BUILDKIT="0")
    proc = subprocess.run([client, *args], env=env, capture_output=True, timeout=180, input=input, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace')}")
    return proc


@pytest.mark.parametrize("which", ["docker.io-20.10", "docker-28"])
def test_docker_client_version_ps_images_run_logs_stop_rm(berthd, docker_clients, which):
    client = docker_clients[which]
    if client is None:
        pytest.skip(f"no {which} client binary could be installed")
    out = docker(client, berthd, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
    assert out.stdout.decode().split() == ["1.41", "linux"]
    berthd.env.berth("create", "--name", "made-by-cli", "busybox", "true")
    assert "made-by-cli" in docker(client, berthd, "ps", "-a").stdout.decode()
    images = docker(client, berthd, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert images.stdout.decode().split() == ["busybox:latest"]
    cid = docker(client, berthd, "run", "-d", "--name", "web", "-l", "via=docker", "busybox",
                 "sh", "-c", "echo to-stdout; echo to-stderr >&2; exec sleep 600")
    cid = cid.stdout.decode().strip()
    assert len(cid) == 64
    running = docker(client, berthd, "ps", "--format", "{{.Names}} {{.Label \"via\"}}")
    assert running.stdout.decode().split() == ["web", "docker"]
    logs = _logs_when_written(client, berthd, "web")
    assert (logs.stdout, logs.stderr) == (b"to-stdout\n", b"to-stderr\n")
    assert docker(client, berthd, "stop", "-t", "1", "web").stdout.decode().strip() == "web"
    status = docker(client, berthd, "inspect", "-f", "{{.State.Status}}", "web")
    assert status.stdout.decode().strip() == "exited"
    assert docker(client, berthd, "rm", "web").stdout.decode().strip() == "web"
    assert "web" not in docker(client, berthd, "ps", "-a").stdout.decode().split()
    # foreground run: output through attach, the exit code through wait, --rm by the daemon
    fg = docker(client, berthd, "run", "--rm", "busybox", "sh", "-c",
                "echo fg; echo fg-err >&2; exit 7", check=False)
    assert (fg.returncode, fg.stdout, fg.stderr) == (7, b"fg\n", b"fg-err\n")
    # -i: the client's stdin reaches the container through the attach stream, EOF included
    piped = docker(client, berthd, "run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo eof",
                   input=b"line one\nline two\n", check=False)
    assert (piped.returncode, piped.stdout) == (0, b"line one\nline two\neof\n")
    assert docker(client, berthd, "ps", "-aq").stdout.decode().split() == \
        [berthd.env.berth("ps", "-aq").stdout.decode().strip()]  # only made-by-cli is left


def _logs_when_written(client: str, berthd: Any, name: str) -> subprocess.CompletedProcess:
    for _attempt in range(200):
        logs = docker(client, berthd, "logs", name)
        if logs.stdout and logs.stderr:
            return logs
    return logs


def test_docker_pull_from_local_registry(berthd, docker_clients, local_registry):
    client = docker_clients["docker.io-20.10"] or docker_clients["docker-28"]
    if client is None:
        pytest.skip("no docker client binary could be installed")
    ref = f"{local_registry}/test/busybox:1"
    berthd.env.berth("tag", "busybox", ref)
    berthd.env.berth("push", ref)
    berthd.env.berth("rmi", ref)
    out = docker(client, berthd, "pull", ref)
    assert b"Downloaded newer image" in out.stdout
    images = docker(client, berthd, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert sorted(images.stdout.decode().split()) == sorted(["busybox:latest", ref])


def test_berth_cli_with_host(berthd):
    env = berthd.env
    host = ["--host", berthd.host]
    cid = env.berth(*host, "run", "-d", "--name", "remote", "busybox", "sh", "-c",
                    "echo remote-out; exec sleep 600").stdout.decode().strip()
    # the daemon made it: its create event is on the bus
    _status, _headers, raw = berthd.request("GET", f"/events?since=0&until={int(time.time()) + 1}")
    assert f'"id": "{cid}"'.encode() in raw
    assert "remote" in env.berth(*host, "ps").stdout.decode()
    for _attempt in range(200):
        if env.berth(*host, "logs", "remote").stdout == b"remote-out\n":
            break
    assert env.berth(*host, "logs", "remote").stdout == b"remote-out\n"
    fg = env.berth(*host, "run", "--rm", "busybox", "sh", "-c", "echo fg; exit 5", check=False)
    assert (fg.returncode, fg.stdout) == (5, b"fg\n")
    assert env.berth(*host, "stop", "-t", "0", "remote").stdout == b"remote\n"
    assert env.berth(*host, "inspect", "-f", "{{.State.Status}}", "remote").stdout == b"exited\n"
    assert env.berth(*host, "rm", "remote").stdout == b"remote\n"
    assert env.berth(*host, "ps", "-aq").stdout == b""
    images = env.berth(*host, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert images == b"busybox:latest\n"
    # BERTH_HOST does the same; a verb without a remote form says so instead of going local
    proc = subprocess.run([*_cli(), "exec", "x", "true"], env=dict(env.environ(),
                          BERTH_HOST=berthd.host), capture_output=True, timeout=60, check=False)
    assert proc.returncode == 125 and b"not available with --host" in proc.stderr
    volumes = subprocess.run([*_cli(), "volume", "create", "remote-vol"],
                             env=dict(env.environ(), BERTH_HOST=berthd.host),
                             capture_output=True, timeout=60, check=False)
    assert volumes.stdout == b"remote-vol\n"
    assert berthd.json("GET", "/volumes/remote-vol")["Name"] == "remote-vol"


def test_berth_cli_without_daemon_stays_daemonless_and_host_errors_cleanly(berthd):
    env = berthd.env
    berthd.stop_quietly()
    assert env.berth("run", "-d", "--name", "local", "--network", "none", "busybox", "sleep",
                     "600").returncode == 0
    assert "local" in env.berth("ps").stdout.decode()
    proc = env.berth("--host", berthd.host, "ps", check=False)
    assert proc.returncode == 125 and b"Cannot connect to the berth daemon" in proc.stderr


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "berth.cli"]
