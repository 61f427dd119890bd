"""ARG/ENV scoping as Docker documents it, driven step by step like the builder will."""
from __future__ import annotations

from typing import Dict, Optional

from berth.build import GlobalScope, StageScope, expand_instruction, parse, platform_args
from berth.build import instructions as ins


def run_stage(text: str, build_args: Optional[Dict[str, str]] = None, stage: int = 0,
              image_env: Optional[Dict[str, str]] = None):
    """Walk one stage the way the builder does; returns (global scope, stage scope, steps)."""
    df = parse(text)
    g = GlobalScope(build_args or {}, list(df.global_args), platform_args("linux", "amd64"))
    st = df.stages[stage]
    scope = g.stage(image_env or {})
    steps = [g.expand_from(st.from_)]
    for instr in st.instructions:
        if isinstance(instr, ins.Arg):
            steps.append(scope.declare(instr))
        elif isinstance(instr, ins.Env):
            steps.append(scope.set_env(instr))
        else:
            steps.append(expand_instruction(instr, scope.expansion_env(), df.escape))
    return g, scope, steps


def test_global_args_feed_from_lines() -> None:
    text = "ARG REPO=library\nARG TAG=1.36\nARG IMG=${REPO}/busybox\nFROM $IMG:$TAG AS a\n"
    _global_scope, _scope, steps = run_stage(text)
    assert steps[0].image == "library/busybox:1.36"
    _global_scope, _scope, steps = run_stage(text, {"TAG": "1.35", "REPO": "mine"})
    assert steps[0].image == "mine/busybox:1.35"


def test_global_arg_without_default_is_empty_in_from() -> None:
    _global_scope, _scope, steps = run_stage("ARG PREFIX\nFROM ${PREFIX}busybox\n")
    assert steps[0].image == "busybox"


def test_stage_must_redeclare_global_arg() -> None:
    text = "ARG V=1\nFROM busybox\nRUN --mount=target=/$V x\nARG V\nRUN --mount=target=/$V y\n"
    _global_scope, scope, steps = run_stage(text)
    assert steps[1].mounts == ("target=/",)
    assert steps[3].mounts == ("target=/1",)
    assert scope.expansion_env() == {"V": "1"}


def test_redeclared_global_takes_build_arg_override() -> None:
    _global_scope, scope, _steps = run_stage("ARG V=1\nFROM busybox\nARG V\n", {"V": "2"})
    assert scope.args == {"V": "2"}


def test_build_arg_overrides_stage_default() -> None:
    _global_scope, scope, steps = run_stage("FROM busybox\nARG A=def B=def\nWORKDIR /$A/$B\n", {"A": "cli"})
    assert steps[2].path == "/cli/def"


def test_stage_default_may_use_earlier_values() -> None:
    _global_scope, scope, _steps = run_stage("FROM busybox\nENV BASE=/opt\nARG DIR=${BASE}/app\n")
    assert scope.args == {"DIR": "/opt/app"}


def test_arg_without_any_value_is_unset() -> None:
    _global_scope, scope, steps = run_stage("FROM busybox\nARG X\nWORKDIR /${X-unset}/${X:-empty}\n")
    assert scope.args == {"X": None}
    assert steps[2].path == "/unset/empty"


def test_env_wins_over_arg() -> None:
    text = "FROM busybox\nARG X=arg\nENV X=env\nARG X=again\nUSER $X\n"
    _global_scope, scope, steps = run_stage(text, {"X": "cli"})
    assert steps[4].user == "env"
    assert scope.history_args() == []
    assert scope.run_env() == {"X": "env"}


def test_env_pairs_see_values_from_before_the_step() -> None:
    _global_scope, scope, steps = run_stage("FROM busybox\nENV A=1\nENV A=2 B=$A\n")
    assert steps[2].pairs == (("A", "2"), ("B", "1"))
    assert scope.env == {"A": "2", "B": "1"}


def test_image_env_is_visible() -> None:
    _global_scope, _scope, steps = run_stage("FROM busybox\nWORKDIR $HOME/x\n", image_env={"HOME": "/root"})
    assert steps[1].path == "/root/x"


def test_run_env_and_history_args() -> None:
    text = "FROM busybox\nARG B=2\nARG A=1\nARG HTTP_PROXY\n"
    _global_scope, scope, _steps = run_stage(text, {"http_proxy": "http://p:3128", "HTTP_PROXY": "http://q",
                                                    "unused": "x"})
    assert scope.run_env() == {"http_proxy": "http://p:3128", "HTTP_PROXY": "http://q",
                               "A": "1", "B": "2"}
    assert scope.history_args() == ["A=1", "B=2", "HTTP_PROXY=http://q"]
    assert scope.unused_build_args() == ["unused"]


def test_platform_args_are_global_only() -> None:
    text = "FROM --platform=$BUILDPLATFORM busybox\nWORKDIR /$TARGETARCH\nARG TARGETARCH\n" \
           "USER $TARGETARCH\n"
    _global_scope, _scope, steps = run_stage(text)
    assert steps[0].platform == "linux/amd64"
    assert steps[1].path == "/"
    assert steps[3].user == "amd64"


def test_second_stage_does_not_inherit_first_stage_args() -> None:
    text = "FROM busybox AS a\nARG X=1\nFROM busybox\nUSER u$X\n"
    _global_scope, _scope, steps = run_stage(text, stage=1)
    assert steps[1].user == "u"


def test_global_scope_is_independent_object() -> None:
    g = GlobalScope({"A": "1"})
    s1, s2 = g.stage({}), g.stage({"E": "e"})
    assert isinstance(s1, StageScope)
    s1.declare(parse("FROM x\nARG A\n").instructions[1])
    assert s1.expansion_env() == {"A": "1"}
    assert s2.expansion_env() == {"E": "e"}
