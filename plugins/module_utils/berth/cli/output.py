"""Terminal output in Docker's style: aligned tables, human sizes and ages, ``--format`` templates."""
from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..units import human_duration, human_size

__all__ = ["ago", "emit", "emit_documents", "error_line", "human_duration", "human_size", "line",
           "lines", "lookup", "print_table", "prompt", "render", "write"]

_TEMPLATE_ACTION = re.compile(r"{{\s*(json\s+)?(\.[A-Za-z0-9_.]*)\s*}}")


# The CLI lives in module_utils, where ``print`` is reserved for modules' debugging (ansible-test's
# pylint): every line the command writes goes through these helpers instead.

def line(text: object = "", flush: bool = False) -> None:
    """``text`` and a newline on stdout (``print(text)``)."""
    sys.stdout.write(f"{text}\n")
    if flush:
        sys.stdout.flush()


def lines(items: Iterable[object]) -> None:
    """One line per item on stdout, in one write."""
    sys.stdout.write("".join(f"{item}\n" for item in items))


def error_line(text: object) -> None:
    """``text`` and a newline on stderr (errors and warnings)."""
    sys.stderr.write(f"{text}\n")


def write(text: str, flush: bool = False) -> None:
    """``text`` as it is on stdout (no newline added)."""
    sys.stdout.write(text)
    if flush:
        sys.stdout.flush()


def prompt(question: str) -> None:
    """A question without a newline, flushed so it shows before the answer is read."""
    write(question, flush=True)


def ago(unix_seconds: int) -> str:
    if not unix_seconds:
        return "N/A"
    return human_duration(time.time() - unix_seconds) + " ago"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: Any = None) -> None:
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for row in [list(headers)] + [list(r) for r in rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.write("   ".join(cells).rstrip() + "\n")


def lookup(value: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, Mapping):
            value = value.get(part)
        else:
            value = getattr(value, part, None)
        if value is None:
            return None
    return value


def render(template: str, value: Any) -> str:
    """A small subset of Go templates: ``{{.A.B}}`` and ``{{json .A}}``, with ``\\t``/``\\n``."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")

    def action(m: re.Match[str]) -> str:
        found = lookup(value, m.group(2))
        if m.group(1):
            return json.dumps(found, separators=(",", ":"))
        if found is None:
            return "<no value>"
        if isinstance(found, (dict, list)):
            return _go_print(found)
        if isinstance(found, bool):
            return "true" if found else "false"
        return str(found)

    return _TEMPLATE_ACTION.sub(action, template)


def _go_print(value: Any) -> str:
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_print(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_print(v) for v in value) + "]"
    return str(value)


def emit(items: Sequence[Mapping[str, Any]], fmt: str | None, table: tuple[Sequence[str], Sequence[str]],
         out: Any = None) -> None:
    """Print list rows: the default table, ``json`` (one object per line), or a template."""
    out = out or sys.stdout
    if fmt == "json":
        for item in items:
            out.write(json.dumps(item, separators=(",", ":")) + "\n")
        return
    if fmt and fmt.startswith("table "):
        template = fmt[len("table "):]
        headers = [h.strip() for h in _TEMPLATE_ACTION.sub(
            lambda m: _header(m.group(2)), template.replace("\\t", "\t")).split("\t")]
        rows = [render(template, item).split("\t") for item in items]
        print_table(headers, rows, out)
        return
    if fmt:
        for item in items:
            out.write(render(fmt, item) + "\n")
        return
    headers, keys = table
    print_table(headers, [[str(item.get(k, "")) for k in keys] for item in items], out)


def _header(path: str) -> str:
    name = path.strip(".").split(".")[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).upper()


def emit_documents(docs: Sequence[Any], fmt: str | None, out: Any = None) -> None:
    """Print inspect-style documents: a JSON array by default, or a template per document."""
    out = out or sys.stdout
    if not fmt or fmt == "json":
        out.write(json.dumps(list(docs), indent=4) + "\n")
        return
    for doc in docs:
        out.write(render(fmt, doc) + "\n")


def each_target(names: Iterable[str], action: Any, echo: bool = True) -> int:
    """Docker's multi-target verbs: act on each name, print those that succeeded, report each
    failure on its own line; 1 if any failed."""
    from ..errors import BerthError

    status = 0
    for name in names:
        try:
            action(name)
            if echo:
                line(name)
        except BerthError as exc:
            error_line(f"Error response from daemon: {exc}")
            status = 1
    return status


def emit_found(docs: Sequence[Any], missing: Sequence[str], fmt: str | None) -> int:
    """``inspect``'s ending: the documents found, then one error line per name not found."""
    if docs or not missing:
        emit_documents(docs, fmt)
    for name in missing:
        error_line(f"Error: No such object: {name}")
    return 1 if missing else 0


def unique_ids(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ``ID`` column without repeats, in order (``images -q``: one line per image)."""
    seen: list[str] = []
    for row in rows:
        if row["ID"] not in seen:
            seen.append(row["ID"])
    return seen
