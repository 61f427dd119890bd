"""``--change`` lines of ``berth import`` and ``berth commit``: Dockerfile instructions on a config."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidArgument
from . import config_update
from . import instructions as ins
from .parser import parse_instruction
from .substitution import expand_instruction

# Docker's validCommitCommands.
ALLOWED = (ins.Cmd, ins.Entrypoint, ins.Env, ins.Expose, ins.Label, ins.OnBuild, ins.StopSignal,
           ins.User, ins.Volume, ins.Workdir)


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply each change (one Dockerfile instruction) to a copy of the ``config`` object."""
    for change in changes:
        instr = parse_instruction(change, filename="--change")
        if not isinstance(instr, ALLOWED):
            raise InvalidArgument(f"{instr.keyword} is not a valid change command")
        instr = expand_instruction(instr, config_update.env_map(config), filename="--change")
        config = config_update.apply(config, instr)
    return config
