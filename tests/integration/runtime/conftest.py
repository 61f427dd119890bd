"""Fixtures for runtime tests: an overlay-mounted busybox bundle that always cleans up after itself.

The pytest process makes itself a child subreaper (as the shim will be) so each container's PID 1
is reparented to it and reaped here with os.waitpid.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest
from rt_helpers import TEST_CGROUP_PARENT, Bundle
from testlib import cleaned_up, remove_cgroup_parent

import berth.runtime as rt


@pytest.fixture(scope="package", autouse=True)
def subreaper() -> Iterator[None]:
    """Make pytest a child subreaper for these tests, and no longer after them (pytest may run
    this teardown only at the end of the session: tests that need orphans to go to init make
    sure themselves); remove the parent cgroup the tests shared."""
    was = rt.is_child_subreaper()
    if not was:
        rt.set_child_subreaper()
    yield
    if not was:
        rt.set_child_subreaper(False)
    remove_cgroup_parent(TEST_CGROUP_PARENT)


@pytest.fixture
def make_bundle(berth_env: Any, busybox_rootfs_dir: str) -> Iterator[Callable[..., Bundle]]:
    with cleaned_up(lambda runtime="berth": Bundle(berth_env.base, busybox_rootfs_dir,
                                                   runtime)) as make:
        yield make


@pytest.fixture
def bundle(make_bundle: Callable[..., Bundle]) -> Bundle:
    return make_bundle()
