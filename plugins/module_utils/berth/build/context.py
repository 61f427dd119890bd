"""The build context: a directory (or a tarball from stdin) plus its ``.dockerignore``.

A tarball is hostile: it is unpacked with the image layer applier (``layers.apply_layer``), which
never writes outside its destination. Paths the builder asks for are slash-separated and relative
to the context root; sources are resolved with symlinks followed *inside* the context only.
"""
from __future__ import annotations

import os
import posixpath
import re
import shutil
from typing import BinaryIO, List, Optional

from ..errors import InvalidArgument, NotFound
from .dockerignore import DockerIgnore, go_clean

DEFAULT_DOCKERFILE = "Dockerfile"
_TAR_MAGIC_OFFSET = 257


def clean_source(path: str) -> str:
    """A COPY source relative to the context root: cleaned, never above it."""
    cleaned = go_clean("/" + path.replace("\\", "/") if not path.startswith("/") else path)
    return cleaned.lstrip("/") or "."


def has_wildcards(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _translate(part: str) -> "re.Pattern[str]":
    """Go's ``filepath.Match`` for one path component (``*`` never crosses a ``/``)."""
    out = ""
    i = 0
    while i < len(part):
        ch = part[i]
        i += 1
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i < len(part):
            out += re.escape(part[i])
            i += 1
        elif ch == "[":
            end = part.find("]", i + 1)
            if end < 0:
                raise InvalidArgument(f"syntax error in pattern: {part}")
            body = part[i:end]
            if body.startswith("^") or body.startswith("!"):
                body = "^" + body[1:]
            out += "[" + body.replace("\\", "\\\\") + "]"
            i = end + 1
        else:
            out += re.escape(ch)
    return re.compile(out + r"\Z", re.S)


def match_path(pattern: str, path: str) -> bool:
    pparts, parts = pattern.split("/"), path.split("/")
    if len(pparts) != len(parts):
        return False
    return all(_translate(p).match(s) for p, s in zip(pparts, parts))


def join_in_context(root: str, rel: str) -> str:
    """``runtime.mounts.secure_join(root, rel)``: ``rel`` with symlinks resolved inside ``root``.

    When no component of ``rel`` is a symlink (the usual case) the result is the plain join, and
    the same per-component check ``secure_join`` makes (``lstat`` here, ``readlink`` there) says
    so; only then is the runtime package (~8 ms to import) spared. Any symlink, ``.`` or ``..``
    goes to ``secure_join`` itself.
    """
    parts = [p for p in rel.split("/") if p]
    if any(p in (".", "..") for p in parts):
        return _secure_join(root, rel)
    path = root.rstrip("/")
    for part in parts:
        path += "/" + part
        if os.path.islink(path):
            return _secure_join(root, rel)
    return path if parts else root


def _secure_join(root: str, rel: str) -> str:
    from ..runtime.mounts import secure_join

    return secure_join(root, rel)


class BuildContext:
    """Files a build may COPY/ADD; ``close()`` removes an unpacked tarball."""

    def __init__(self, root: str, dockerfile_text: bytes, dockerfile_name: str,
                 temporary: bool = False) -> None:
        self.root = os.path.abspath(root)
        self.dockerfile_text = dockerfile_text
        self.dockerfile_name = dockerfile_name
        self.temporary = temporary
        self.ignore = DockerIgnore()
        self._included: Optional[List[str]] = None
        self._included_set: Optional[set] = None
        ignore_path = os.path.join(self.root, ".dockerignore")
        if os.path.isfile(ignore_path) and not os.path.islink(ignore_path):
            with open(ignore_path, "rb") as f:
                self.ignore = DockerIgnore(f.read())

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_directory(cls, path: str, dockerfile: Optional[str] = None) -> "BuildContext":
        if not os.path.isdir(path):
            raise NotFound(f"unable to prepare context: path {path!r} not found")
        if dockerfile is None:
            dockerfile = os.path.join(path, DEFAULT_DOCKERFILE)
        elif dockerfile == "-":
            raise InvalidArgument("reading the Dockerfile from stdin needs the context as a "
                                  "directory argument, not both on stdin")
        try:
            with open(dockerfile, "rb") as f:
                text = f.read()
        except FileNotFoundError:
            raise NotFound(f"unable to prepare context: unable to evaluate symlinks in "
                           f"Dockerfile path: lstat {os.path.abspath(dockerfile)}: no such file "
                           f"or directory") from None
        except IsADirectoryError:
            raise InvalidArgument(f"unable to prepare context: {dockerfile} is a directory") from None
        name = os.path.basename(dockerfile)
        rel = os.path.relpath(os.path.abspath(dockerfile), os.path.abspath(path))
        ctx = cls(path, text, name)
        ctx._dockerfile_rel = rel if not rel.startswith("..") else name
        return ctx

    @classmethod
    def from_stream(cls, stream: BinaryIO, workdir: str,
                    dockerfile: Optional[str] = None) -> "BuildContext":
        """A context tarball (plain, gzip, bzip2 or xz) or, failing that, a bare Dockerfile."""
        import tempfile

        from ..image import compression, layers
        from ..runtime.mounts import secure_join

        head = compression.read_head(stream, 512)
        source = compression.prefixed(head, stream)
        magic = head[_TAR_MAGIC_OFFSET:_TAR_MAGIC_OFFSET + 5]
        if compression.detect(head) == compression.NONE and magic != b"ustar":
            text = source.read()  # no tar: the stream is the Dockerfile, the context is empty
            root = tempfile.mkdtemp(prefix="context-", dir=workdir)
            return cls(root, text, DEFAULT_DOCKERFILE, temporary=True)
        root = tempfile.mkdtemp(prefix="context-", dir=workdir)
        try:
            plain = compression.open_decompressed(source)
            layers.apply_layer(plain, root)  # hostile input: the safe applier
            name = clean_source(dockerfile or DEFAULT_DOCKERFILE)
            full = secure_join(root, name)
            try:
                with open(full, "rb") as f:
                    text = f.read()
            except OSError:
                raise NotFound(f"Cannot locate specified Dockerfile: {name}") from None
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        ctx = cls(root, text, posixpath.basename(name), temporary=True)
        ctx._dockerfile_rel = name
        return ctx

    _dockerfile_rel = DEFAULT_DOCKERFILE

    def close(self) -> None:
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)
            self.temporary = False

    # -- what is included -----------------------------------------------------------------

    def included_paths(self) -> List[str]:
        """Every path the build may use, sorted (``.dockerignore`` applied)."""
        if self._included is None:
            self._included = list(self.ignore.walk(self.root, self._dockerfile_rel))
            self._included_set = set(self._included)
        return self._included

    def is_included(self, rel: str) -> bool:
        if rel in (".", ""):
            return True
        if not self.ignore.patterns:
            return True
        self.included_paths()
        return rel in self._included_set  # type: ignore[operator]

    def resolve(self, source: str) -> List[str]:
        """The context paths one COPY source names (wildcards expanded), sorted."""
        rel = clean_source(source)
        if has_wildcards(rel):
            found = [p for p in self.included_paths() if match_path(rel, p)]
            if not found:
                raise NotFound(f"no source files were specified: {source} matches nothing in "
                               "the build context")
            return found
        host = join_in_context(self.root, rel)
        resolved = os.path.relpath(host, self.root).replace(os.sep, "/")
        if not os.path.lexists(host) or not self.is_included(resolved):
            raise NotFound(f"file not found in build context or excluded by .dockerignore: "
                           f"stat {rel}: file does not exist")
        return [resolved]

    def host_path(self, rel: str) -> str:
        return self.root if rel in (".", "") else os.path.join(self.root, rel)


__all__ = ["BuildContext", "clean_source", "has_wildcards", "join_in_context", "match_path"]
