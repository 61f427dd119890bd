"""berth.shim: the per-container monitor (``python -m berth.shim``) and what callers need of it.

The wire contract with the container service is docs/design/shim.md. Callers use:

    proc, ready = client.spawn(run_dir)            # after writing run_dir/shim.json
    client.request(run_dir, {"op": "stop", "timeout": 10}, timeout=None)
    read_state(run_dir)["exit_code"]               # also after the shim has exited
    for stream, data in read_logs(log_path, follow=True, tail=10): ...

This façade stays light: ``python -m berth.shim`` imports it first, and every idle shim pays for
what it imports (the client module is imported on demand).
"""
from __future__ import annotations

from .logs import read_logs
from .restart import RestartPolicy
from .state import read_state

__all__ = ["RestartPolicy", "read_logs", "read_state"]
