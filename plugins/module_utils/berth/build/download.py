"""ADD <url>: fetch a remote file with requests (never unpacked, mode 0600, like Docker)."""
from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from typing import Optional, Tuple
from urllib.parse import unquote, urlparse

from ..errors import DigestMismatch, InvalidArgument

TIMEOUT = 60
CHUNK = 1 << 20


def filename_of(url: str) -> str:
    """Docker names the file after the last component of the URL's path."""
    name = posixpath.basename(unquote(urlparse(url).path).rstrip("/"))
    if not name or name in (".", "..") or "\x00" in name:
        raise InvalidArgument("cannot determine filename from url: %s" % url)
    return name


def download(url: str, staging: str, expected: Optional[str] = None) -> Tuple[str, str]:
    """Fetch ``url`` into a new file below ``staging``; returns (host path, file name).

    ``expected`` is ADD --checksum's ``sha256:<hex>``; a mismatch fails the step.
    """
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is a declared dependency
        raise InvalidArgument("ADD from a URL needs the python 'requests' library") from None
    name = filename_of(url)
    folder = tempfile.mkdtemp(prefix="download-", dir=staging)
    path = os.path.join(folder, name)
    digest = hashlib.sha256()
    try:
        with requests.get(url, stream=True, timeout=TIMEOUT) as reply:
            if reply.status_code >= 400:
                raise InvalidArgument("failed to GET %s with status %d %s"
                                      % (url, reply.status_code, reply.reason or ""))
            with open(path, "wb") as f:
                for chunk in reply.iter_content(CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
    except requests.RequestException as exc:
        raise InvalidArgument("failed to GET %s: %s" % (url, type(exc).__name__)) from None
    if expected:
        algo, _sep, value = expected.partition(":")
        if algo != "sha256" or len(value) != 64:
            raise InvalidArgument("unsupported ADD --checksum %r (use sha256:<hex>)" % expected)
        if digest.hexdigest() != value:
            raise DigestMismatch("ADD %s: content has digest sha256:%s, expected %s"
                                 % (url, digest.hexdigest(), expected))
    return path, name
