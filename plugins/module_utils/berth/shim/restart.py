"""Restart policy (Docker's ``--restart``) and the delay before each restart."""
from __future__ import annotations

from ..errors import InvalidArgument

BACKOFF_START = 0.1       # seconds before the first restart
BACKOFF_LIMIT = 60.0      # the delay doubles up to this
BACKOFF_RESET_UPTIME = 10.0  # a run at least this long starts the doubling over


class RestartPolicy:
    """``no``, ``on-failure[:N]``, ``always`` or ``unless-stopped``.

    The shim treats ``unless-stopped`` like ``always``; the difference (not restarting a manually
    stopped container when the daemon boots) belongs to the container service.
    """

    def __init__(self, name: str = "no", max_retries: int = 0) -> None:
        if name not in ("no", "on-failure", "always", "unless-stopped"):
            raise InvalidArgument(f"unknown restart policy {name!r}")
        if max_retries < 0:
            raise InvalidArgument("restart max_retries must not be negative")
        self.name = name
        self.max_retries = max_retries

    @classmethod
    def parse(cls, text: str) -> "RestartPolicy":
        """``"on-failure:3"`` -> RestartPolicy("on-failure", 3)."""
        name, _sep, count = text.partition(":")
        if count and name != "on-failure":
            raise InvalidArgument(f"restart policy {name!r} takes no retry count")
        try:
            return cls(name or "no", int(count) if count else 0)
        except ValueError:
            raise InvalidArgument(f"invalid restart retry count {count!r}") from None

    def should_restart(self, exit_code: int, restart_count: int, manually_stopped: bool) -> bool:
        """Whether a container that exited with ``exit_code`` after ``restart_count`` restarts runs
        again. A manual stop always wins."""
        if manually_stopped or self.name == "no":
            return False
        if self.name == "on-failure":
            return exit_code != 0 and (self.max_retries <= 0 or restart_count < self.max_retries)
        return True


class Backoff:
    """100 ms doubling up to 1 min; reset when the last run lasted at least 10 s."""

    def __init__(self) -> None:
        self.delay = 0.0

    def next_delay(self, uptime: float) -> float:
        if self.delay == 0.0 or uptime >= BACKOFF_RESET_UPTIME:
            self.delay = BACKOFF_START
        else:
            self.delay = min(self.delay * 2, BACKOFF_LIMIT)
        return self.delay
