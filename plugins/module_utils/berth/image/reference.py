"""Image references: parsing and normalisation with Docker's rules.

``busybox`` -> ``docker.io/library/busybox:latest``; ``host:5000/a/b@sha256:...`` keeps its digest.
The grammar follows distribution/reference; anything else is rejected with one line.
"""
from __future__ import annotations

import re
from ..errors import InvalidArgument
from ..values import Value

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
_ID_PREFIX = re.compile(r"^(?:sha256:)?([0-9a-f]{1,64})$")
NAME_TOTAL_LENGTH_MAX = 255


class Reference(Value, frozen=True):
    domain: str
    path: str  # repository path without the domain, e.g. "library/busybox"
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """Fully qualified repository name: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short name people type: busybox, user/app, localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            return path[len(OFFICIAL_REPO_PREFIX):] if path.startswith(OFFICIAL_REPO_PREFIX) else path
        return self.repository

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar(self) -> str:
        s = self.familiar_repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse and normalise a reference; adds ``:latest`` when neither tag nor digest is given."""
    if not isinstance(text, str) or not text:
        raise InvalidArgument("invalid reference format: empty image name")
    m = _REFERENCE.match(text)
    if not m:
        if text.lower() != text and _REFERENCE.match(text.lower()):
            raise InvalidArgument(f"invalid reference format: repository name ({text}) must be lowercase")
        raise InvalidArgument(f"invalid reference format: {text!r}")
    name, tag, digest = m.group("name"), m.group("tag"), m.group("digest")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(f"invalid reference format: repository name must not exceed "
                              f"{NAME_TOTAL_LENGTH_MAX} characters")
    if digest is not None:
        algo, _sep, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or hexpart.lower() != hexpart:
            raise InvalidArgument(f"invalid reference format: unsupported digest {digest!r}")
    domain, path = _split_domain(name)
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    if default_tag and tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return DEFAULT_DOMAIN, name
    if first == LEGACY_DEFAULT_DOMAIN:
        first = DEFAULT_DOMAIN
    return first, rest


def parse_id(text: str) -> str | None:
    """``sha256:<64 hex>`` or ``<64 hex>`` -> the canonical ``sha256:<hex>``; otherwise None."""
    m = _ID.match(text)
    return "sha256:" + m.group(1) if m else None


def id_prefix(text: str) -> str | None:
    """A (possibly short) hex prefix of an image ID, or None if ``text`` cannot be one."""
    m = _ID_PREFIX.match(text)
    return m.group(1) if m else None
