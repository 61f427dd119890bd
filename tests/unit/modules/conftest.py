"""Import the collection's modules as Ansible does: from ``ansible_collections.berth.engine``."""
from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def collection() -> "callable":
    """A function importing ``plugins/<kind>/<name>.py`` through a temp ansible_collections tree."""
    base = tempfile.mkdtemp(prefix="berth-collection-")
    ns = Path(base) / "ansible_collections" / "berth"
    ns.mkdir(parents=True)
    os.symlink(REPO, ns / "engine")
    sys.path.insert(0, base)

    def load(kind: str, name: str) -> ModuleType:
        return importlib.import_module(f"ansible_collections.berth.engine.plugins.{kind}.{name}")

    try:
        yield load
    finally:
        sys.path.remove(base)
        for key in [k for k in sys.modules if k.startswith("ansible_collections.berth")]:
            del sys.modules[key]
        os.unlink(ns / "engine")
        for d in (ns, ns.parent, Path(base)):
            d.rmdir()
