#!/usr/bin/env python
# Copyright (c) berth.engine developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack the engine package into a deterministic tarball on the controller.

    pack_engine.py SOURCE_DIR CACHE_DIR   -> prints CACHE_DIR/berth-engine-<sha256[:16]>.tar

Entries are sorted, owned by 0:0, mtime 0, without __pycache__ or compiled files, so the same
source gives the same bytes and the role's copy task stays unchanged when nothing changed.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import tempfile

SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = (".pyc", ".pyo")


def _entries(source):
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        rel = os.path.relpath(dirpath, source)
        yield rel, True
        for name in sorted(filenames):
            if not name.endswith(SKIP_SUFFIXES):
                yield os.path.join(rel, name), False


def pack(source, cache):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, is_dir in _entries(source):
            name = os.path.normpath(os.path.join("berth", rel))
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            with open(os.path.join(source, rel), "rb") as f:
                data = f.read()
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    out = os.path.join(cache, "berth-engine-%s.tar" % hashlib.sha256(data).hexdigest()[:16])
    if not os.path.exists(out):
        os.makedirs(cache, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".berth-engine-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    return out


def main(argv):
    if len(argv) != 3 or not os.path.isfile(os.path.join(argv[1], "__init__.py")):
        sys.stderr.write("usage: pack_engine.py SOURCE_DIR CACHE_DIR (SOURCE_DIR: the berth package)\n")
        return 2
    print(pack(os.path.realpath(argv[1]), argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
