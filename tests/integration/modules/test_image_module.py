"""berth.engine.image and image_info through ansible-playbook: import, idempotency, check mode,
diff, tagging, push/pull through a real registry, removal, and clean failures."""
from __future__ import annotations

from typing import Any


def image_task(task: str, **params: Any) -> dict[str, Any]:
    return {"name": task, "berth.engine.image": params}


def test_import_is_idempotent_with_check_and_diff(play, busybox_rootfs_tar) -> None:
    task = [image_task("import", name="busybox:1", source="import", import_path=busybox_rootfs_tar)]
    predicted = play(task, check=True, diff=True)
    assert predicted["import"]["changed"] is True
    assert predicted["import"]["diff"]["before"] == {"exists": False}
    assert predicted["import"]["image"] == {}
    assert play([{"name": "info", "berth.engine.image_info": {"name": ["busybox:1"]}}])["info"][
        "images"] == [], "check mode must not import"

    first = play(task, diff=True)
    image = first["import"]["image"]
    assert first["import"]["changed"] is True
    assert image["Id"].startswith("sha256:") and image["RepoTags"] == ["busybox:1"]
    assert first["import"]["diff"]["after"]["id"] == image["Id"]

    again = play(task, check=True)
    assert again["import"]["changed"] is False
    second = play(task)
    assert second["import"]["changed"] is False
    assert second["import"]["image"]["Id"] == image["Id"]

    info = play([{"name": "info", "berth.engine.image_info": {"name": ["busybox:1", "nothere"]}}])
    assert [i["Id"] for i in info["info"]["images"]] == [image["Id"]]


def test_tag_and_remove(play, busybox_rootfs_tar) -> None:
    play([image_task("import", name="busybox", source="import", import_path=busybox_rootfs_tar)])
    tag = [image_task("tag", name="busybox", state="tagged", repository="example.com/tools/bb:v1")]
    assert play(tag, check=True)["tag"]["changed"] is True
    first = play(tag, diff=True)
    assert first["tag"]["changed"] is True
    assert sorted(first["tag"]["image"]["RepoTags"]) == ["busybox:latest", "example.com/tools/bb:v1"]
    assert play(tag)["tag"]["changed"] is False

    remove = [image_task("rm", name="example.com/tools/bb:v1", state="absent")]
    assert play(remove, check=True)["rm"]["changed"] is True
    assert play(remove)["rm"]["changed"] is True
    assert play(remove)["rm"]["changed"] is False
    left = play([{"name": "info", "berth.engine.image_info": {}}])["info"]["images"]
    assert [i["RepoTags"] for i in left] == [["busybox:latest"]], "the other tag keeps the image"


def test_push_then_pull_through_a_registry(play, busybox_rootfs_tar, registry) -> None:
    remote = f"{registry.host}/tools/busybox:1"
    login = {"name": "login", "berth.engine.registry": {
        "registry_url": registry.host, "username": registry.user, "password": registry.password}}
    play([login,
          image_task("import", name="busybox", source="import", import_path=busybox_rootfs_tar)])
    push = [image_task("push", name="busybox", repository=remote, push=True)]
    assert play(push, check=True)["push"]["changed"] is True
    first = play(push)
    assert first["push"]["changed"] is True
    assert any(d.startswith(f"{registry.host}/tools/busybox@sha256:")
               for d in first["push"]["image"]["RepoDigests"])
    assert play(push, check=True)["push"]["changed"] is False
    assert play(push)["push"]["changed"] is False

    pushed_id = first["push"]["image"]["Id"]
    play([image_task("rm", name=remote, state="absent"),
          image_task("rm2", name="busybox", state="absent")])
    pull = [image_task("pull", name=remote)]
    assert play(pull, check=True)["pull"]["changed"] is True
    pulled = play(pull)
    assert pulled["pull"]["changed"] is True and pulled["pull"]["image"]["Id"] == pushed_id
    forced = [image_task("pull", name=remote, force_source=True)]
    assert play(forced, check=True)["pull"]["changed"] is False, "registry serves the same image"
    assert play(forced)["pull"]["changed"] is False


def test_bad_input_fails_cleanly(play, tmp_path) -> None:
    run = play([image_task("missing archive", name="x", source="load",
                           load_path=str(tmp_path / "nope.tar"))], expect_failure=True)
    assert run.failed("missing archive")
    assert "does not exist" in run["missing archive"]["msg"]
    run = play([image_task("bad ref", name="UPPER/Case::x")], expect_failure=True)
    assert "invalid image reference" in run["bad ref"]["msg"]
    run = play([image_task("local", name="nothere", source="local")], expect_failure=True)
    assert run["local"]["msg"] == ("image docker.io/library/nothere:latest does not exist locally "
                                   "(source=local)")
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(b"not a tar at all")
    run = play([image_task("bogus", name="x", source="load", load_path=str(bogus))],
               expect_failure=True)
    assert "invalid image archive" in run["bogus"]["msg"] or "not an image archive" in run["bogus"]["msg"]
    info = play([{"name": "info", "berth.engine.image_info": {}}])
    assert info["info"]["images"] == [], "failures leave nothing behind"


def test_build_is_a_change_only_when_the_image_id_changes(play, busybox_rootfs_tar, tmp_path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text('FROM busybox\nARG WHO=world\n'
                                        'RUN echo "hello $WHO" > /greeting\n'
                                        'CMD ["cat", "/greeting"]\n')
    play([image_task("base", name="busybox", source="import", import_path=busybox_rootfs_tar)])
    build = [image_task("build", name="hello:1", source="build", force_source=True,
                        build={"path": str(context), "args": {"WHO": "berth"}, "network": "none"})]
    first = play(build)["build"]
    assert first["changed"] is True
    assert first["image"]["Config"]["Cmd"] == ["cat", "/greeting"]
    again = play(build)["build"]
    assert again["changed"] is False, "every step cached: same image ID"
    assert again["image"]["Id"] == first["image"]["Id"]
    assert any("Using cache" in line for line in again["build_output"])
    other = [image_task("build", name="hello:1", source="build", force_source=True,
                        build={"path": str(context), "args": {"WHO": "you"}, "network": "none"})]
    rebuilt = play(other)["build"]
    assert rebuilt["changed"] is True and rebuilt["image"]["Id"] != first["image"]["Id"]
    plain = [image_task("build", name="hello:1", source="build",
                        build={"path": str(context), "network": "none"})]
    assert play(plain, check=True)["build"]["changed"] is False, "exists, no force_source"

    (context / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    broken = play([image_task("broken", name="broken:1", source="build",
                              build={"path": str(context), "network": "none"})], expect_failure=True)
    assert "\n" not in broken["broken"]["msg"] and broken["broken"]["msg"]
    info = play([{"name": "info", "berth.engine.image_info": {"name": ["broken:1"]}}])
    assert info["info"]["images"] == []
