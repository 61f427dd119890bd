#!/usr/bin/env python
"""Build berth's base image root filesystems from Debian packages, without the internet.

    base_images.py busybox [--cache DIR]   -> prints the path of busybox-rootfs.tar
    base_images.py debian  [--cache DIR]   -> prints the path of debian-bookworm-rootfs.tar

Results are cached under DIR (default: $BERTH_FIXTURE_CACHE or /var/cache/berth-fixtures), keyed by
the package version, never in git. The tarballs are deterministic: sorted entries, fixed mtimes and
owners, so the same inputs give the same image ID when imported with ``berth import``.
"""
from __future__ import annotations

import argparse
import glob
import io
import os
import subprocess
import sys
import tarfile
import tempfile

FIXED_MTIME = 0
DEFAULT_CACHE = os.environ.get("BERTH_FIXTURE_CACHE") or "/var/cache/berth-fixtures"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n"


def _run(cmd: list[str], cwd: str | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"base_images: {' '.join(cmd)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _candidate_version(package: str) -> str:
    out = _run(["apt-cache", "policy", package])
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version and version != "(none)":
                return version
    raise SystemExit(f"base_images: package {package} not found (run apt-get update)")


def _add(tar: tarfile.TarFile, name: str, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644,
         data: bytes = b"", linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def build_busybox(cache: str) -> str:
    version = _candidate_version("busybox-static").replace(":", "_")
    out = os.path.join(cache, f"busybox-{version}-rootfs.tar")
    if os.path.exists(out):
        return out
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="berth-busybox-") as tmp:
        _run(["apt-get", "download", "busybox-static"], cwd=tmp)
        deb = glob.glob(os.path.join(tmp, "busybox-static_*.deb"))[0]
        _run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")])
        busybox = os.path.join(tmp, "x", "bin", "busybox")
        with open(busybox, "rb") as f:
            binary = f.read()
        applets = sorted(set(_run([busybox, "--list-full"]).split()))
        dirs = {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var", "var/www",
                "proc", "sys", "dev", "home"}
        for applet in applets:
            parent = os.path.dirname(applet)
            while parent:
                dirs.add(parent)
                parent = os.path.dirname(parent)
        partial = out + ".partial"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            for d in sorted(dirs):
                _add(tar, d, kind=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
            _add(tar, "bin/busybox", mode=0o755, data=binary)
            for applet in applets:
                if applet != "bin/busybox":
                    depth = applet.count("/")
                    _add(tar, applet, kind=tarfile.SYMTYPE, linkname="../" * depth + "bin/busybox")
            _add(tar, "etc/passwd", data=PASSWD.encode())
            _add(tar, "etc/group", data=GROUP.encode())
        os.replace(partial, out)
    return out


def build_debian(cache: str, suite: str = "bookworm") -> str:
    out = os.path.join(cache, f"debian-{suite}-rootfs.tar")
    if os.path.exists(out):
        return out
    mirror = _debian_mirror()
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="berth-debian-", dir=cache) as tmp:
        root = os.path.join(tmp, "rootfs")
        _run(["debootstrap", "--variant=minbase", suite, root, mirror])
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            path = os.path.join(root, junk)
            for entry in os.listdir(path):
                full = os.path.join(path, entry)
                if os.path.isfile(full):
                    os.unlink(full)
        partial = out + ".partial"
        _run(["tar", "--numeric-owner", "--xattrs", "--sort=name", "--mtime=@0", "-C", root,
              "-cf", partial, "."])
        os.replace(partial, out)
    return out


def _debian_mirror() -> str:
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*")) + ["/etc/apt/sources.list"]:
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts[:1] == ["URIs:"] and "security" not in parts[1]:
                    return parts[1]
                if parts[:1] == ["deb"] and "security" not in line:
                    return next(p for p in parts[1:] if p.startswith("http"))
    return "http://deb.debian.org/debian"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", choices=["busybox", "debian"])
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    build = build_busybox if args.image == "busybox" else build_debian
    print(build(args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
