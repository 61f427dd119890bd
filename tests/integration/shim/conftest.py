"""Fixtures for shim tests: containers run under a real shim, cleaned up even when a test fails."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest
from shim_helpers import TEST_CGROUP_PARENT, ShimBox
from testlib import cleaned_up, remove_cgroup_parent


@pytest.fixture(scope="session", autouse=True)
def shim_cgroup_parent() -> Iterator[None]:
    """At the end, remove the parent cgroup the tests shared."""
    yield
    remove_cgroup_parent(TEST_CGROUP_PARENT)


@pytest.fixture
def make_box(berth_env: Any, busybox_rootfs_dir: str) -> Iterator[Callable[..., ShimBox]]:
    with cleaned_up(lambda runtime="berth": ShimBox(berth_env.base, busybox_rootfs_dir,
                                                    runtime)) as make:
        yield make


@pytest.fixture
def box(make_box: Callable[..., ShimBox]) -> ShimBox:
    return make_box()
