"""ContainerSpec parsing and the Entrypoint/Cmd/Env rules of a container's Config."""
from __future__ import annotations

import pytest

from berth.container import ContainerSpec, parse_restart, parse_size, parse_ulimit, signal_number
from berth.container.ocispec import docker_config, merge_env, process_args
from berth.container.spec import parse_env_file
from berth.errors import InvalidArgument

IMAGE = {"config": {"Entrypoint": ["/entry"], "Cmd": ["default"], "Env": ["PATH=/bin", "A=1"],
                    "WorkingDir": "/srv", "User": "nobody", "Labels": {"img": "x"}}}


def test_sizes_restart_and_ulimits_parse_like_docker() -> None:
    assert parse_size("32m") == 32 * 1024 * 1024
    assert parse_size("1.5g") == int(1.5 * 1024 ** 3)
    assert parse_size("512") == 512
    with pytest.raises(InvalidArgument):
        parse_size("lots")
    assert parse_restart("on-failure:3") == ("on-failure", 3)
    assert parse_restart("always") == ("always", 0)
    with pytest.raises(InvalidArgument):
        parse_restart("always:3")
    with pytest.raises(InvalidArgument):
        parse_restart("sometimes")
    assert parse_ulimit("nofile=1024:2048") == ("nofile", [1024, 2048])
    assert parse_ulimit("nproc=64") == ("nproc", [64, 64])
    with pytest.raises(InvalidArgument):
        parse_ulimit("nofile=10:5")
    assert signal_number("TERM") == 15 and signal_number("SIGKILL") == 9 and signal_number("2") == 2
    with pytest.raises(InvalidArgument):
        signal_number("SIGNOPE")


def test_spec_round_trips_through_json_and_validates() -> None:
    spec = ContainerSpec(image="busybox", command=["sh"], env=["A=1"], memory=1 << 25,
                         ulimits={"nofile": [10, 20]}, restart_policy="on-failure",
                         restart_max_retries=2)
    assert ContainerSpec.from_dict(spec.to_dict()) == spec
    assert ContainerSpec.from_dict(dict(spec.to_dict(), unknown_future_key=1)) == spec
    with pytest.raises(InvalidArgument, match="--rm"):
        ContainerSpec(image="x", auto_remove=True, restart_policy="always").validate()
    with pytest.raises(InvalidArgument, match="absolute"):
        ContainerSpec(image="x", workdir="rel").validate()


def test_entrypoint_and_cmd_rules() -> None:
    cfg = docker_config(ContainerSpec(image="i"), IMAGE, "h", "i")
    assert process_args(cfg) == ["/entry", "default"]
    cfg = docker_config(ContainerSpec(image="i", command=["run", "me"]), IMAGE, "h", "i")
    assert process_args(cfg) == ["/entry", "run", "me"]
    # --entrypoint replaces the image's and clears its Cmd
    cfg = docker_config(ContainerSpec(image="i", entrypoint=["/other"]), IMAGE, "h", "i")
    assert process_args(cfg) == ["/other"]
    cfg = docker_config(ContainerSpec(image="i", entrypoint=[], command=["ls"]), IMAGE, "h", "i")
    assert process_args(cfg) == ["ls"] and cfg["Entrypoint"] is None
    with pytest.raises(InvalidArgument, match="No command specified"):
        docker_config(ContainerSpec(image="i"), {"config": {}}, "h", "i")
    assert cfg["WorkingDir"] == "/srv" and cfg["User"] == "nobody"
    cfg = docker_config(ContainerSpec(image="i", user="0", workdir="/w", labels={"l": "1"}),
                        IMAGE, "h", "i")
    assert cfg["User"] == "0" and cfg["WorkingDir"] == "/w"
    assert cfg["Labels"] == {"img": "x", "l": "1"}


def test_env_merge_keeps_order_and_overrides() -> None:
    merged = merge_env(["PATH=/bin", "A=1", "B=2"], ["A=9", "C=3"])
    assert merged == ["PATH=/bin", "A=9", "B=2", "C=3"]
    cfg = docker_config(ContainerSpec(image="i", env=["A=2"]), IMAGE, "h", "i")
    assert cfg["Env"] == ["PATH=/bin", "A=2"]
    cfg = docker_config(ContainerSpec(image="i"), {"config": {"Cmd": ["x"]}}, "h", "i")
    assert cfg["Env"][0].startswith("PATH=")


def test_env_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FROM_HOST", "yes")
    f = tmp_path / "env"
    f.write_text("# comment\nA=1\n\nB=has=equals\nFROM_HOST\nUNSET_ONE\n")
    assert parse_env_file(str(f)) == ["A=1", "B=has=equals", "FROM_HOST=yes"]


def test_since_accepts_timestamps_and_durations() -> None:
    from berth.container.logs import parse_since

    assert parse_since("1700000000") == 1700000000.0
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("1h30s", now=5000.0) == 1370.0
    assert parse_since("2023-11-14T22:13:20Z") == 1700000000.0
    with pytest.raises(InvalidArgument):
        parse_since("yesterday")
