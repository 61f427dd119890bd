"""Where does ``berth run --rm busybox true`` spend its time?

Writes into OUT/profiles/: importtime.txt, cprofile.txt, pyinstrument.txt (if installable),
strace-summary.txt (strace -c -f), strace-exec.txt (every program exec'd, with timestamps),
pyspy-raw.txt (py-spy, shim included, if installable) and returns a short text summary.
The profilers go into the bench's own venv (BENCH_CACHE/venv), never into the project's .venv.
"""
from __future__ import annotations

import os
import pstats
import re
import shutil
import subprocess
import sys
import time
from collections import Counter

from engines import Berth
from host import log
from rows import IMAGE

PROFILERS = ("pyinstrument", "py-spy")


def bench_venv(cache: str, base_python: str) -> str:
    """A venv of the same Python as berth's, holding pyinstrument and py-spy; '' if not possible."""
    venv = os.path.join(cache, "venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        made = subprocess.run([base_python, "-m", "venv", venv], capture_output=True, check=False)
        if made.returncode:
            return ""
    have = subprocess.run([py, "-m", "pip", "show", *PROFILERS], capture_output=True, text=True,
                          check=False)
    if have.stdout.count("Name:") < len(PROFILERS):
        log("installing pyinstrument and py-spy into the bench venv")
        subprocess.run([py, "-m", "pip", "install", "-q", *PROFILERS], capture_output=True,
                       check=False)
    return venv


def _site(venv: str) -> str:
    out = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                          "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _time(argv: list[str], env: dict, n: int = 5) -> float:
    samples = []
    for _rep in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - t0)
    return sorted(samples)[len(samples) // 2]


def profile(berth: Berth, out: str, cache: str) -> str:
    pdir = os.path.join(out, "profiles")
    os.makedirs(pdir, exist_ok=True)
    env = berth.env
    py = berth.python
    cmd = ["-m", "berth.cli", "run", "--rm", IMAGE, "true"]
    lines = []

    # Floors: interpreter start, the CLI's imports + parser, the whole command.
    floors = {
        "python -I -S -c pass": _time([py, "-I", "-S", "-c", "pass"], env),
        "python -c pass (site, .pth files)": _time([py, "-c", "pass"], env),
        "berth --version (CLI import + parser)": _time([py, "-m", "berth.cli", "--version"], env),
        "import berth.shim.main (shim start floor)": _time(
            [py, "-c", "import berth.shim.main"], env),
        "berth run --rm busybox true": _time([py, *cmd], env),
    }
    nobc = dict(env, PYTHONDONTWRITEBYTECODE="1")
    nobc.pop("PYTHONPYCACHEPREFIX", None)
    floors["same, PYTHONDONTWRITEBYTECODE=1 (no .pyc)"] = _time([py, *cmd], nobc, n=3)
    lines.append("median wall time of 5 runs:")
    lines += [f"  {k:48s} {v * 1000:7.0f} ms" for k, v in floors.items()]

    # Imports.
    proc = subprocess.run([py, "-X", "importtime", *cmd], env=env, capture_output=True, text=True,
                          check=False)
    with open(os.path.join(pdir, "importtime.txt"), "w") as f:
        f.write(proc.stderr)
    tops = Counter()
    total = 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            total += int(m.group(1))
            tops[m.group(4).split(".")[0]] += int(m.group(1))
    lines.append(f"imports: {total / 1000:.0f} ms self time in total; by top-level package: " +
                 ", ".join(f"{k} {v / 1000:.0f} ms" for k, v in tops.most_common(6)))

    # cProfile: the engine's functions by cumulative time.
    prof = os.path.join(pdir, "run.prof")
    subprocess.run([py, "-m", "cProfile", "-o", prof, *cmd], env=env, capture_output=True,
                   check=False)
    if os.path.exists(prof):
        with open(os.path.join(pdir, "cprofile.txt"), "w") as f:
            stats = pstats.Stats(prof, stream=f)
            stats.sort_stats("cumulative").print_stats(80)
        stats = pstats.Stats(prof)
        rows = []
        entries = stats.stats.items()  # type: ignore[attr-defined]
        for (file, _lineno, func), timing in entries:
            ct = timing[3]
            if "/berth/" in file and not func.startswith("<"):
                rel = file.split("/berth/", 1)[1]
                rows.append((ct, f"{rel}:{func}"))
        rows.sort(reverse=True)
        lines.append("cProfile, berth functions by cumulative time (CLI process only):")
        lines += [f"  {ct * 1000:7.0f} ms  {name}" for ct, name in rows[:22]]

    # strace: syscalls and programs exec'd, the shim and container included.
    if shutil.which("strace"):
        summary = os.path.join(pdir, "strace-summary.txt")
        subprocess.run(["strace", "-f", "-c", "-o", summary, py, *cmd], env=env,
                       capture_output=True, check=False)
        execs = os.path.join(pdir, "strace-exec.txt")
        subprocess.run(["strace", "-f", "-tt", "-e", "trace=execve", "-e", "signal=none",
                        "-o", execs, py, *cmd], env=env, capture_output=True, check=False)
        programs = Counter()
        with open(execs) as f:
            for line in f:
                m = re.search(r'execve\("([^"]+)"', line)
                if m and "= 0" in line:
                    programs[os.path.basename(m.group(1))] += 1
        lines.append("programs exec'd by one run (strace -f -e execve): " +
                     ", ".join(f"{k} x{v}" for k, v in programs.most_common()))
        with open(summary) as f:
            head = f.read().splitlines()[:14]
        lines.append("strace -c -f (top syscalls by time, all processes):")
        lines += ["  " + h for h in head]

    venv = bench_venv(cache, sys.executable)
    if venv:
        site = _site(venv)
        penv = dict(env, PYTHONPATH=site)
        txt = os.path.join(pdir, "pyinstrument.txt")
        p = subprocess.run([py, "-m", "pyinstrument", "-r", "text", "-o", txt, *cmd],
                           env=penv, capture_output=True, text=True, check=False)
        if p.returncode == 0:
            lines.append(f"pyinstrument: {txt}")
        spy = os.path.join(venv, "bin", "py-spy")
        if os.path.exists(spy):
            raw = os.path.join(pdir, "pyspy-raw.txt")
            subprocess.run([spy, "record", "--subprocesses", "--rate", "500", "--format", "raw",
                            "-o", raw, "--", py, *cmd], env=env, capture_output=True, check=False)
            if os.path.exists(raw):
                lines.append("py-spy (CLI + shim, 500 Hz), samples by leaf berth function:")
                lines += ["  " + s for s in _pyspy_summary(raw)]
    return "\n".join(lines)


def profile_rows(berth: Berth, out: str, cache: str, import_tar: str, context: str) -> str:
    """pyinstrument (wall clock) of one berth command per slow row; the top of each tree."""
    venv = bench_venv(cache, sys.executable)
    if not venv:
        return "pyinstrument unavailable: no bench venv"
    pdir = os.path.join(out, "profiles")
    os.makedirs(pdir, exist_ok=True)
    env = dict(berth.env, PYTHONPATH=_site(venv))
    py = berth.python
    name = "bench-prof-web"
    commands = [
        ("run-d-p", ["run", "-d", "--name", name, "-p", "127.0.0.1::80", IMAGE,
                     "httpd", "-f", "-p", "80"]),
        ("rm-f", ["rm", "-f", name]),
        ("run-d", ["run", "-d", "--name", name, IMAGE, "sleep", "600"]),
        ("ps", ["ps"]),
        ("rm-f-sleep", ["rm", "-f", name]),
        ("import", ["import", import_tar, "bench/prof-import"]),
        ("build-cached", ["build", "-t", "bench/prof-build", context]),
    ]
    lines = []
    for label, args in commands:
        txt = os.path.join(pdir, f"pyinstrument-{label}.txt")
        t0 = time.perf_counter()
        p = subprocess.run([py, "-m", "pyinstrument", "-r", "text", "-o", txt,
                            "-m", "berth.cli", *args], env=env, capture_output=True, text=True,
                           check=False)
        wall = time.perf_counter() - t0
        if p.returncode != 0 or not os.path.exists(txt):
            lines.append(f"{label}: failed: {p.stderr.strip()[-200:]}")
            continue
        lines.append(f"berth {' '.join(args[:3])} ... ({wall * 1000:.0f} ms wall, profiled): {txt}")
        lines += ["  " + ln for ln in _tree_head(txt)]
    return "\n".join(lines)


def _tree_head(path: str, depth: int = 7, width: float = 0.04) -> list[str]:
    """The pyinstrument tree cut at ``depth`` levels and at frames under ``width`` of the total."""
    out, total = [], 0.0
    with open(path) as f:
        for line in f:
            m = re.match(r"^([\s│├└─]*)([0-9.]+) (\S+)\s+(\S+)", line)
            if not m:
                continue
            level = len(m.group(1)) // 3
            secs = float(m.group(2))
            total = total or secs
            if level <= depth and secs >= width * total and "[" not in m.group(3):
                out.append(f"{'  ' * level}{secs * 1000:5.0f} ms {m.group(3)} {m.group(4)}")
    return out[:40]


def _pyspy_summary(raw: str, top: int = 14) -> list[str]:
    """Collapsed stacks -> (process kind, innermost berth frame) counted over all samples."""
    counts: Counter = Counter()
    total = 0
    with open(raw) as f:
        for line in f:
            stack, _sep, n = line.rstrip().rpartition(" ")
            if not n.isdigit():
                continue
            total += int(n)
            head, _sep, rest = stack.partition(";")
            kind = "shim" if "berth.shim" in head else "cli" if "berth.cli" in head else ""
            frames = [fr for fr in rest.split(";") if "(berth/" in fr]
            key = frames[-1].replace("(berth/", "(") if frames else "interpreter start/site/imports"
            counts[f"{kind} {key}".strip()] += int(n)
    return [f"{n * 100 / max(total, 1):5.1f}%  {k}" for k, n in counts.most_common(top)]
