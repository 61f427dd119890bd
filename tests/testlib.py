"""Helpers shared by the test packages (tests/ is on sys.path through its conftest.py)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def mounts_under(prefix: str) -> list[str]:
    """Mount points below ``prefix`` in this mount namespace, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def remove_cgroup_parent(name: str) -> None:
    """Remove the (empty) parent cgroup ``name`` that a test package's containers shared, in every
    hierarchy; one still in use stays."""
    import os

    import berth.runtime as rt

    layout = rt.detect()
    for mountpoint in [m for m, _controllers in layout.v1] + ([layout.unified] if layout.unified else []):
        try:
            os.rmdir(os.path.join(mountpoint, name))
        except OSError:
            pass


@contextlib.contextmanager
def cleaned_up(build: Callable[..., T]) -> Iterator[Callable[..., T]]:
    """The body of a factory fixture: every object ``build`` made gets its ``cleanup()`` at the
    end, also when the test failed."""
    made: list[Any] = []

    def make(*args: Any, **kw: Any) -> T:
        obj = build(*args, **kw)
        made.append(obj)
        return obj

    try:
        yield make
    finally:
        for obj in made:
            obj.cleanup()
