"""``--since`` for ``berth logs``; the json-file reader itself is ``berth.shim.read_logs``."""
from __future__ import annotations

import re
import time
from typing import Optional

from ..errors import InvalidArgument
from .inspect import unix_time

_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_since(text: str, now: Optional[float] = None) -> float:
    """A Unix timestamp, RFC 3339, or a duration before now like ``10m``/``1h30m``/``45s``."""
    now = now or time.time()
    text = text.strip()
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    if re.match(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$", text):
        return now - sum(float(n) * _UNITS[u]
                         for n, u in re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text))
    stamp = unix_time(text if text.endswith("Z") else text + "Z")
    if stamp:
        return stamp
    raise InvalidArgument(f"invalid value for --since: {text}")
