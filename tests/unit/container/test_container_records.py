"""The container table: names, lookup by ID/prefix/name, users from the image's passwd."""
from __future__ import annotations

import pytest

from berth.container.names import check_name, new_id, random_name
from berth.container.records import CREATED_STATE, Container, Records
from berth.container.spec import ContainerSpec
from berth.container.users import resolve
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.store import Store


def _container(cid: str, name: str) -> Container:
    return Container(cid, name, "sha256:" + "0" * 64, "busybox", "2024-01-01T00:00:00.000000000Z",
                     ContainerSpec(image="busybox", command=["true"]), {"Cmd": ["true"]},
                     dict(CREATED_STATE))


def test_names_and_ids() -> None:
    cid = new_id()
    assert len(cid) == 64 and int(cid, 16) >= 0 and not cid[:12].isdigit()
    assert "_" in random_name()
    assert check_name("/web-1") == "web-1"
    for bad in ("a", "-x", "has space", "x/y"):
        with pytest.raises(InvalidArgument):
            check_name(bad)


def test_resolve_by_id_prefix_and_name(berth_env) -> None:
    records = Records(Store())
    a, b = "abc" + "1" * 61, "abd" + "2" * 61
    records.insert(_container(a, "web"))
    records.insert(_container(b, "db"))
    assert records.resolve(a).name == "web"
    assert records.resolve("abc").id == a
    assert records.resolve("db").id == b and records.resolve("/db").id == b
    with pytest.raises(Conflict, match="multiple IDs"):
        records.resolve("ab")
    with pytest.raises(NotFound, match="No such container: nope"):
        records.resolve("nope")
    with pytest.raises(Conflict, match='"/web" is already in use'):
        records.insert(_container("f" * 64, "web"))
    records.rename(a, "frontend")
    assert records.resolve("frontend").id == a
    with pytest.raises(Conflict):
        records.rename(b, "frontend")
    records.delete(a)
    with pytest.raises(NotFound):
        records.resolve(a)


def test_users_resolve_from_the_image_files(tmp_path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                "app:x:1000:1001:app:/home/app:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\napp:x:1001:\nwheel:x:10:app,other\naudio:x:29:app\n")
    root = str(tmp_path)
    assert resolve(root, "") == (0, 0, [], "/root")
    assert resolve(root, "app") == (1000, 1001, [10, 29], "/home/app")
    assert resolve(root, "app:wheel") == (1000, 10, [29], "/home/app")
    assert resolve(root, "1000") == (1000, 1001, [10, 29], "/home/app")
    assert resolve(root, "4242:7") == (4242, 7, [], "/")
    with pytest.raises(InvalidArgument, match="unable to find user ghost"):
        resolve(root, "ghost")
    with pytest.raises(InvalidArgument, match="unable to find group nogroup"):
        resolve(root, "app:nogroup")
