"""Health checks: the image's HEALTHCHECK, the container's ``--health-*`` settings, and the probe.

A container's check is the image's with the container's settings over it (Docker's merge: a
non-empty ``Test`` replaces the image's, non-zero durations and retries replace theirs; ``Test``
``[NONE]`` disables). The shim runs the probe (docs/design/shim.md, ``health``)::

    python -m berth.container.health_probe CONTAINER_ID PID

every ``Interval`` while the container runs (health_probe.py); the shim turns the results into
the health status (``starting``, ``healthy``, ``unhealthy``) that inspect and ps show.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ..errors import InvalidArgument
from ..units import parse_duration

NS = 10 ** 9
DEFAULT_INTERVAL = 30 * NS
DEFAULT_TIMEOUT = 30 * NS
DEFAULT_RETRIES = 3
#: Docker refuses durations under a millisecond (other than 0: "the default")
MIN_DURATION = 10 ** 6
#: "berth.container.health_probe", or its name inside an Ansible collection (like the exit hook)
PROBE_MODULE = (__package__ or "berth.container") + ".health_probe"


def merge(container: Optional[Mapping[str, Any]],
          image: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """The container's ``Config.Healthcheck``: its settings over the image's (None: no check)."""
    out = dict(image or {})
    for key, value in (container or {}).items():
        if value:
            out[key] = list(value) if key == "Test" else value
    return out if out.get("Test") else None


def active(check: Optional[Mapping[str, Any]]) -> bool:
    test = (check or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def command(test: Sequence[str]) -> list[str]:
    """The argv of a ``Test``: ``[CMD, prog, args...]`` or ``[CMD-SHELL, "shell text"]``."""
    kind = test[0] if test else ""
    if kind == "CMD" and len(test) > 1:
        return list(test[1:])
    if kind == "CMD-SHELL" and len(test) == 2:
        return ["/bin/sh", "-c", test[1]]
    raise InvalidArgument(f"unsupported health check test {list(test)!r}")


def from_options(cmd: Optional[str] = None, interval: Optional[str] = None,
                 timeout: Optional[str] = None, start_period: Optional[str] = None,
                 retries: Optional[int] = None, disable: bool = False) -> Optional[dict[str, Any]]:
    """The container's own ``Healthcheck`` from ``--health-*`` style values (None: none given)."""
    given = any(v is not None for v in (cmd, interval, timeout, start_period, retries))
    if disable:
        if given:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    out: dict[str, Any] = {"Test": ["CMD-SHELL", cmd] if cmd else []}
    for key, flag, text in (("Interval", "--health-interval", interval),
                            ("Timeout", "--health-timeout", timeout),
                            ("StartPeriod", "--health-start-period", start_period)):
        if text is not None:
            out[key] = _duration(flag, text)
    if retries is not None:
        if retries < 0:
            raise InvalidArgument("--health-retries cannot be negative")
        out["Retries"] = retries
    return validate(out)


def _duration(flag: str, text: str) -> int:
    try:
        value = parse_duration(str(text))
    except ValueError as e:
        raise InvalidArgument(f"invalid argument {text!r} for {flag}: {e}") from None
    if value and value < MIN_DURATION:
        raise InvalidArgument(f"{flag} cannot be less than 1ms")
    if value < 0:
        raise InvalidArgument(f"{flag} cannot be negative")
    return value


def validate(check: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """``check`` in Docker's shape, checked (durations in ns); InvalidArgument otherwise."""
    if check is None:
        return None
    if not isinstance(check, Mapping):
        raise InvalidArgument("healthcheck must be an object")
    known = {"Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"}
    unknown = sorted(set(check) - known)
    if unknown:
        raise InvalidArgument(f"healthcheck: unknown key {unknown[0]!r}")
    test = check.get("Test") or []
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidArgument("healthcheck: Test must be a list of strings")
    if test and test[0] != "NONE":
        command(test)
    for key in known - {"Test"}:
        value = check.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise InvalidArgument(f"healthcheck: {key} must be a non-negative integer")
    return dict(check)


def shim_settings(check: Optional[Mapping[str, Any]], cid: str, root: str,
                  run: str) -> dict[str, Any]:
    """shim.json's ``health`` (seconds as floats), or nothing when the container has no check."""
    if check is None or not active(check):  # (None: for the type checker; active() says so too)
        return {}
    return {"health": {
        "probe": [sys.executable, "-m", PROBE_MODULE, cid],
        "probe_env": {"BERTH_ROOT": root, "BERTH_RUN": run},
        "interval": (check.get("Interval") or DEFAULT_INTERVAL) / NS,
        "timeout": (check.get("Timeout") or DEFAULT_TIMEOUT) / NS,
        "start_period": (check.get("StartPeriod") or 0) / NS,
        "retries": check.get("Retries") or DEFAULT_RETRIES,
    }}


def docker_health(check: Optional[Mapping[str, Any]],
                  state: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """inspect's ``State.Health`` (None when the container has no active check)."""
    if not active(check):
        return None
    reported = state.get("health") or {}
    return {"Status": reported.get("status") or "starting",
            "FailingStreak": int(reported.get("failing_streak") or 0),
            "Log": list(reported.get("log") or [])}
