from __future__ import annotations

import json


def inspect(env, name: str) -> dict:
    return json.loads(env.berth("inspect", name).stdout)[0]
