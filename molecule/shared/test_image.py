#!/usr/bin/env python
"""Build (once) and print the root filesystem tar of the molecule test image.

    test_image.py [--cache DIR]   -> prints the path of molecule-debian-bookworm-<key>.tar

The image is the project's Debian base (``scripts/base_images.py debian``) with the OS packages the
roles install already in it. A molecule instance is a berth container without a route to a Debian
mirror, so its packages are installed here, on the host, by ``chroot <rootfs> apt-get install`` with
the host's network and apt sources; the roles' package tasks then find them installed. The result is
cached under DIR (default $BERTH_FIXTURE_CACHE or /var/cache/berth-fixtures), keyed by the package
list, never in git.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CACHE = os.environ.get("BERTH_FIXTURE_CACHE") or "/var/cache/berth-fixtures"

# What the roles' Debian vars install (roles/*/vars/Debian.yml), plus python3-apt for the apt module.
PACKAGES = sorted([
    "python3", "python3-apt", "python3-requests", "iptables", "ca-certificates",
    "docker-registry", "nginx", "openssl",
])
POLICY_RC_D = "#!/bin/sh\n# no service starts while the image is built\nexit 101\n"


def _run(cmd: list[str], **kwargs: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,  # type: ignore[call-overload]
                          **kwargs)
    if proc.returncode != 0:
        raise SystemExit(f"test_image: {' '.join(cmd)} failed: {proc.stderr.strip()[-2000:]}")


def _base_tar(cache: str) -> str:
    script = os.path.join(REPO, "scripts", "base_images.py")
    proc = subprocess.run([sys.executable, script, "debian", "--cache", cache], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"test_image: base_images.py debian failed: {proc.stderr.strip()}")
    return proc.stdout.strip().splitlines()[-1]


def _install(root: str) -> None:
    """apt-get install PACKAGES into ROOT through chroot, with /proc mounted for the maintainer
    scripts and services kept from starting by a policy-rc.d that is removed afterwards."""
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write(POLICY_RC_D)
    os.chmod(policy, 0o755)
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    proc_dir = os.path.join(root, "proc")
    _run(["mount", "-t", "proc", "proc", proc_dir])
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C",
                   PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        _run(["chroot", root, "apt-get", "update", "-qq"], env=env)
        _run(["chroot", root, "apt-get", "install", "-y", "-qq", "--no-install-recommends"]
             + PACKAGES, env=env)
        _run(["chroot", root, "apt-get", "clean"], env=env)
    finally:
        subprocess.run(["umount", "-l", proc_dir], check=False)
    os.unlink(policy)
    # resolv.conf is the container's business (berth writes it); lists stay so that the apt module
    # can resolve the installed packages without a network.
    open(os.path.join(root, "etc/resolv.conf"), "w").close()


def build(cache: str) -> str:
    base = _base_tar(cache)
    key = hashlib.sha256((os.path.basename(base) + "\n" + "\n".join(PACKAGES)).encode()).hexdigest()
    out = os.path.join(cache, f"molecule-debian-bookworm-{key[:12]}.tar")
    if os.path.exists(out):
        return out
    with tempfile.TemporaryDirectory(prefix="berth-molecule-", dir=cache) as tmp:
        root = os.path.join(tmp, "rootfs")
        os.mkdir(root)
        _run(["tar", "--numeric-owner", "--xattrs", "-C", root, "-xf", base])
        _install(root)
        partial = out + ".partial"
        _run(["tar", "--numeric-owner", "--xattrs", "--sort=name", "--mtime=@0", "-C", root,
              "-cf", partial, "."])
        os.replace(partial, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    print(build(args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
