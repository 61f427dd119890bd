"""How metadata instructions change an image's ``config`` object (Docker's classic-builder rules).

Shared by the builder, ``berth commit -c`` and ``berth import -c``.
"""
from __future__ import annotations

import posixpath
from typing import Any

from . import instructions as ins

METADATA = (ins.Cmd, ins.Entrypoint, ins.Env, ins.Label, ins.Expose, ins.User, ins.Volume, ins.Workdir,
            ins.StopSignal, ins.OnBuild, ins.Healthcheck, ins.Shell, ins.Maintainer)


def env_map(config: dict[str, Any]) -> dict[str, str]:
    result = {}
    for item in config.get("Env") or []:
        key, _sep, value = item.partition("=")
        result[key] = value
    return result


def apply(config: dict[str, Any], instr: ins.Instruction) -> dict[str, Any]:
    """Return a copy of ``config`` with ``instr`` (already variable-expanded) applied."""
    cfg = dict(config)
    shell = tuple(cfg.get("Shell") or ins.DEFAULT_SHELL)
    if isinstance(instr, ins.Cmd):
        cfg["Cmd"] = instr.argv(shell)
    elif isinstance(instr, ins.Entrypoint):
        cfg["Entrypoint"] = instr.argv(shell)
    elif isinstance(instr, ins.Env):
        env = list(cfg.get("Env") or [])
        for key, value in instr.pairs:
            keys = [e.partition("=")[0] for e in env]
            if key in keys:  # Docker replaces a redefined variable where it stands
                env[keys.index(key)] = f"{key}={value}"
            else:
                env.append(f"{key}={value}")
        cfg["Env"] = env
    elif isinstance(instr, ins.Label):
        cfg["Labels"] = {**(cfg.get("Labels") or {}), **dict(instr.pairs)}
    elif isinstance(instr, ins.Expose):
        cfg["ExposedPorts"] = {**(cfg.get("ExposedPorts") or {}),
                               **{spec: {} for spec in instr.port_specs()}}
    elif isinstance(instr, ins.User):
        cfg["User"] = instr.user
    elif isinstance(instr, ins.Volume):
        cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{p: {} for p in instr.paths}}
    elif isinstance(instr, ins.Workdir):
        base = cfg.get("WorkingDir") or "/"
        cfg["WorkingDir"] = posixpath.normpath(posixpath.join(base, instr.path))
    elif isinstance(instr, ins.StopSignal):
        cfg["StopSignal"] = instr.signal
    elif isinstance(instr, ins.OnBuild):
        cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [instr.expression]
    elif isinstance(instr, ins.Healthcheck):
        cfg["Healthcheck"] = instr.config()
    elif isinstance(instr, ins.Shell):
        cfg["Shell"] = list(instr.shell)
    elif not isinstance(instr, ins.Maintainer):  # MAINTAINER sets the image's author, not config
        raise TypeError(f"{instr.keyword} does not change the image config")
    return cfg
