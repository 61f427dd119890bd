"""DOCUMENTATION's ``options`` from the option model: render, check, rewrite.

A module's DOCUMENTATION is a string literal (ansible-doc reads it without running the module), so it
cannot be computed at run time. Instead its ``options:`` section (always the LAST key) is generated
from the module's ``OPTIONS``: ``tests/unit/modules/test_docs.py`` fails on any difference, and
``BERTH_REGEN_DOCS=1 pytest tests/unit/modules/test_docs.py`` rewrites the section in place.
Options documented in one of the collection's doc fragments (named in the module's
``extends_documentation_fragment``) are checked against the same model but live in the fragment.
Used by tests only; PyYAML is imported on demand.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from .options import Option, doc_options

MARKER = "\noptions:\n"


def render(options: Sequence[Option]) -> str:
    """The ``options:`` section as YAML text (ends with a newline): block style, with short lists
    (choices, aliases) in flow style so long option lists stay readable."""
    return "options:\n" + _render(doc_options(options), "  ")


def _render(docs: Dict[str, Dict[str, Any]], indent: str) -> str:
    import yaml

    def dump(value: Any, flow: bool) -> str:
        text = yaml.safe_dump(value, default_flow_style=flow, width=10 ** 6).strip()
        return text[:-3].strip() if text.endswith("\n...") else text

    def scalar(value: Any) -> str:
        return _text(value) if isinstance(value, str) else dump(value, True)

    def _text(value: str) -> str:
        return dump(value, False)

    lines = []
    for name, entry in docs.items():
        lines.append(f"{indent}{name}:")
        inner = indent + "  "
        for key, value in entry.items():
            if key == "suboptions":
                lines.append(f"{inner}suboptions:")
                lines.append(_render(value, inner + "  ").rstrip("\n"))
            elif key == "description":
                if isinstance(value, list):
                    lines.append(f"{inner}description:")
                    lines.extend(_wrapped(_text(item), inner + "  - ") for item in value)
                else:
                    lines.append(_wrapped(_text(value), f"{inner}description: ", inner + "  "))
            else:
                lines.append(f"{inner}{key}: {scalar(value)}")
    return "\n".join(lines) + "\n"


def _wrapped(text: str, prefix: str, pad: str = "", width: int = 100) -> str:
    """``prefix`` + ``text`` folded at spaces into continuation lines indented by ``pad``."""
    pad = pad or " " * len(prefix)
    out, line = [], prefix
    for word in text.split(" "):
        if len(line) + 1 + len(word) > width and line.strip() not in ("-", ""):
            out.append(line)
            line = pad + word
        else:
            line = line + word if line in (prefix, pad) else line + " " + word
    out.append(line)
    return "\n".join(out)


def problems(documentation: str, options: Sequence[Option],
             fragment_options: Optional[Dict[str, Any]] = None) -> List[str]:
    """Differences between the documented options (DOCUMENTATION's plus ``fragment_options``, the
    options of its doc fragments) and the model's, one line each."""
    import yaml

    doc = yaml.safe_load(documentation) or {}
    documented: Dict[str, Any] = dict(doc.get("options") or {})
    for name, entry in (fragment_options or {}).items():
        if name in documented:
            return [f"option {name} is documented both in the module and in a fragment"]
        documented[name] = entry
    wanted = doc_options(options)
    out = []
    for name in sorted(set(documented) | set(wanted)):
        if name not in documented:
            out.append(f"option {name} is not documented")
        elif name not in wanted:
            out.append(f"option {name} is documented but not in the argument_spec")
        elif documented[name] != wanted[name]:
            keys = sorted(set(documented[name]) | set(wanted[name]))
            diff = [k for k in keys if documented[name].get(k) != wanted[name].get(k)]
            out.append(f"option {name}: {', '.join(diff)} differ")
    sep, tail = documentation.rpartition(MARKER)[1:]
    if not sep or any(line and not line[0].isspace() for line in tail.splitlines()):
        out.append("DOCUMENTATION must end with its options: section (it is regenerated)")
    return out


def rewrite(documentation: str, options: Sequence[Option],
            fragment_names: Iterable[str] = ()) -> str:
    """``documentation`` with its trailing options section regenerated (without the options its
    fragments document)."""
    head, sep = documentation.rpartition(MARKER)[:2]
    if not sep:
        raise ValueError("DOCUMENTATION has no options: section")
    skip = set(fragment_names)
    return head + "\n" + render([o for o in options if o.name not in skip])
