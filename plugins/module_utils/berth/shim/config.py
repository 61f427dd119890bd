"""``shim.json``: what the container service tells the shim before launching it (read-only here)."""
from __future__ import annotations

import json
import os
import signal

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~1 MB of RSS; the shim must stay small
    from typing import Any

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


def signal_number(name: str | int) -> int:
    """``"SIGTERM"``, ``"TERM"``, ``"15"`` or ``15`` -> 15."""
    if isinstance(name, int) and not isinstance(name, bool):
        number = name
    else:
        text = str(name).strip().upper()
        if text.isdigit():
            number = int(text)
        else:
            text = text if text.startswith("SIG") else "SIG" + text
            sig = getattr(signal, text, None)
            if not isinstance(sig, signal.Signals):
                raise InvalidArgument(f"unknown signal {name!r}")
            number = int(sig)
    if not 0 < number < signal.NSIG:
        raise InvalidArgument(f"invalid signal number {number}")
    return number


def _field(raw: dict, key: str, kinds: tuple, default: Any) -> Any:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InvalidArgument(f"shim.json: {key} has the wrong type")
    return value


class ShimConfig:
    """The fields of shim.json, validated; see docs/design/shim.md."""

    def __init__(self, raw: dict) -> None:
        self.id: str = _field(raw, "id", (str,), "")
        self.bundle: str = _field(raw, "bundle", (str,), "")
        self.runtime: str = _field(raw, "runtime", (str,), "berth")
        self.log_path: str = _field(raw, "log_path", (str,), "")
        if not self.bundle or not self.log_path:
            raise InvalidArgument("shim.json: bundle and log_path are required")
        self.log_max_size: int | None = _field(raw, "log_max_size", (int,), None)
        self.log_max_files: int = max(_field(raw, "log_max_files", (int,), 1), 1)
        restart = _field(raw, "restart", (dict,), {})
        self.restart_name: str = _field(restart, "name", (str,), "no")
        if self.restart_name not in RESTART_POLICIES:
            raise InvalidArgument(f"shim.json: unknown restart policy {self.restart_name!r}")
        self.restart_max_retries: int = _field(restart, "max_retries", (int,), 0)
        self.stop_signal = signal_number(_field(raw, "stop_signal", (str, int), "SIGTERM"))
        self.stop_timeout = float(_field(raw, "stop_timeout", (int, float), 10))
        self.tty: bool = _field(raw, "tty", (bool,), False)
        self.interactive: bool = _field(raw, "interactive", (bool,), False)
        self.on_exit: list[str] = _field(raw, "on_exit", (list,), [])
        self.on_exit_env: dict[str, str] = _field(raw, "on_exit_env", (dict,), {})
        if not all(isinstance(arg, str) for arg in self.on_exit) or \
                (self.on_exit and not os.path.isabs(self.on_exit[0])):
            raise InvalidArgument("shim.json: on_exit must be a list of strings, an absolute "
                                  "program path first")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.on_exit_env.items()):
            raise InvalidArgument("shim.json: on_exit_env must map strings to strings")
        # a foreground client that releases the run itself: while it runs, on_exit is skipped
        self.released_by: dict | None = _field(raw, "released_by", (dict,), None)
        self.health: dict | None = _health(_field(raw, "health", (dict,), None))


def _health(raw: dict | None) -> dict | None:
    """shim.json's ``health``: the probe command and its schedule (docs/design/shim.md)."""
    if raw is None:
        return None
    probe = _field(raw, "probe", (list,), [])
    if not probe or not all(isinstance(a, str) for a in probe) or not os.path.isabs(probe[0]):
        raise InvalidArgument("shim.json: health.probe must be a list of strings, an absolute "
                              "program path first")
    env = _field(raw, "probe_env", (dict,), {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise InvalidArgument("shim.json: health.probe_env must map strings to strings")
    out = {"probe": probe, "probe_env": env,
           "retries": _field(raw, "retries", (int,), 3),
           "start_period": float(_field(raw, "start_period", (int, float), 0))}
    for key in ("interval", "timeout"):
        out[key] = float(_field(raw, key, (int, float), 30))
        if out[key] <= 0:
            raise InvalidArgument(f"shim.json: health.{key} must be positive")
    if out["retries"] < 1 or out["start_period"] < 0:
        raise InvalidArgument("shim.json: health.retries must be at least 1, start_period >= 0")
    return out


def load_config(run_dir: str) -> ShimConfig:
    path = os.path.join(run_dir, "shim.json")
    try:
        with open(path, "rb") as f:
            raw = json.loads(f.read())
    except FileNotFoundError:
        raise InvalidArgument(f"no shim.json in {run_dir}") from None
    except ValueError as e:
        raise InvalidArgument(f"invalid shim.json in {run_dir}: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"invalid shim.json in {run_dir}: not an object")
    return ShimConfig(raw)
