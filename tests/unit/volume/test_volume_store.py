"""VolumeStore: create/lookup, labels and options, users, in-use refusal, filters and prune."""
from __future__ import annotations

import os

import pytest

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.store import Store
from berth.volume import ANONYMOUS_LABEL, LIST_FILTERS, PRUNE_FILTERS, VolumeStore, parse_filters


@pytest.fixture
def vols(tmp_path) -> VolumeStore:
    store = Store(str(tmp_path / "root"), str(tmp_path / "run"))
    yield VolumeStore(store)
    store.close()


def test_create_lays_out_data_dir_and_is_idempotent(vols: VolumeStore) -> None:
    v = vols.create("data", labels={"app": "web"})
    assert v.mountpoint == os.path.join(vols.store.root, "volumes", "data", "_data")
    assert os.path.isdir(v.mountpoint) and not os.listdir(v.mountpoint)
    doc = v.inspect()
    assert doc["Name"] == "data" and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"app": "web"} and doc["Options"] == {}
    assert doc["CreatedAt"].endswith("Z")
    with open(os.path.join(v.mountpoint, "keep"), "w") as f:
        f.write("x")
    again = vols.create("data", labels={"other": "1"})  # Docker returns the existing volume
    assert again.labels == {"app": "web"} and os.path.exists(os.path.join(v.mountpoint, "keep"))
    assert vols.get("data").created == v.created


def test_anonymous_volumes_get_a_random_name_and_docker_label(vols: VolumeStore) -> None:
    a, b = vols.create(anonymous=True), vols.create()
    assert a.name != b.name and len(a.name) == 64 and a.anonymous and b.anonymous
    assert a.labels == {ANONYMOUS_LABEL: ""}
    assert not vols.create("named").anonymous


def test_bad_input_leaves_nothing(vols: VolumeStore) -> None:
    for kwargs in ({"name": "x"}, {"name": "a/b"}, {"name": "ok1", "options": {"bogus": "1"}},
                   {"name": "ok2", "options": {"type": "tmpfs"}}):
        with pytest.raises(InvalidArgument):
            vols.create(**kwargs)
    with pytest.raises(NotFound, match="plugin"):
        vols.create("ok3", driver="nfs")
    assert vols.all() == []
    assert not os.path.exists(vols.root) or os.listdir(vols.root) == []


def test_in_use_volume_cannot_be_removed(vols: VolumeStore) -> None:
    vols.create("data")
    vols.add_user("data", "container:" + "a" * 64)
    with pytest.raises(Conflict, match=r"remove data: volume is in use - \[a{64}\]"):
        vols.remove("data")
    assert os.path.isdir(vols.path("data"))
    vols.remove_user("data", "container:" + "a" * 64)
    vols.remove("data")
    assert vols.find("data") is None and not os.path.exists(os.path.dirname(vols.path("data")))
    with pytest.raises(NotFound):
        vols.remove("data")
    vols.remove("data", force=True)  # -f: a missing volume is not an error
    with pytest.raises(NotFound):
        vols.add_user("data", "container:b")  # no user rows for a volume that does not exist


def test_list_filters(vols: VolumeStore) -> None:
    vols.create("web-data", labels={"app": "web", "tier": "front"})
    vols.create("db-data", labels={"app": "db"})
    anon = vols.create(anonymous=True)
    vols.add_user("db-data", "container:c1")

    def names(*items: str) -> list[str]:
        return [v.name for v in vols.list(parse_filters(items, LIST_FILTERS))]

    assert names() == sorted(["web-data", "db-data", anon.name])
    assert names("dangling=true") == sorted(["web-data", anon.name])
    assert names("dangling=false") == ["db-data"]
    assert names("name=web") == ["web-data"]
    assert names("label=app") == ["db-data", "web-data"]
    assert names("label=app=web", "label=tier=front") == ["web-data"]
    assert names("label=app=web", "label=tier=back") == []
    assert names("driver=local", "name=data") == ["db-data", "web-data"]
    for bad in ("colour=red", "dangling=maybe", "name"):
        with pytest.raises(InvalidArgument):
            parse_filters([bad], LIST_FILTERS)


def test_prune_removes_unused_anonymous_by_default_and_named_with_all(vols: VolumeStore) -> None:
    used_anon = vols.create(anonymous=True)
    unused_anon = vols.create(anonymous=True, labels={"keep": "yes"})
    other_anon = vols.create(anonymous=True)
    vols.create("named-unused")
    vols.create("named-used")
    for name in (used_anon.name, "named-used"):
        vols.add_user(name, "container:c1")
    with open(os.path.join(vols.path(other_anon.name), "blob"), "wb") as f:
        f.write(b"x" * 5000)
    removed, reclaimed = vols.prune(parse_filters(["label!=keep"], PRUNE_FILTERS))
    assert removed == [other_anon.name] and reclaimed == 5000
    removed = vols.prune()[0]
    assert removed == [unused_anon.name]
    removed = vols.prune(parse_filters(["all=true"], PRUNE_FILTERS))[0]
    assert removed == ["named-unused"]
    assert sorted(v.name for v in vols.all()) == sorted([used_anon.name, "named-used"])


def test_unmount_of_a_plain_volume_is_a_no_op(vols: VolumeStore) -> None:
    vols.create("plain")
    assert vols.mount("plain", "container:c1") == vols.path("plain")
    vols.unmount("plain", "container:c1")
    vols.unmount("gone", "container:c1")
    vols.remove("plain")
