"""Engine errors. Every error carries one human-readable line; callers print it as is."""
from __future__ import annotations


class BerthError(Exception):
    """Base class: the engine failed for a reason the user can act on."""

    #: Exit code of the CLI for this error (Docker uses 125 for engine errors).
    exit_code = 125


class InvalidArgument(BerthError):
    """The request itself is malformed (bad reference, bad flag value, bad archive)."""


class NotFound(BerthError):
    """The named object (image, container, network, volume, blob) does not exist."""


class Conflict(BerthError):
    """The request conflicts with the current state (name in use, image in use, ...)."""


class DigestMismatch(BerthError):
    """Content did not hash to the digest it was announced with."""


class UnsafeArchive(InvalidArgument):
    """A tar archive tried to write outside its destination or carried a forbidden entry."""


class MissingDependency(BerthError):
    """A Python library that one feature needs (requests) is not installed. Modules import
    such libraries guarded and raise this when the feature is used, chained to the ImportError."""


def missing_library(library: str, feature: str, cause: BaseException | None = None) -> MissingDependency:
    """The error for ``library`` missing when ``feature`` is used, chained to the ImportError ``cause``."""
    err = MissingDependency(f"the Python library '{library}' is required for {feature}: pip install {library}")
    err.__cause__ = cause
    return err
