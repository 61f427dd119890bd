""".dockerignore: which paths of the build context are sent to the builder.

Follows Docker (moby/patternmatcher): lines starting with ``#`` are comments; patterns are trimmed,
cleaned like Go's ``filepath.Clean`` and a leading ``/`` is dropped; ``*``, ``?``, ``[a-z]``,
``[^a]`` and ``\\`` escapes follow Go's ``filepath.Match``; ``**`` matches any number of
directories; ``!`` makes an exception; the last matching pattern wins, and a pattern that matches
a parent directory matches everything below it.
"""
from __future__ import annotations

import os
import posixpath
import re
from typing import Iterator, List, Optional, Tuple, Union

from ..errors import InvalidArgument

_EXACT, _PREFIX, _SUFFIX, _REGEX = "exact", "prefix", "suffix", "regex"


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on a slash path (``a//b/../c/`` -> ``a/c``, ``""`` -> ``.``)."""
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _translate_class(pattern: str, i: int) -> Tuple[str, int]:
    """Go's ``[...]`` starting after the ``[`` at ``i``; returns a Python class and the end."""
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    items: List[str] = []
    while True:
        if i >= len(pattern):
            raise ValueError("unterminated character class")
        if pattern[i] == "]" and items:
            return "[" + ("^" if negate else "") + "".join(items) + "]", i + 1
        lo, i = _class_char(pattern, i)
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise ValueError("bad character range")
            items.append(re.escape(lo) + "-" + re.escape(hi))
        else:
            items.append(re.escape(lo))


def _class_char(pattern: str, i: int) -> Tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError("bad character class")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError("trailing escape")
    return pattern[i], i + 1


class Pattern:
    """One cleaned pattern, compiled like moby's patternmatcher."""

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.kind, regex = self._compile(text)
        self.regex = re.compile(regex, re.S) if self.kind == _REGEX else None
        self.parts = [self._compile_part(p) for p in text.split("/")]

    @staticmethod
    def _compile(pattern: str) -> Tuple[str, str]:
        out = ["^"]
        kind = _EXACT
        i = 0
        first = True
        while i < len(pattern):
            ch = pattern[i]
            i += 1
            at_start, first = first, False
            if ch == "*" and i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                if i == len(pattern):
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        out.append(".*")
                        kind = _REGEX
                else:
                    out.append("(.*/)?")
                    kind = _REGEX
                if at_start:
                    kind = _SUFFIX
            elif ch == "*":
                out.append("[^/]*")
                kind = _REGEX
            elif ch == "?":
                out.append("[^/]")
                kind = _REGEX
            elif ch == "\\":
                if i == len(pattern):
                    raise ValueError("trailing escape")
                out.append(re.escape(pattern[i]))
                i += 1
                kind = _REGEX
            elif ch == "[":
                cls, i = _translate_class(pattern, i)
                out.append(cls)
                kind = _REGEX
            else:
                out.append(re.escape(ch))
        return kind, "".join(out) + "$"

    @staticmethod
    def _compile_part(part: str) -> Optional["re.Pattern[str]"]:
        """One path component as a regex; None when it holds ``**`` (matches any depth)."""
        if "**" in part:
            return None
        return re.compile(Pattern._compile(part)[1].replace("(.*/)?", ""), re.S)

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        return bool(self.regex.match(path))  # type: ignore[union-attr]

    def could_match_below(self, dir_parts: List[str]) -> bool:
        """Whether this pattern might match some path strictly inside the directory."""
        for k, name in enumerate(dir_parts):
            if k >= len(self.parts):
                return False
            part = self.parts[k]
            if part is None:
                return True
            if not part.match(name):
                return False
        return len(self.parts) > len(dir_parts)


class DockerIgnore:
    """The patterns of one .dockerignore text (``str`` or ``bytes``)."""

    def __init__(self, patterns_text: Union[str, bytes] = "", filename: str = ".dockerignore"):
        if isinstance(patterns_text, bytes):
            patterns_text = patterns_text.decode("utf-8", "surrogateescape")
        self.filename = filename
        self.patterns: List[Pattern] = []
        for lineno, line in enumerate(patterns_text.split("\n"), 1):
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if line.startswith("#"):
                continue
            self.add(line.strip(), lineno)

    def add(self, pattern: str, lineno: int = 0) -> None:
        """Append one pattern as it would appear on a line (``!`` for an exception)."""
        pattern = pattern.strip()
        if not pattern:
            return
        exclusion = pattern.startswith("!")
        if exclusion:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        where = "%s:%d" % (self.filename, lineno) if lineno else self.filename
        if exclusion and not pattern:
            raise InvalidArgument('%s: illegal exclusion pattern: "!"' % where)
        try:
            self.patterns.append(Pattern(pattern, exclusion))
        except ValueError:
            raise InvalidArgument("%s: bad pattern %r: syntax error in pattern"
                                  % (where, pattern)) from None

    @property
    def has_exceptions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def matches(self, relpath: str) -> bool:
        """True when ``relpath`` (slash-separated, relative to the context) is excluded."""
        path = go_clean(relpath.replace(os.sep, "/")).lstrip("/")
        parents = path.split("/")[:-1]
        ancestors = ["/".join(parents[:i + 1]) for i in range(len(parents))]
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path) or any(pattern.match(a) for a in ancestors)
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, reldir: str) -> bool:
        """Whether an exception (``!``) might re-include something inside excluded ``reldir``;
        when False, ``walk`` prunes the directory without listing it."""
        parts = reldir.split("/")
        return any(p.exclusion and p.could_match_below(parts) for p in self.patterns)

    def walk(self, context_dir: str, dockerfile: str = "Dockerfile") -> Iterator[str]:
        """Included paths (dirs and files, slash-separated, sorted) below ``context_dir``.

        The Dockerfile and .dockerignore are always included. A directory that is excluded but
        holds re-included paths is yielded just before the first of them, so its metadata can
        be kept. Symlinks are listed, never followed.
        """
        effective = DockerIgnore(filename=self.filename)
        effective.patterns = list(self.patterns)
        if self.matches(".dockerignore"):
            effective.add("!.dockerignore")
        dockerfile = go_clean(dockerfile.replace(os.sep, "/")).lstrip("/")
        if self.matches(dockerfile):
            effective.add("!" + dockerfile)
        yield from effective._walk(context_dir, "", [])

    def _walk(self, top: str, prefix: str, pending: List[str]) -> Iterator[str]:
        with os.scandir(os.path.join(top, prefix) if prefix else top) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if not self.matches(rel):
                yield from pending
                pending.clear()
                yield rel
                if is_dir:
                    yield from self._walk(top, rel + "/", pending)
            elif is_dir and self.may_include_below(rel):
                depth = len(pending)
                pending.append(rel)
                yield from self._walk(top, rel + "/", pending)
                del pending[depth:]
