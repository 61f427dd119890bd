"""Constants shared by the module tests (a uniquely named module: every test dir has a conftest)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
#: ansible-core controller venvs to run the playbooks with: .venv (2.19) and .venv-2.21 if present
CONTROLLERS = [v for v in (".venv", ".venv-2.21") if (REPO / v / "bin" / "ansible-playbook").exists()]
