"""Human-readable sizes and durations in Docker's style (go-units), and Go duration strings
(``1m30s``), shared by the CLI, inspect, the builder and health checks."""
from __future__ import annotations

import json
import re


def human_size(size: float) -> str:
    """Decimal units with 3 significant digits, like Docker's units.HumanSize."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{units[i]}"


def human_duration(seconds: float) -> str:
    """Docker's units.HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


_DURATION_UNITS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6,
                   "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds (``1m30s``, ``1.5h``, ``300ms``, ``0``)."""
    quoted = json.dumps(text)
    s = text
    negative = False
    if s[:1] in ("-", "+"):
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError("time: invalid duration %s" % quoted)
    total = 0
    while s:
        m = re.match(r"(\d*)(?:\.(\d*))?", s)
        whole, frac = m.group(1), m.group(2)
        if not whole and not frac:
            raise ValueError("time: invalid duration %s" % quoted)
        s = s[m.end():]
        unit = re.match(r"[^\d.]*", s).group(0)
        if not unit:
            raise ValueError("time: missing unit in duration %s" % quoted)
        if unit not in _DURATION_UNITS:
            raise ValueError("time: unknown unit %s in duration %s" % (json.dumps(unit), quoted))
        s = s[len(unit):]
        scale = _DURATION_UNITS[unit]
        total += int(whole or 0) * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
    return -total if negative else total
