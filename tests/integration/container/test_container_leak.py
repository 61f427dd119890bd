"""Many ``run --rm`` cycles leave no mount, cgroup, process or file behind.

Only what this test's containers could leave is counted (mounts that name the test's dir, the
cgroups of its containers): other engineers' tests may run containers on this host meanwhile."""
from __future__ import annotations

import os
import time

from ctr_helpers import cgroup_dirs, files_under, mounts_under, processes_mentioning

CYCLES = int(os.environ.get("BERTH_LEAK_CYCLES", "200"))
TIME_BUDGET = float(os.environ.get("BERTH_LEAK_SECONDS", "300"))  # a safety net, not a speed check


def _mounts_naming(path: str) -> int:
    """Mounts whose mount point, source or options (overlay dirs) mention ``path``."""
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if path in line.encode().decode("unicode_escape"))


def _snapshot(env, short_ids: set[str]) -> dict:
    return {
        "mounts": sorted(mounts_under(str(env.base))),
        "mounts_naming_test_dir": _mounts_naming(str(env.base)),
        "cgroups": sorted(d for d in cgroup_dirs() if d.rsplit("/", 1)[-1][:12] in short_ids),
        "processes": sorted(processes_mentioning(str(env.base))),
        "containers_dir": files_under(str(env.root / "containers")),
        "run_dir": files_under(str(env.run)),
    }


def test_run_rm_cycles_leak_nothing(ctr) -> None:
    ctr("run", "--rm", "busybox", "true")  # first use creates the shared parent dirs
    short_ids: set[str] = set()  # each container prints its hostname: its short ID
    before = _snapshot(ctr.env, short_ids)
    started = time.monotonic()
    done = 0
    while done < CYCLES and time.monotonic() - started < TIME_BUDGET:
        out = ctr.out("run", "--rm", "busybox", "sh", "-c", f"echo {done}; hostname")
        number, short_id = out.split("\n")[:2]
        assert number == str(done) and len(short_id) == 12, out
        short_ids.add(short_id)
        done += 1
    elapsed = time.monotonic() - started
    print(f"\n{done} run --rm cycles in {elapsed:.1f}s ({elapsed / max(done, 1) * 1000:.0f} ms each)")
    assert done >= 20
    assert ctr.ids() == []
    assert len(short_ids) == done
    assert _snapshot(ctr.env, short_ids) == before
