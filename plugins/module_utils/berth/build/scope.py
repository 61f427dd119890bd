"""ARG/ENV scoping, as Docker documents it.

- ARGs before the first FROM are *global*: their values (build-arg overrides win over defaults,
  defaults may use earlier global ARGs) are usable in FROM lines only.
- A stage sees a global value only after redeclaring ``ARG name`` without a default.
- In a stage, a build-arg override wins over an ARG default; ENV always wins over ARG.
- ARG values reach RUN's environment but not the image config; the proxy build args
  (``HTTP_PROXY``...) reach RUN without an ARG line and stay out of the history.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Set

from .instructions import PROXY_ARGS, Arg, Env, From
from .substitution import expand_instruction

#: Automatic platform ARGs BuildKit puts in the global scope.
PLATFORM_ARGS = ("BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT", "TARGETPLATFORM",
                 "TARGETOS", "TARGETARCH", "TARGETVARIANT")


def platform_args(os_name: str = "linux", arch: str = "amd64", variant: str = "") -> Dict[str, str]:
    """Values of the automatic platform ARGs when building for and on one platform."""
    platform = "%s/%s" % (os_name, arch) + ("/" + variant if variant else "")
    out = {}
    for prefix in ("BUILD", "TARGET"):
        out.update({prefix + "PLATFORM": platform, prefix + "OS": os_name,
                    prefix + "ARCH": arch, prefix + "VARIANT": variant})
    return out


class GlobalScope:
    """The ARGs declared before the first FROM, resolved once per build."""

    def __init__(self, build_args: Mapping[str, str], global_args: "List[Arg]" = (),
                 predefined: Optional[Mapping[str, str]] = None, escape: str = "\\") -> None:
        self.build_args = dict(build_args)
        self.escape = escape
        self.values: Dict[str, Optional[str]] = dict(predefined or {})
        self.used: Set[str] = set()
        for instr in global_args:
            self.declare(instr)

    def declare(self, instr: Arg) -> None:
        expanded = expand_instruction(instr, self.env(), self.escape)
        for arg in expanded.args:
            if arg.name in self.build_args:
                self.values[arg.name] = self.build_args[arg.name]
                self.used.add(arg.name)
            else:
                self.values[arg.name] = arg.default

    def env(self) -> Dict[str, str]:
        """Names with a value, for expanding FROM lines and later global defaults."""
        return {k: v for k, v in self.values.items() if v is not None}

    def expand_from(self, instr: From) -> From:
        return expand_instruction(instr, self.env(), self.escape)

    def stage(self, image_env: Mapping[str, str] = ()) -> "StageScope":
        """A fresh scope for one stage whose base image has ``image_env``."""
        return StageScope(self, dict(image_env))


class StageScope:
    """ARG and ENV values inside one stage, updated step by step."""

    def __init__(self, global_scope: GlobalScope, env: Dict[str, str]) -> None:
        self.global_scope = global_scope
        self.escape = global_scope.escape
        self.env: Dict[str, str] = env
        self.args: Dict[str, Optional[str]] = {}

    def declare(self, instr: Arg) -> Arg:
        """Apply an ``ARG`` step; returns it expanded (for the history string)."""
        expanded = expand_instruction(instr, self.expansion_env(), self.escape)
        build_args = self.global_scope.build_args
        for arg in expanded.args:
            if arg.name in build_args:
                value: Optional[str] = build_args[arg.name]
                self.global_scope.used.add(arg.name)
            elif arg.default is not None:
                value = arg.default
            else:
                value = self.global_scope.values.get(arg.name)
            self.args[arg.name] = value
        return expanded

    def set_env(self, instr: Env) -> Env:
        """Apply an ``ENV`` step: all pairs see the values from before the step."""
        expanded = expand_instruction(instr, self.expansion_env(), self.escape)
        for key, value in expanded.pairs:
            self.env[key] = value
        return expanded

    def expansion_env(self) -> Dict[str, str]:
        """What ``$NAME`` means in this step: declared ARGs with a value, overlaid by ENV."""
        out = {k: v for k, v in self.args.items() if v is not None}
        out.update(self.env)
        return out

    def run_env(self) -> Dict[str, str]:
        """The environment of a RUN step: ENV, plus ARG values and proxy build args not
        shadowed by ENV."""
        out = {k: v for k, v in self.global_scope.build_args.items()
               if k in PROXY_ARGS and k not in self.args}
        out.update(self.expansion_env())
        return out

    def history_args(self) -> List[str]:
        """``k=v`` of the ARGs a RUN's history and cache key carry (``|N k=v ...``)."""
        return sorted("%s=%s" % (k, v) for k, v in self.args.items()
                      if v is not None and k not in self.env)

    def unused_build_args(self) -> List[str]:
        """Build args no ARG consumed (Docker warns about them after the build)."""
        used = self.global_scope.used
        return sorted(k for k in self.global_scope.build_args
                      if k not in used and k not in PROXY_ARGS)
