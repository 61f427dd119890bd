"""berth: a daemonless container engine.

This package lives at ``plugins/module_utils/berth`` inside the Ansible collection and is importable
as plain ``berth`` outside Ansible (see pyproject.toml). Inside the package every import is relative,
so the same files work in both places.
"""
from __future__ import annotations

__version__ = "0.1.0"
