"""A target Python without the installed engine and without requests (pyenv's 3.9): the modules
use the engine bundled in the collection, and a missing library is reported with
missing_required_lib, never a traceback."""
from __future__ import annotations

import glob

import pytest

PY39 = sorted(glob.glob("/root/.pyenv/versions/3.9.*/bin/python3.9"))
pytestmark = pytest.mark.skipif(not PY39, reason="no Python 3.9 in pyenv")


def test_bundled_engine_on_python39_and_missing_requests(play, busybox_rootfs_tar) -> None:
    py = PY39[0]
    ok = play([{"name": "import", "berth.engine.image": {
        "name": "busybox:py39", "source": "import", "import_path": busybox_rootfs_tar}}],
        interpreter=py)
    assert ok["import"]["changed"] is True
    assert ok["import"]["image"]["RepoTags"] == ["busybox:py39"]
    assert play([{"name": "info", "berth.engine.image_info": {"name": ["busybox:py39"]}}],
                interpreter=py)["info"]["images"][0]["Id"] == ok["import"]["image"]["Id"]

    pull = play([{"name": "pull", "berth.engine.image": {"name": "127.0.0.1:1/x:1"}}],
                interpreter=py, expect_failure=True)
    assert "Failed to import the required Python library (requests)" in pull["pull"]["msg"]
    login = play([{"name": "login", "berth.engine.registry": {
        "registry_url": "127.0.0.1:1", "username": "u", "password": "p"}}],
        interpreter=py, expect_failure=True)
    assert "(requests)" in login["login"]["msg"]
