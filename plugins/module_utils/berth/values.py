"""Value classes: what ``@dataclass`` gives (``__init__``, ``==``, ``hash``, ``repr``, frozen
instances, ``replace``), without importing ``dataclasses`` or compiling code per class.

    class Layer(Value, frozen=True):
        digest: str
        size: int = 0
        tags: List[str] = field(default_factory=list)
        note: str = field(default="", compare=False)

The fields are the class's annotations (``ClassVar`` ones left out), in order, the inherited ones
first; a default is a class attribute. Instances behave like a dataclass's with ``eq=True``:
equal to an instance of the very same class with equal compared fields, hashable only when
frozen. ``dataclasses`` costs a CLI command ~8 ms to import and ~0.5 ms per class it decorates;
the commands on a cached build import dozens of these classes.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, Tuple, TypeVar

try:  # tells type checkers that subclasses get a dataclass's __init__ (Python >= 3.11)
    from typing import dataclass_transform  # type: ignore[attr-defined]
except ImportError:
    def dataclass_transform(**_kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[misc]
        return lambda cls: cls

__all__ = ["FrozenInstanceError", "Value", "asdict", "field", "fields"]

_MISSING: Any = object()
V = TypeVar("V")  # no bound="Value": a string bound costs a compile() (~1 ms) at import


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen value (``dataclasses.FrozenInstanceError``'s role)."""


class _Field:
    __slots__ = ("default", "default_factory", "compare")

    def __init__(self, default: Any, default_factory: Any, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare


def field(*, default: Any = _MISSING, default_factory: Any = _MISSING,
          compare: bool = True) -> Any:
    """A field's default (a value or a factory called per instance) and whether ``==`` uses it."""
    return _Field(default, default_factory, compare)


def fields(value: Any) -> Tuple[str, ...]:
    """The field names of a value class or instance, in order."""
    return value._fields


def asdict(value: Any) -> Dict[str, Any]:
    """A value's fields as a dict, copied through nested values, lists, tuples and dicts, like
    ``dataclasses.asdict`` (other leaves, immutable in berth's values, are shared)."""
    return {name: _copied(getattr(value, name)) for name in value._fields}


def _copied(obj: Any) -> Any:
    if isinstance(obj, Value):
        return asdict(obj)
    if isinstance(obj, list):
        return [_copied(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_copied(item) for item in obj)
    if isinstance(obj, dict):
        return {_copied(key): _copied(item) for key, item in obj.items()}
    return obj


def _is_class_var(annotation: Any) -> bool:
    if isinstance(annotation, str):  # ``from __future__ import annotations``
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or getattr(annotation, "__origin__", None) is ClassVar


@dataclass_transform(field_specifiers=(field,))
class Value:
    _fields: ClassVar[Tuple[str, ...]] = ()
    _defaults: ClassVar[Dict[str, Any]] = {}     # name -> value
    _factories: ClassVar[Dict[str, Callable[[], Any]]] = {}
    _compared: ClassVar[Tuple[str, ...]] = ()
    _frozen: ClassVar[bool] = False

    def __init_subclass__(cls, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls._fields)
        defaults = dict(cls._defaults)
        factories = dict(cls._factories)
        uncompared = set(names) - set(cls._compared)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if _is_class_var(annotation):
                continue
            if name not in names:
                names.append(name)
            defaults.pop(name, None)
            factories.pop(name, None)
            uncompared.discard(name)
            value = cls.__dict__.get(name, _MISSING)
            if isinstance(value, _Field):
                if not value.compare:
                    uncompared.add(name)
                if value.default_factory is not _MISSING:
                    factories[name] = value.default_factory
                    delattr(cls, name)  # as dataclasses: no shared mutable class attribute
                    continue
                value = value.default
                if value is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value)
            if value is not _MISSING:
                defaults[name] = value
        cls._fields = tuple(names)
        cls._defaults = defaults
        cls._factories = factories
        cls._compared = tuple(n for n in names if n not in uncompared)
        cls._frozen = frozen or cls._frozen
        if "__hash__" not in cls.__dict__:  # dataclass(eq=True): hashable only when frozen
            cls.__hash__ = Value._hash if cls._frozen else None  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._fields
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} positional arguments "
                            f"but {len(args)} were given")
        put = object.__setattr__
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument "
                                f"{name!r}")
            put(self, name, value)
        for name in names[len(args):]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in self._defaults:
                value = self._defaults[name]
            elif name in self._factories:
                value = self._factories[name]()
            else:
                raise TypeError(f"{type(self).__name__}() missing required argument: {name!r}")
            put(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument "
                            f"{sorted(kwargs)[0]!r}")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._compared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    def _hash(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self._frozen:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    def replace(self: V, **changes: Any) -> V:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)
