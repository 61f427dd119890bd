"""``ansible-doc`` renders every module of the collection, with each controller."""
from __future__ import annotations

import os
import subprocess

import pytest

from play_helpers import CONTROLLERS, REPO

MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_ansible_doc_renders_every_module(controller: str, collections_path: str, tmp_path) -> None:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(tmp_path))
    doc = str(REPO / controller / "bin" / "ansible-doc")
    for name in MODULES:
        proc = subprocess.run([doc, f"berth.engine.{name}"], env=env, capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        assert f"berth.engine.{name}" in proc.stdout and "OPTIONS" in proc.stdout
        assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    listing = subprocess.run([doc, "-l", "berth.engine"], env=env, capture_output=True, text=True,
                             check=False)
    assert sorted(line.split()[0].rsplit(".", 1)[1] for line in listing.stdout.splitlines()
                  if line.startswith("berth.engine.")) == MODULES
