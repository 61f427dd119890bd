"""berth (and berthd, its daemon) vs docker vs podman on this host: one entry point
(``make bench``).

    bench/run.py [--reps 5] [--heavy-reps 3] [--containers 50] [--only ROW ...] [--no-profile]
                 [--engines berth berthd docker podman]

Installs the reference tools from Debian when missing, starts private instances of them (temp
data roots, sockets, configs), imports the same busybox rootfs into each, runs every row
interleaved, prints medians and berth/reference ratios, profiles ``berth run --rm true``, and
cleans up everything it started, also on Ctrl-C or failure. Network traffic goes to 127.0.0.1
only. Results and profiles are kept in --out (default /var/tmp/berth-bench-results/<time>).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import engines as eng_mod  # noqa: E402
import fixtures  # noqa: E402
import host  # noqa: E402
import playbook  # noqa: E402
import profiling  # noqa: E402
import rows  # noqa: E402
from host import log  # noqa: E402

ROWS = ("run", "publish", "build", "pushpull", "fifty", "import", "playbook")
ENGINES = ("berth", "berthd", "docker", "podman")
#: the engines under test; the others (and skopeo) are references they are compared with
SUBJECTS = ("berth", "berthd")
# program -> Debian packages that provide it (and what it needs at run time)
TOOLS = {"dockerd": ["docker.io"], "podman": ["podman", "conmon", "containernetworking-plugins"],
         "runc": ["runc"], "skopeo": ["skopeo"], "docker-registry": ["docker-registry"],
         "strace": ["strace"]}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=5, help="repetitions of the quick rows")
    p.add_argument("--heavy-reps", type=int, default=3,
                   help="repetitions of push/pull and of the playbook's second run")
    p.add_argument("--containers", type=int, default=50, help="containers started in that row")
    p.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS), help="rows to run")
    p.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES,
                   help="berthd: berth's daemon, driven by berth -H")
    p.add_argument("--no-profile", action="store_true", help="skip profiling berth run --rm")
    p.add_argument("--no-install", action="store_true", help="never call apt-get")
    p.add_argument("--cache", default=os.environ.get("BENCH_CACHE") or "/var/cache/berth-bench",
                   help="payload tars, bytecode and the profilers' venv live here")
    p.add_argument("--out", default="", help="where results.md/json and profiles go")
    return p.parse_args(argv)


def install_missing(no_install: bool) -> list[str]:
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing and not no_install:
        pkgs = sorted({p for t in missing for p in TOOLS[t]})
        log(f"installing from Debian: {' '.join(pkgs)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *pkgs],
                          env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *pkgs],
                           env=env, capture_output=True, check=False)
        missing = [t for t in TOOLS if not shutil.which(t)]
    return missing


def _fmt(value: float, unit: str) -> str:
    if unit == "s/ctr" or (unit == "s" and value < 10):
        return f"{value:.3f}"
    return f"{value:.1f}"


def table(results: list[rows.Row], subjects: list[str], refs: list[str]) -> str:
    cols = [*subjects, *refs]
    pairs = [(s, r) for s in subjects for r in refs]
    head = ["row", "unit", *cols, *[f"{s}/{r}" for s, r in pairs]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in results:
        if row.skipped:
            lines.append(f"| {row.name} | skipped: {row.skipped} |" + " |" * (len(head) - 2))
            continue
        med = {e: statistics.median(v) for e, v in row.samples.items() if v}
        cells = [row.name, row.unit + (" (higher=better)" if row.higher_better else "")]
        cells += [_fmt(med[c], row.unit) + f" (n={len(row.samples[c])})" if c in med else "-"
                  for c in cols]
        for s, r in pairs:
            cells.append(f"{med[s] / med[r]:.2f}" if s in med and r in med and med[r] else "-")
        lines.append("| " + " | ".join(cells) + " |")
        notes += [f"- {row.name}: {n}" for n in row.notes]
    return "\n".join(lines) + ("\n\nNotes:\n" + "\n".join(notes) if notes else "")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it starts container engines)")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    t_start = time.monotonic()
    missing = install_missing(args.no_install)
    os.makedirs(args.cache, exist_ok=True)
    out = args.out or os.path.join("/var/tmp/berth-bench-results", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    before = host.HostSnapshot.take()
    base = tempfile.mkdtemp(prefix="berth-bench-", dir="/var/tmp")
    engines: list[eng_mod.Engine] = []
    results: list[rows.Row] = []
    skipped_engines: dict[str, str] = {}
    summary = ""
    try:
        busybox = fixtures.busybox_tar(None)
        for name in args.engines:
            if name == "docker" and "dockerd" in missing:
                skipped_engines[name] = "dockerd is not installed"
                continue
            if name == "podman" and "podman" in missing:
                skipped_engines[name] = "podman is not installed"
                continue
            pycache = os.path.join(args.cache, "pycache")
            engine = (eng_mod.Berth(base, pycache) if name == "berth"
                      else eng_mod.Berthd(base, pycache) if name == "berthd"
                      else eng_mod.Docker(base) if name == "docker" else eng_mod.Podman(base))
            try:
                log(f"starting {name}")
                engines.append(engine)
                engine.start()
                engine.run("import", busybox, rows.IMAGE)
            except Exception as exc:  # noqa: BLE001 - bench the engines that work
                skipped_engines[name] = str(exc).splitlines()[0][:200]
                log(f"{name} skipped: {skipped_engines[name]}")
                engines.remove(engine)
                try:
                    engine.stop()
                except Exception as stop_exc:  # noqa: BLE001 - the other engines still run
                    log(f"stopping {name} failed: {stop_exc}")
        subjects = [e.name for e in engines if e.name in SUBJECTS]
        if not subjects:
            sys.exit("bench: berth itself does not work here; see the messages above")
        berth = next((e for e in engines if e.name == "berth"), None)
        for engine in engines:  # warm: bytecode cache, default network, storage init
            engine.run("run", "--rm", rows.IMAGE, "true", check=False)
        refs = [e.name for e in engines if e.name not in SUBJECTS]
        results = run_rows(args, engines, berth, busybox, base, missing)
        if berth is not None and not args.no_profile:
            log("profiling berth run --rm true")
            summary = profiling.profile(berth, out, args.cache)
            log("profiling other berth commands")
            summary += "\n\n" + profiling.profile_rows(
                berth, out, args.cache, payload(busybox, args.cache, 48), rows.build_context(base))
        if "pushpull" in args.only and "skopeo" not in missing:
            refs.append("skopeo")
        text = table(results, subjects, refs)
        for name, why in skipped_engines.items():
            text += f"\n- engine {name} skipped: {why}"
        minutes = (time.monotonic() - t_start) / 60
        text += f"\n\nWall time of this bench run: {minutes:.1f} min; load average at the end: " \
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs."
        print(text)
        if summary:
            print("\n## Profile of berth run --rm busybox true\n" + summary)
        with open(os.path.join(out, "results.md"), "w") as f:
            f.write(text + ("\n\n" + summary if summary else "") + "\n")
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump([{"row": r.name, "unit": r.unit, "samples": r.samples, "notes": r.notes,
                        "skipped": r.skipped} for r in results], f, indent=1)
        log(f"results and profiles in {out}")
        return 0
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        cleanup(engines, getattr(args, "_registry", None), before, base)


def payload(busybox: str, cache: str, megabytes: int) -> str:
    """The busybox rootfs plus ``megabytes`` MiB of random data, cached."""
    return fixtures.rootfs_with_random(busybox, os.path.join(cache, f"payload-{megabytes}MB.tar"),
                                       megabytes)


def run_rows(args: argparse.Namespace, engines: list[eng_mod.Engine],
             berth: Optional[eng_mod.Engine], busybox: str, base: str,
             missing: list[str]) -> list[rows.Row]:
    results: list[rows.Row] = []

    def step(name: str) -> bool:
        if name in args.only:
            log(f"row {name} ({time.strftime('%H:%M:%S')})")
            return True
        return False

    if step("run"):
        results.append(rows.run_rm_true(engines, args.reps))
    if step("publish"):
        results.append(rows.run_publish_http(engines, args.reps))
    if step("build"):
        results.extend(rows.build(engines, args.reps, base))
    if step("pushpull"):
        if "docker-registry" in missing:
            results.append(rows.Row("push/pull", "MB/s", skipped="docker-registry not installed"))
        else:
            big = payload(busybox, args.cache, rows.PAYLOAD_MB)
            args._registry = fixtures.Registry(base)
            args._registry.start()
            skopeo = None if "skopeo" in missing else shutil.which("skopeo")
            results.extend(rows.push_pull(engines, args.heavy_reps, big, args._registry, base,
                                          skopeo))
            args._registry.stop()
    if step("fifty"):
        results.extend(rows.fifty(engines, args.containers))
    if step("import"):
        tar = payload(busybox, args.cache, 48)
        results.append(rows.import_tar(engines, args.reps, tar))
    if step("playbook"):
        if berth is None:
            results.append(rows.Row("playbook", "s/ctr", skipped="the berth engine is not run"))
        else:
            results.append(playbook.playbook_row(berth, base, args.heavy_reps))  # type: ignore
    return results


def cleanup(engines: list[eng_mod.Engine], registry: object, before: host.HostSnapshot,
            base: str) -> None:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop cleanup
    try:
        for engine in reversed(engines):
            try:
                log(f"stopping {engine.name}")
                engine.stop()
            except Exception as exc:  # noqa: BLE001 - go on with the rest
                log(f"stopping {engine.name} failed: {exc}")
        if registry is not None:
            registry.stop()  # type: ignore[attr-defined]
        done = host.restore_iptables(before, eng_mod.MARKERS)
        done += host.restore_links(before, ("docker0", eng_mod.PODMAN_BRIDGE))
        done += host.restore_netns(before)
        done += host.restore_files(before)
        done += host.restore_ip_forward(before)
        detached = host.detach_mounts(base)
        done += host.restore_paths(before)
        shutil.rmtree(base, ignore_errors=True)
        log(f"cleanup: {len(done)} host changes undone, {detached} mounts detached, {base} removed")
        for item in done:
            log(f"  {item}")
    finally:
        signal.signal(signal.SIGINT, old)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
