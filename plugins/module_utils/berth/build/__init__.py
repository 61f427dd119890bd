"""Dockerfile builds: the front end (parsing, substitution, ARG scoping, .dockerignore) and the
builder that runs it (``Builder(images, BuildOptions(...)).build(BuildContext...)``).

The front end imports nothing but errors; ``builder`` and its steps sit above the container
service (RUN runs in real containers). Every name is imported on first use (PEP 562), so an
importer of one module (``build.context`` for a .dockerignore, ``build.changes`` for a
``--change`` line) pays neither for the builder nor for the instruction classes it does not use.
The imports stay static ``from .x import y`` lines: Ansible's module packer reads them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import lazy

if TYPE_CHECKING:  # at run time these come from __getattr__, on first use
    from .builder import BuildError, Builder, BuildOptions, BuildResult
    from .cache import BuildCache
    from .context import BuildContext
    from .dockerignore import DockerIgnore
    from .instructions import DEFAULT_SHELL, Dockerfile, Stage, commit_message, created_by
    from .parser import parse, parse_trigger
    from .scope import GlobalScope, StageScope, platform_args
    from .substitution import SUBSTITUTED, expand, expand_instruction, split_words

_BUILDER_NAMES = frozenset({"Builder", "BuildOptions", "BuildResult", "BuildError"})
_INSTRUCTION_NAMES = frozenset({"DEFAULT_SHELL", "Dockerfile", "Stage", "commit_message",
                                "created_by"})
_SCOPE_NAMES = frozenset({"GlobalScope", "StageScope", "platform_args"})
_SUBSTITUTION_NAMES = frozenset({"SUBSTITUTED", "expand", "expand_instruction", "split_words"})


def __getattr__(name: str) -> Any:
    """A public name of the package, imported on first use and then kept in the package."""
    if name in _BUILDER_NAMES:
        from . import builder as module
    elif name in _INSTRUCTION_NAMES:
        from . import instructions as module
    elif name in _SCOPE_NAMES:
        from . import scope as module
    elif name in _SUBSTITUTION_NAMES:
        from . import substitution as module
    elif name in ("parse", "parse_trigger"):
        from . import parser as module
    elif name == "DockerIgnore":
        from . import dockerignore as module
    elif name == "BuildContext":
        from . import context as module
    elif name == "BuildCache":
        from . import cache as module
    else:
        raise lazy.no_such_name(__name__, name)
    return lazy.keep(globals(), module, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "BuildCache", "BuildContext", "BuildError", "BuildOptions", "BuildResult", "Builder",
    "DEFAULT_SHELL", "DockerIgnore", "Dockerfile", "GlobalScope", "SUBSTITUTED", "Stage",
    "StageScope", "commit_message", "created_by", "expand", "expand_instruction", "parse",
    "parse_trigger", "platform_args", "split_words",
]
