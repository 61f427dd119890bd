"""Where berth keeps its state: BERTH_ROOT (persistent) and BERTH_RUN (runtime, tmpfs)."""
from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_RUN = "/run/berth"
DEFAULT_CONFIG_DIR = "/etc/berth"


def root_dir() -> str:
    return os.environ.get("BERTH_ROOT") or DEFAULT_ROOT


def run_dir() -> str:
    return os.environ.get("BERTH_RUN") or DEFAULT_RUN


def config_dir() -> str:
    return os.environ.get("BERTH_CONFIG") or DEFAULT_CONFIG_DIR
