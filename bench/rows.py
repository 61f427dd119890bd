"""The workloads. Each row runs the same work on berth and every reference engine, interleaved
(rep 1: berth, docker, podman; rep 2: docker, podman, berth; ...), and records one sample per
engine and repetition. An engine that lacks a row's verb (``berthd``: ``berth -H`` has no build)
is skipped on that row, with the reason in the row's notes."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from engines import Engine, rss_kb
from fixtures import Registry, free_port, wait_http
from host import log

IMAGE = "busybox"
PAYLOAD_MB = 200


@dataclass
class Row:
    name: str
    unit: str  # "s", "MB/s", "MB", "s/ctr"
    higher_better: bool = False
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""

    def add(self, engine: str, value: float) -> None:
        self.samples.setdefault(engine, []).append(value)


def rotations(engines: list[Engine], reps: int):
    """(rep, engine) pairs with the engine order rotated each repetition."""
    for rep in range(reps):
        k = rep % len(engines)
        for eng in engines[k:] + engines[:k]:
            yield rep, eng


def able(row: Row, engines: list[Engine], *verbs: str) -> list[Engine]:
    """The engines that can run ``verbs``; the others are named on the row, with the reason."""
    out = []
    for eng in engines:
        why = next((w for w in (eng.unsupported(v) for v in verbs) if w), "")
        if why:
            note = f"{eng.name} skipped: {why}"
            if note not in row.notes:
                row.notes.append(note)
                log(f"{row.name}: {note}")
        else:
            out.append(eng)
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _safe(row: Row, eng: Engine, what: str, fn: Callable[[], None]) -> bool:
    """Run one sample; an engine's failure is noted on the row, not fatal to the bench."""
    try:
        fn()
        return True
    except Exception as exc:  # noqa: BLE001 - one engine failing must not stop the others
        msg = f"{eng.name} {what} failed: {str(exc).splitlines()[0][:200]}"
        if msg not in row.notes:
            row.notes.append(msg)
            log(msg)
        return False


# -- run --rm true / run -d -p ---------------------------------------------------------------

def run_rm_true(engines: list[Engine], reps: int) -> Row:
    row = Row("run --rm busybox true", "s")
    for _rep, eng in rotations(engines, reps):
        _safe(row, eng, "run --rm", lambda: row.add(
            eng.name, timed(lambda: eng.run("run", "--rm", IMAGE, "true"))))
    return row


def run_publish_http(engines: list[Engine], reps: int) -> Row:
    row = Row("run -d -p -> first HTTP 200", "s")
    row.notes.append("busybox httpd -f -p 80 -h /etc; GET /passwd on 127.0.0.1, polled every 10 ms")
    for _rep, eng in rotations(engines, reps):
        port = free_port()

        def sample() -> None:
            t0 = time.perf_counter()
            cid = eng.run("run", "-d", "-p", f"127.0.0.1:{port}:80", IMAGE,
                          "httpd", "-f", "-p", "80", "-h", "/etc").strip()
            try:
                if not wait_http(f"http://127.0.0.1:{port}/passwd"):
                    raise RuntimeError(f"no HTTP answer on port {port}")
                row.add(eng.name, time.perf_counter() - t0)
            finally:
                eng.run(*eng.rm_force(cid), check=False)

        _safe(row, eng, "run -d -p", sample)
    return row


# -- build --------------------------------------------------------------------------------------

DOCKERFILE = """FROM busybox
RUN echo hello > /hello
COPY data.txt /data.txt
RUN cat /hello /data.txt > /combined && wc -c /combined
"""


def build_context(workdir: str) -> str:
    ctx = os.path.join(workdir, "build-context")
    os.makedirs(ctx, exist_ok=True)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    with open(os.path.join(ctx, "data.txt"), "w") as f:
        f.write("some data\n" * 100)
    return ctx


def build(engines: list[Engine], reps: int, workdir: str) -> tuple[Row, Row]:
    ctx = build_context(workdir)
    cold = Row("build 3 steps, cold (--no-cache)", "s")
    cached = Row("build 3 steps, cached", "s")
    for row in (cold, cached):
        row.notes.append("docker: legacy builder (DOCKER_BUILDKIT=0; 20.10's default); "
                         "podman: buildah")
    env = {"DOCKER_BUILDKIT": "0"}
    able(cached, engines, "build")
    for rep, eng in rotations(able(cold, engines, "build"), reps):
        tag = f"bench/built-{rep}"
        _safe(cold, eng, "build --no-cache", lambda: cold.add(eng.name, timed(
            lambda: eng.run("build", "--no-cache", "-t", tag, ctx, extra_env=env))))
        _safe(cached, eng, "build (cached)", lambda: cached.add(eng.name, timed(
            lambda: eng.run("build", "-t", tag, ctx, extra_env=env))))
    return cold, cached


# -- import -------------------------------------------------------------------------------------

def import_tar(engines: list[Engine], reps: int, tar: str) -> Row:
    mb = os.path.getsize(tar) / 1e6
    row = Row(f"import {mb:.0f} MB rootfs tar", "s")
    for rep, eng in rotations(engines, reps):
        ref = f"bench/imported:{rep}"

        def sample() -> None:
            row.add(eng.name, timed(lambda: eng.run("import", tar, ref)))
            eng.run("rmi", ref, check=False)

        _safe(row, eng, "import", sample)
    return row


# -- push / pull --------------------------------------------------------------------------------

def push_pull(engines: list[Engine], reps: int, big_tar: str, registry: Registry,
              workdir: str, skopeo: Optional[str]) -> tuple[Row, Row]:
    push = Row(f"push {PAYLOAD_MB} MB image (MB/s)", "MB/s", higher_better=True)
    pull = Row(f"pull {PAYLOAD_MB} MB image (MB/s)", "MB/s", higher_better=True)
    for row in (push, pull):
        row.notes.append("random (incompressible) payload; registry storage emptied before each "
                         "push, so every byte is sent; MB/s = 200 MB / wall time")
    push.notes.append("berth gzips a layer once and reuses it; docker/podman/skopeo gzip per push")
    pull.notes.append("berth/docker/podman also unpack the layer; skopeo copies to a dir: only")
    source = {}
    for eng in engines:
        ref = f"{registry.host}/bench/source:latest"
        if _safe(push, eng, "import payload", lambda: eng.run("import", big_tar, ref)):
            source[eng.name] = ref
    archive = ""
    berth = next((e for e in engines if e.name == "berth"), None)
    if skopeo and berth is not None and "berth" in source:
        archive = os.path.join(workdir, "payload-docker-archive.tar")
        _safe(push, berth, "save payload for skopeo",
              lambda: berth.run("save", "-o", archive, source["berth"]))
    tools: list[object] = [e for e in engines if e.name in source]
    if skopeo and archive and os.path.exists(archive):
        tools.append("skopeo")
    for rep in range(reps):
        k = rep % len(tools)
        for tool in tools[k:] + tools[:k]:
            registry.reset()
            if tool == "skopeo":
                _skopeo_sample(push, pull, skopeo, archive, registry, workdir, rep)
                continue
            eng = tool
            dest = f"{registry.host}/bench/{eng.name}-{rep}:latest"

            def sample() -> None:
                eng.run("tag", source[eng.name], dest)
                args = ("push", "--tls-verify=false", dest) if eng.name == "podman" \
                    else ("push", dest)
                push.add(eng.name, PAYLOAD_MB / timed(lambda: eng.run(*args)))
                for ref in (source[eng.name], dest):
                    eng.run("rmi", ref, check=False)
                args = ("pull", "--tls-verify=false", dest) if eng.name == "podman" \
                    else ("pull", dest)
                pull.add(eng.name, PAYLOAD_MB / timed(lambda: eng.run(*args)))
                source[eng.name] = dest  # the pulled image is the next push's source

            _safe(push, eng, "push/pull", sample)
    return push, pull


def _skopeo_sample(push: Row, pull: Row, skopeo: str, archive: str, registry: Registry,
                   workdir: str, rep: int) -> None:
    dest = f"docker://{registry.host}/bench/skopeo-{rep}:latest"
    out = os.path.join(workdir, f"skopeo-pull-{rep}")
    try:
        push.add("skopeo", PAYLOAD_MB / timed(lambda: subprocess.run(
            [skopeo, "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}", dest],
            check=True, capture_output=True)))
        pull.add("skopeo", PAYLOAD_MB / timed(lambda: subprocess.run(
            [skopeo, "copy", "-q", "--src-tls-verify=false", dest, f"dir:{out}"],
            check=True, capture_output=True)))
    except subprocess.CalledProcessError as exc:
        push.notes.append(f"skopeo failed: {exc.stderr.decode(errors='replace')[:200]}")
    finally:
        shutil.rmtree(out, ignore_errors=True)


# -- 50 containers: start, shim RSS, rm -f ------------------------------------------------------

def fifty(engines: list[Engine], count: int) -> tuple[Row, Row, Row]:
    start = Row(f"start {count} containers (run -d sleep), total", "s")
    rss = Row(f"shim RSS, total over {count}", "MB")
    rm = Row(f"rm -f of those {count} (one command)", "s")
    if any(e.name == "podman" for e in engines):
        rm.notes.append("podman: rm -f -t 0 (its rm -f waits 10 s for SIGTERM first; docker's "
                        "kills)")
    ids: dict[str, list[str]] = {e.name: [] for e in engines}
    totals: dict[str, float] = {e.name: 0.0 for e in engines}
    failed: set[str] = set()
    for i in range(count):
        k = i % len(engines)
        for eng in engines[k:] + engines[:k]:
            if eng.name in failed:
                continue

            def sample() -> None:
                t0 = time.perf_counter()
                ids[eng.name].append(eng.run("run", "-d", IMAGE, "sleep", "3600").strip())
                totals[eng.name] += time.perf_counter() - t0

            if not _safe(start, eng, "run -d", sample):
                failed.add(eng.name)
    for eng in engines:
        if eng.name in failed:
            continue
        start.add(eng.name, totals[eng.name])
        pids = eng.shim_pids()
        total_rss, total_pss = rss_kb(pids)
        rss.add(eng.name, total_rss / 1024)
        rss.notes.append(f"{eng.name}: {len(pids)} {eng.shim_label} processes, "
                         f"RSS {total_rss / 1024 / max(len(pids), 1):.1f} MB each, "
                         f"PSS total {total_pss / 1024:.0f} MB")
    for eng in engines[::-1]:  # a different order than the starts
        if ids[eng.name]:
            _safe(rm, eng, "rm -f", lambda: rm.add(
                eng.name, timed(lambda: eng.run(*eng.rm_force(*ids[eng.name])))))
    return start, rss, rm
