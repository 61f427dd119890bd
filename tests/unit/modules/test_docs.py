"""Every module's DOCUMENTATION equals what its option model says (names, types, choices, defaults,
elements, aliases, required, descriptions) and its argument_spec comes from that model.

``BERTH_REGEN_DOCS=1`` rewrites the options sections from the model instead of failing.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py"))


def fragment_options(collection, documentation: str) -> dict:
    """The options documented by the collection's doc fragments that ``documentation`` extends
    (``berth.engine.NAME`` is NAME.py's DOCUMENTATION, ``berth.engine.NAME.PART`` its PART)."""
    out: dict = {}
    for ref in yaml.safe_load(documentation).get("extends_documentation_fragment") or []:
        parts = ref.split(".")
        assert parts[:2] == ["berth", "engine"], f"fragment {ref} is not this collection's"
        fragment = collection("doc_fragments", parts[2]).ModuleDocFragment
        text = getattr(fragment, parts[3].upper() if len(parts) > 3 else "DOCUMENTATION")
        out.update(yaml.safe_load(text).get("options") or {})
    return out


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_option_model(collection, name: str) -> None:
    mod = collection("modules", name)
    docs = collection("module_utils", "berth_ansible.docs")
    in_fragments = fragment_options(collection, mod.DOCUMENTATION)
    if os.environ.get("BERTH_REGEN_DOCS"):
        path = REPO / "plugins" / "modules" / f"{name}.py"
        text = path.read_text()
        new_doc = docs.rewrite(mod.DOCUMENTATION, mod.OPTIONS, in_fragments)
        text = text.replace(mod.DOCUMENTATION, new_doc, 1)
        path.write_text(text)
        mod.DOCUMENTATION = new_doc
    found = docs.problems(mod.DOCUMENTATION, mod.OPTIONS, in_fragments)
    assert not found, (f"{name}: DOCUMENTATION drifted from the option model: {found}\n"
                       f"regenerate with BERTH_REGEN_DOCS=1; expected:\n{docs.render(mod.OPTIONS)}")


@pytest.mark.parametrize("name", MODULES)
def test_module_builds_its_argument_spec_from_the_model(collection, name: str) -> None:
    mod = collection("modules", name)
    source = (REPO / "plugins" / "modules" / f"{name}.py").read_text()
    assert "argument_spec=argument_spec(OPTIONS)" in source
    assert re.search(r"^from \.\.module_utils\.berth_ansible\.\w+ import .*OPTIONS", source, re.M)
    assert mod.DOCUMENTATION.rstrip().splitlines()[-1].startswith("    "), "options must come last"


@pytest.mark.parametrize("name", MODULES)
def test_documentation_sections_parse(collection, name: str) -> None:
    mod = collection("modules", name)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == name
    assert yaml.safe_load(mod.EXAMPLES)
    returned = yaml.safe_load(mod.RETURN)
    assert all("description" in v and "returned" in v for v in returned.values())


def test_problems_reports_a_drifted_default(collection) -> None:
    docs = collection("module_utils", "berth_ansible.docs")
    options = collection("module_utils", "berth_ansible.options")
    model = (options.Option("state", "str", "The state.", choices=("a", "b"), default="a"),)
    good = "module: x\noptions:\n" + docs.render(model).split("options:\n", 1)[1]
    assert docs.problems(good, model) == []
    drifted = good.replace("default: a", "default: b")
    assert docs.problems(drifted, model) == ["option state: default differ"]
    missing = "module: x\noptions: {}\n"
    assert "option state is not documented" in docs.problems(missing, model)
    in_fragment = yaml.safe_load(good)["options"]
    assert docs.problems("module: x\noptions:\n", model, in_fragment) == []
    assert docs.problems(good, model, in_fragment) == [
        "option state is documented both in the module and in a fragment"]
