"""Image configs (OCI image-spec config JSON): creation, history and the platform of this host."""
from __future__ import annotations

import datetime
import json
import os
from typing import Any

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}

# Keys of the "config" object that berth understands and writes (Docker's names).
CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
               "StopSignal", "OnBuild", "Healthcheck", "Shell", "ArgsEscaped")


def host_platform() -> dict[str, str]:
    machine = os.uname().machine  # what platform.machine() returns, without importing platform
    result = {"os": "linux", "architecture": _ARCH.get(machine, machine)}
    if machine == "armv7l":
        result["variant"] = "v7"
    elif machine in ("aarch64", "arm64"):
        result["variant"] = "v8"
    return result


def now_rfc3339() -> str:
    """UTC time with nanosecond-style precision, as Docker writes ``created``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


def new_config(diff_ids: list[str], config: dict[str, Any] | None = None,
               history: list[dict[str, Any]] | None = None, created: str | None = None,
               author: str | None = None) -> dict[str, Any]:
    plat = host_platform()
    result: dict[str, Any] = {
        "architecture": plat["architecture"],
        "os": plat["os"],
        "created": created or now_rfc3339(),
        "config": dict(config or {}),
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": list(history or []),
    }
    if "variant" in plat:
        result["variant"] = plat["variant"]
    if author:
        result["author"] = author
    return result


def encode(config: dict[str, Any]) -> bytes:
    """Canonical bytes for a config we create: its sha256 is the image ID."""
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def validate(raw: bytes) -> dict[str, Any]:
    """Parse an image config from a hostile source; only its shape is checked here."""
    from ..errors import InvalidArgument

    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"image config is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidArgument("image config is not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers" \
            or not isinstance(rootfs.get("diff_ids"), list):
        raise InvalidArgument("image config has no valid rootfs.diff_ids")
    from ..store import check_digest

    for diff_id in rootfs["diff_ids"]:
        check_digest(diff_id)
    if not isinstance(config.get("config", {}) or {}, dict):
        raise InvalidArgument("image config's 'config' is not an object")
    if not isinstance(config.get("history", []) or [], list):
        raise InvalidArgument("image config's 'history' is not a list")
    return config
