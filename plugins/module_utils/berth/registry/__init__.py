"""berth.registry: OCI distribution client.

Wire level in ``transport``/``client``/``auth`` (one registry host, verified replies); configuration
in ``config`` (mirrors, insecure registries, certs.d) and ``credentials`` (Docker's config.json);
``Registry`` applies the configuration (mirror and scheme fallback); ``transfer`` moves single blobs
between a registry and the local blob store. ``pull``/``push`` move whole images between a registry
and the image store, reporting to a ``progress.Progress``.
"""
from __future__ import annotations

from .client import Descriptor, RegistryClient
from .config import DaemonConfig, Endpoint, endpoints_for
from .credentials import INDEX_SERVER, CredentialStore, login, logout, normalize_host
from .errors import (AccessDenied, AuthenticationRequired, BlobUnknown, InvalidResponse, ManifestUnknown,
                     RegistryError, RegistryTLSError, RegistryUnreachable, RepositoryUnknown,
                     UnsupportedMediaType)
from .progress import Progress
from .pull import pull
from .push import push
from .registry import Registry
from .transfer import fetch_blob, push_blob

__all__ = ["RegistryClient", "Registry", "Descriptor", "DaemonConfig", "Endpoint", "endpoints_for",
           "CredentialStore", "INDEX_SERVER", "login", "logout", "normalize_host", "fetch_blob", "push_blob",
           "RegistryError", "RegistryUnreachable", "RegistryTLSError", "AuthenticationRequired",
           "AccessDenied", "ManifestUnknown", "BlobUnknown", "RepositoryUnknown", "InvalidResponse",
           "UnsupportedMediaType", "Progress", "pull", "push"]
