"""The option model: argument_spec and docs from one declaration, comparison modes, image
defaults merged into container comparisons."""
from __future__ import annotations

import pytest


@pytest.fixture
def options(collection):
    return collection("module_utils", "berth_ansible.options")


def test_argument_spec_and_docs_come_from_the_same_declaration(options) -> None:
    opt = options.Option("ports", "list", "Ports.", elements="str", aliases=("p",), no_log=False,
                         comparison="strict")
    secret = options.Option("password", "str", "Secret.", no_log=True, required=True)
    spec = options.argument_spec([opt, secret])
    assert spec == {"ports": {"type": "list", "elements": "str", "aliases": ["p"]},
                    "password": {"type": "str", "no_log": True, "required": True}}
    docs = options.doc_options([opt, secret])
    assert docs["ports"] == {"description": "Ports.", "type": "list", "elements": "str",
                             "aliases": ["p"]}
    assert "no_log" not in docs["password"] and docs["password"]["required"] is True


def test_unknown_comparison_is_refused_at_declaration(options) -> None:
    with pytest.raises(ValueError):
        options.Option("x", "str", "X.", comparison="fuzzy")


@pytest.mark.parametrize("mode, desired, current, ok", [
    ("strict", ["a", "b"], ["a", "b"], True),
    ("strict", ["a", "b"], ["a", "b", "c"], False),
    ("allow_more_present", ["a", "b"], ["c", "b", "a"], True),
    ("allow_more_present", ["a", "d"], ["a", "b"], False),
    ("allow_more_present", {"a": "1"}, {"a": "1", "b": "2"}, True),
    ("allow_more_present", {"a": "1"}, {"a": "2"}, False),
    ("strict", {"a": "1"}, {"a": "1", "b": "2"}, False),
    ("ignore", "x", "y", True),
    ("allow_more_present", "x", "y", False),
])
def test_values_match(options, mode, desired, current, ok) -> None:
    assert options.values_match(mode, desired, current) is ok


def test_unordered_lists_compare_as_sets(options) -> None:
    assert options.values_match("strict", ["b", "a"], ["a", "b"], unordered=True)
    assert not options.values_match("strict", ["b", "a"], ["a", "b"])


def test_comparisons_overrides_are_checked(options, collection) -> None:
    container = collection("module_utils", "berth_ansible.container_options")
    modes = options.comparison_modes(container.OPTIONS, {"env": "ignore"})
    assert modes["env"] == "ignore" and modes["image"] == "strict"
    assert "env_file" not in modes, "env_file compares as part of env"
    assert "state" not in modes, "options that steer the module are not compared"
    with pytest.raises(options.BadOption, match="unknown option 'bogus'"):
        options.comparison_modes(container.OPTIONS, {"bogus": "strict"})


def test_container_image_defaults_are_merged(collection) -> None:
    container = collection("module_utils", "berth_ansible.container_options")
    by_name = {o.name: o for o in container.OPTIONS}
    image = {"Env": ["PATH=/bin", "MODE=image"], "Cmd": ["sh"], "User": "web", "Labels": {"a": "1"}}
    env = by_name["env"]
    assert env.effective_value(env.engine_value({"MODE": "image"}), image) == \
        env.effective_value([], image)
    assert env.effective_value(["MODE=x"], image) == {"PATH": "/bin", "MODE": "x"}
    cmd = by_name["command"]
    assert cmd.effective_value(cmd.engine_value("sh"), image) == cmd.effective_value(None, image)
    assert cmd.engine_value("echo 'a b'") == ["echo", "a b"]
    assert by_name["user"].effective_value("", image) == "web"
    assert by_name["labels"].effective_value({"b": "2"}, image) == {"a": "1", "b": "2"}


def test_container_conversions_refuse_bad_values(collection) -> None:
    container = collection("module_utils", "berth_ansible.container_options")
    options = collection("module_utils", "berth_ansible.options")
    by_name = {o.name: o for o in container.OPTIONS}
    with pytest.raises(options.BadOption, match="must be a string"):
        by_name["env"].engine_value({"DEBUG": True})
    with pytest.raises(options.BadOption, match="invalid size"):
        by_name["memory"].engine_value("lots")
    assert by_name["memory"].engine_value("32m") == 32 * 1024 * 1024
    assert by_name["etc_hosts"].engine_value({"db": "10.0.0.2"}) == ["db:10.0.0.2"]
    assert by_name["capabilities"].engine_value(["net_admin"]) == ["CAP_NET_ADMIN"]


def test_every_container_field_exists_in_the_engine_spec(collection) -> None:
    container = collection("module_utils", "berth_ansible.container_options")
    engine = collection("module_utils", "berth.container")
    fields = set(collection("module_utils", "berth.values").fields(engine.ContainerSpec))
    assert {o.field for o in container.OPTIONS if o.field} <= fields
