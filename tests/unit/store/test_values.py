"""berth.values.Value behaves as a dataclass does (``__init__``, defaults and factories,
``==``/``hash``/``repr``, frozen instances, ``replace``) without importing ``dataclasses``."""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Dict, List, Optional

import pytest
from testlib import python_output

from berth.values import FrozenInstanceError, Value, asdict, field, fields


class Point(Value, frozen=True):
    x: int
    y: int = 0
    note: str = field(default="", compare=False)
    kind: ClassVar[str] = "point"


class Labelled(Point):
    label: Optional[str] = None


class Bag(Value):
    name: str
    items: List[int] = field(default_factory=list)
    meta: Dict[str, str] = field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class PointDC:
    x: int
    y: int = 0
    note: str = dataclasses.field(default="", compare=False)


def test_fields_in_order_with_inherited_ones_first_and_no_class_vars() -> None:
    assert fields(Point) == ("x", "y", "note")
    assert fields(Labelled(1)) == ("x", "y", "note", "label")
    assert Point.kind == "point" and "kind" not in fields(Point)


def test_init_positional_keyword_and_defaults_like_a_dataclass() -> None:
    assert Point(1, 2) == Point(x=1, y=2) == Point(1, y=2)
    assert Point(1).y == 0 and Labelled(1, label="a").label == "a"
    for call, message in ((Point, "missing required argument: 'x'"),
                          (lambda: Point(1, x=2), "multiple values for argument 'x'"),
                          (lambda: Point(1, z=3), "unexpected keyword argument 'z'"),
                          (lambda: Point(1, 2, "", 4), "takes 3 positional arguments")):
        with pytest.raises(TypeError, match=message):
            call()


def test_a_factory_gives_each_instance_its_own_value_and_no_class_attribute() -> None:
    one, two = Bag("a"), Bag("b")
    one.items.append(1)
    assert two.items == [] and one.meta is not two.meta
    assert "items" not in vars(Bag)


def test_eq_hash_and_repr_match_a_frozen_dataclass() -> None:
    mine, reference = Point(1, 2, note="n"), PointDC(1, 2, note="n")
    assert repr(mine) == repr(reference).replace("PointDC", "Point")
    assert hash(mine) == hash(reference)
    assert mine == Point(1, 2, note="other") and hash(mine) == hash(Point(1, 2, note="other"))
    assert mine != Point(1, 3) and mine != Labelled(1, 2)  # another class is never equal
    assert mine.__eq__(reference) is NotImplemented


def test_frozen_refuses_assignment_and_mutable_values_are_unhashable() -> None:
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x
    bag = Bag("a")
    bag.name = "b"
    assert bag.name == "b"
    with pytest.raises(TypeError):
        hash(bag)


def test_replace_copies_with_changes_and_checks_names() -> None:
    point = Labelled(1, 2, label="a")
    moved = point.replace(y=5)
    assert moved == Labelled(1, 5, label="a") and point.y == 2 and moved.__class__ is Labelled
    with pytest.raises(TypeError):
        point.replace(z=1)


@dataclasses.dataclass
class BagDC:
    name: str
    items: List[int] = dataclasses.field(default_factory=list)
    meta: Dict[str, str] = dataclasses.field(default_factory=dict)


def test_asdict_copies_nested_values_and_containers_like_dataclasses() -> None:
    class Holder(Value):
        bag: Bag
        pairs: List[tuple] = field(default_factory=list)

    holder = Holder(Bag("b", [1, 2], {"k": "v"}), [(Point(1), [3])])
    plain = asdict(holder)
    assert plain == {"bag": dataclasses.asdict(BagDC("b", [1, 2], {"k": "v"})),
                     "pairs": [({"x": 1, "y": 0, "note": ""}, [3])]}
    plain["bag"]["items"].append(9)
    plain["pairs"][0][1].append(9)
    assert holder.bag.items == [1, 2] and holder.pairs[0][1] == [3]  # copies, not shared


def test_importing_values_imports_no_dataclasses() -> None:
    out = python_output("""
        import berth.values
        print('dataclasses' in sys.modules)
    """)
    assert out == "False\n"


def test_class_vars_are_no_fields_without_postponed_annotations_too() -> None:
    out = python_output("""
        from typing import ClassVar
        from berth.values import Value, fields
        class Plain(Value):
            x: int
            kind: ClassVar[str] = "k"
            bare: ClassVar = 1
        print(fields(Plain), Plain(1))
    """)
    assert out == "('x',) Plain(x=1)\n"
