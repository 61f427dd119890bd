"""Errors of the registry client: one line each, naming the registry and repository concerned."""
from __future__ import annotations

from ..errors import BerthError, DigestMismatch, NotFound

__all__ = ["RegistryError", "RegistryUnreachable", "RegistryTLSError", "AuthenticationRequired",
           "AccessDenied", "ManifestUnknown", "BlobUnknown", "RepositoryUnknown", "UnsupportedMediaType",
           "InvalidResponse", "DigestMismatch"]


class RegistryError(BerthError):
    """The registry refused or failed a request."""


class RegistryUnreachable(RegistryError):
    """No connection: unknown host, connection refused, timeout."""


class RegistryTLSError(RegistryUnreachable):
    """The TLS handshake failed (untrusted certificate, wrong protocol)."""


class AuthenticationRequired(RegistryError):
    """401: no credentials, or the credentials were rejected."""


class AccessDenied(RegistryError):
    """403: the credentials are valid but may not do this."""


class ManifestUnknown(NotFound):
    """The manifest (tag or digest) does not exist in the repository."""


class BlobUnknown(NotFound):
    """The blob does not exist in the repository."""


class RepositoryUnknown(NotFound):
    """The repository does not exist."""


class UnsupportedMediaType(RegistryError):
    """The registry answered with a manifest type berth cannot read (e.g. schema 1)."""


class InvalidResponse(RegistryError):
    """The registry's reply is malformed, oversized or inconsistent."""
