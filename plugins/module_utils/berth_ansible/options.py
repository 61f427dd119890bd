"""The option model: every module option is declared once, here or beside its module's logic.

One ``Option`` gives the Ansible type and docs, how the option is compared with an existing object
(``strict``, ``ignore``, ``allow_more_present``, or not at all for options that steer the module),
and how it maps to the engine (``field`` of the structured spec, ``to_engine`` conversion, and the
image default that applies when the stored value is empty). ``argument_spec`` and ``doc_options``
are derived from the same list, so the spec, the comparison and the documentation cannot drift;
``tests/unit/modules/test_docs.py`` fails when a module's DOCUMENTATION differs from ``doc_options``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

COMPARISONS = ("strict", "ignore", "allow_more_present")


class BadOption(Exception):
    """An option value the module cannot use; the message is the one line fail_json shows."""


@dataclass(frozen=True)
class Option:
    name: str
    type: str
    description: Union[str, Tuple[str, ...]]
    elements: Optional[str] = None
    choices: Optional[Tuple[Any, ...]] = None
    default: Any = None
    aliases: Tuple[str, ...] = ()
    no_log: bool = False
    required: bool = False
    suboptions: Tuple["Option", ...] = ()
    #: how a desired value is compared with the current one; None: the option is not compared
    comparison: Optional[str] = None
    #: lists whose order means nothing (ports, capabilities...) compare as sets
    unordered: bool = False
    #: comparisons group: options that feed the same engine field compare as one (env_file -> env)
    compare_as: Optional[str] = None
    #: the engine's spec field this option sets (None: steers the module only)
    field: Optional[str] = None
    #: module parameter -> engine value; raises BadOption on bad input
    to_engine: Optional[Callable[[Any], Any]] = None
    #: (engine value or None, image config dict) -> the value in effect (image defaults merged in)
    effective: Optional[Callable[[Any, Dict[str, Any]], Any]] = None
    #: the existing object's inspect document -> its current value (objects without a stored spec)
    read: Optional[Callable[[Dict[str, Any]], Any]] = None

    def __post_init__(self) -> None:
        if self.comparison is not None and self.comparison not in COMPARISONS:
            raise ValueError(f"option {self.name}: unknown comparison {self.comparison!r}")

    @property
    def group(self) -> str:
        return self.compare_as or self.name

    def engine_value(self, value: Any) -> Any:
        return self.to_engine(value) if self.to_engine else value

    def effective_value(self, value: Any, image_config: Dict[str, Any]) -> Any:
        return self.effective(value, image_config) if self.effective else value


def argument_spec(options: Sequence[Option]) -> Dict[str, Dict[str, Any]]:
    """AnsibleModule's argument_spec for ``options``."""
    spec: Dict[str, Dict[str, Any]] = {}
    for opt in options:
        entry: Dict[str, Any] = {"type": opt.type}
        if opt.elements:
            entry["elements"] = opt.elements
        if opt.choices is not None:
            entry["choices"] = list(opt.choices)
        if opt.default is not None:
            entry["default"] = opt.default
        if opt.aliases:
            entry["aliases"] = list(opt.aliases)
        if opt.no_log:
            entry["no_log"] = True
        if opt.required:
            entry["required"] = True
        if opt.suboptions:
            entry["options"] = argument_spec(opt.suboptions)
        spec[opt.name] = entry
    return spec


def doc_options(options: Sequence[Option]) -> Dict[str, Dict[str, Any]]:
    """The ``options`` section of DOCUMENTATION for ``options`` (what the docs must say)."""
    docs: Dict[str, Dict[str, Any]] = {}
    for opt in options:
        entry: Dict[str, Any] = {"description": _description(opt.description), "type": opt.type}
        if opt.elements:
            entry["elements"] = opt.elements
        if opt.choices is not None:
            entry["choices"] = list(opt.choices)
        if opt.default is not None:
            entry["default"] = opt.default
        if opt.aliases:
            entry["aliases"] = list(opt.aliases)
        if opt.required:
            entry["required"] = True
        if opt.suboptions:
            entry["suboptions"] = doc_options(opt.suboptions)
        docs[opt.name] = entry
    return docs


def _description(text: Union[str, Tuple[str, ...]]) -> Any:
    return list(text) if isinstance(text, tuple) else text


def comparable(options: Sequence[Option]) -> Dict[str, Option]:
    """Options compared with an existing object, by name (the keys ``comparisons`` accepts)."""
    return {opt.name: opt for opt in options if opt.comparison is not None and opt.compare_as is None}


def comparison_modes(options: Sequence[Option], overrides: Optional[Dict[str, Any]]) -> Dict[str, str]:
    """Each comparable option's mode after the user's ``comparisons``; BadOption on bad input."""
    known = comparable(options)
    modes = {name: str(opt.comparison) for name, opt in known.items()}
    for name, mode in (overrides or {}).items():
        if name not in known:
            raise BadOption(f"comparisons: unknown option {name!r}; known: {', '.join(sorted(known))}")
        if mode not in COMPARISONS:
            raise BadOption(f"comparisons.{name}: {mode!r} is not one of {', '.join(COMPARISONS)}")
        modes[name] = str(mode)
    return modes


def values_match(mode: str, desired: Any, current: Any, unordered: bool = False) -> bool:
    """Does ``current`` satisfy ``desired`` under ``mode``?

    ``allow_more_present``: every desired list item / dict entry is present in the current value
    (extra ones are fine); scalars compare strictly. ``unordered`` lists compare as sets.
    """
    if mode == "ignore":
        return True
    if unordered and isinstance(desired, (list, tuple)) and isinstance(current, (list, tuple)):
        desired, current = sorted(desired, key=repr), sorted(current, key=repr)
    if mode == "allow_more_present":
        if isinstance(desired, dict) and isinstance(current, dict):
            return all(k in current and current[k] == v for k, v in desired.items())
        if isinstance(desired, (list, tuple)) and isinstance(current, (list, tuple)):
            return all(item in current for item in desired)
    return _normal(desired) == _normal(current)


def _normal(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_normal(v) for v in value]
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def differences(options: Sequence[Option], params: Dict[str, Any], current: Dict[str, Any],
                modes: Dict[str, str]) -> Dict[str, Tuple[Any, Any]]:
    """Option name -> (current, desired) for every given option whose ``read`` value of the inspect
    document ``current`` does not satisfy the desired one under its mode."""
    out: Dict[str, Tuple[Any, Any]] = {}
    for name, opt in comparable(options).items():
        if params.get(name) is None or modes[name] == "ignore" or opt.read is None:
            continue
        want = opt.engine_value(params[name])
        have = opt.read(current)
        if not values_match(modes[name], want, have, opt.unordered):
            out[name] = (have, want)
    return out
