"""Dockerfile builds: the front end (parsing, substitution, ARG scoping, .dockerignore) and the
builder that runs it (``Builder(images, BuildOptions(...)).build(BuildContext...)``).

The front end imports nothing but errors; ``builder`` and its steps sit above the container
service (RUN runs in real containers), so they are imported lazily by ``__getattr__`` and a
``--change`` line of import/commit never pays for them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .dockerignore import DockerIgnore
from .instructions import DEFAULT_SHELL, Dockerfile, Stage, commit_message, created_by
from .parser import parse, parse_trigger
from .scope import GlobalScope, StageScope, platform_args
from .substitution import SUBSTITUTED, expand, expand_instruction, split_words

if TYPE_CHECKING:  # at run time these come from __getattr__, on first use
    from .builder import BuildError, Builder, BuildOptions, BuildResult
    from .cache import BuildCache
    from .context import BuildContext

_BUILDER_NAMES = frozenset({"Builder", "BuildOptions", "BuildResult", "BuildError"})


def __getattr__(name: str) -> object:
    """The builder side of the package, imported on first use (PEP 562)."""
    if name in _BUILDER_NAMES:
        from . import builder
        return getattr(builder, name)
    if name == "BuildContext":
        from .context import BuildContext as context_class
        return context_class
    if name == "BuildCache":
        from .cache import BuildCache as cache_class
        return cache_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BuildCache", "BuildContext", "BuildError", "BuildOptions", "BuildResult", "Builder",
    "DEFAULT_SHELL", "DockerIgnore", "Dockerfile", "GlobalScope", "SUBSTITUTED", "Stage",
    "StageScope", "commit_message", "created_by", "expand", "expand_instruction", "parse",
    "parse_trigger", "platform_args", "split_words",
]
