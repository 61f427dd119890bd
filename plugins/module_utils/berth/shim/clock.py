"""RFC 3339 timestamps with nanoseconds (Docker's ``time`` fields), without importing datetime."""
from __future__ import annotations

import time

#: Go's zero time, which Docker reports for "never" (e.g. ``FinishedAt`` of a running container)
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(ns: int | None = None) -> str:
    """``2024-01-02T03:04:05.123456789Z`` for ``ns`` nanoseconds since the epoch (default: now)."""
    if ns is None:
        ns = time.time_ns()
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (any fraction length, ``Z`` or ``±HH:MM``).

    Raises ValueError for anything else.
    """
    try:
        date, clock = text[:10], text[11:]
        if len(text) < 20 or text[10] not in "Tt ":
            raise ValueError
        year, month, day = (int(p) for p in date.split("-"))
        hour, minute, second = int(clock[0:2]), int(clock[3:5]), int(clock[6:8])
        if clock[2] != ":" or clock[5] != ":":
            raise ValueError
        rest = clock[8:]
        fraction = 0
        if rest.startswith("."):
            digits = len(rest) - len(rest[1:].lstrip("0123456789"))
            if digits == 1:
                raise ValueError
            fraction = int(rest[1:digits].ljust(9, "0")[:9])
            rest = rest[digits:]
        if rest in ("Z", "z"):
            offset = 0
        else:
            sign = {"+": 1, "-": -1}[rest[0]]
            if len(rest) != 6 or rest[3] != ":":
                raise ValueError
            offset = sign * (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60)
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
            raise ValueError
    except (ValueError, IndexError, KeyError):
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds - offset) * 1_000_000_000 + fraction
