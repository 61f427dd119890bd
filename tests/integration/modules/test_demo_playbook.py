"""playbooks/demo.yml end to end: base image, Dockerfile build, network, volume, a web container
with a published port answering on 127.0.0.1, and a second run with changed=0."""
from __future__ import annotations

import socket

from play_helpers import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_serves_the_page_and_is_idempotent(play) -> None:
    extra = {"demo_port": free_port(), "demo_greeting": "Hello from the berth test"}
    try:
        first = play.book(REPO / "playbooks" / "demo.yml", extra_vars=extra)
        assert "Hello from the berth test" in first["Fetch the page"]["content"]
        assert "Run the web container with a published port" in first.changed
        second = play.book(REPO / "playbooks" / "demo.yml", extra_vars=extra)
        assert second.changed == [], f"second run changed: {second.changed}"
        assert "Hello from the berth test" in second["Fetch the page"]["content"]
    finally:
        play.book(REPO / "playbooks" / "teardown-demo.yml")
    info = play([{"name": "net", "berth.engine.network_info": {"name": "berth-demo"}}])
    assert info["net"]["exists"] is False
