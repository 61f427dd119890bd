"""Fixtures for shim tests: containers run under a real shim, cleaned up even when a test fails."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from shim_helpers import TEST_CGROUP_PARENT, ShimBox

import berth.runtime as rt


@pytest.fixture(scope="session", autouse=True)
def shim_cgroup_parent() -> Iterator[None]:
    """At the end, remove the parent cgroup the tests shared."""
    yield
    layout = rt.detect()
    for mountpoint in [m for m, _controllers in layout.v1] + ([layout.unified] if layout.unified else []):
        try:
            os.rmdir(os.path.join(mountpoint, TEST_CGROUP_PARENT))
        except OSError:
            pass


@pytest.fixture
def make_box(berth_env: Any, busybox_rootfs_dir: str) -> Iterator[Callable[..., ShimBox]]:
    boxes: list[ShimBox] = []

    def make(runtime: str = "berth") -> ShimBox:
        box = ShimBox(berth_env.base, busybox_rootfs_dir, runtime)
        boxes.append(box)
        return box

    try:
        yield make
    finally:
        for box in boxes:
            box.cleanup()


@pytest.fixture
def box(make_box: Callable[..., ShimBox]) -> ShimBox:
    return make_box()
