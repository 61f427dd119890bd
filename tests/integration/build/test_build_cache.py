"""The build cache: unchanged context -> every step cached and the same image; a changed file
invalidates from its COPY on; mtimes do not count, modes do; layers are reproducible."""
from __future__ import annotations

import os
import re

from build_helpers import BuildEnv, api_build
from testlib import python_output

DOCKERFILE = """
FROM busybox
ENV APP=/app
WORKDIR $APP
COPY conf.txt ./
RUN echo "built from $(cat conf.txt)" > result
COPY data/ ./data/
CMD ["cat", "/app/result"]
"""
FILES = {"conf.txt": "v1\n", "data/one": "1\n", "data/two": "2\n"}


def steps(output: str) -> list:
    """Per step: True when it came from the cache."""
    chunks = re.split(r"^Step \d+/\d+ : ", output, flags=re.M)[1:]
    return ["---> Using cache" in c for c in chunks]


def test_unchanged_context_is_fully_cached_with_the_same_id(bb: BuildEnv) -> None:
    ctx = bb.context(DOCKERFILE, FILES)
    first = bb.build(ctx, "-t", "cached:1").stdout.decode()
    assert not any(steps(first))
    second = bb.build(ctx, "-t", "cached:1").stdout.decode()
    assert steps(second) == [False] + [True] * 6  # FROM is never a cache step
    first_id = re.findall(r"Successfully built (\w+)", first)
    assert first_id and first_id == re.findall(r"Successfully built (\w+)", second)
    quiet = bb.build(ctx, "-q").stdout.decode().strip()
    assert quiet == bb.image("cached:1").id
    assert bb.run_image("cached:1") == "built from v1\n"


def test_changed_file_rebuilds_from_its_copy_on(bb: BuildEnv) -> None:
    ctx = bb.context(DOCKERFILE, FILES)
    bb.build(ctx)
    (ctx / "conf.txt").write_text("v2\n")
    out = bb.build(ctx, "-t", "changed").stdout.decode()
    assert steps(out) == [False, True, True, False, False, False, False]
    assert bb.read("changed", "/app/result") == "built from v2\n"
    (ctx / "data" / "two").write_text("changed\n")
    out = bb.build(ctx).stdout.decode()
    assert steps(out) == [False, True, True, True, True, False, False]


def test_mtime_does_not_count_but_mode_and_content_do(bb: BuildEnv) -> None:
    dockerfile = "FROM busybox\nCOPY data /data\nLABEL after=copy\n"
    first, _output = api_build(bb, dockerfile, FILES)
    ctx = bb.base / f"ctx{bb._count}"
    os.utime(ctx / "data" / "one", (1, 1))
    again = bb.build(ctx, "-q").stdout.decode().strip()
    assert again == first
    os.chmod(ctx / "data" / "one", 0o600)
    assert bb.build(ctx, "-q").stdout.decode().strip() != first


def test_no_cache_gives_reproducible_layers(bb: BuildEnv) -> None:
    dockerfile = "FROM busybox\nCOPY . /src/\nWORKDIR /new/dir\nCOPY data/one /new/\n"
    first, _output = api_build(bb, dockerfile, FILES)
    ctx = bb.base / f"ctx{bb._count}"
    for path in ctx.rglob("*"):
        os.utime(path, (12345, 12345))
    second = bb.build(ctx, "--no-cache", "-q").stdout.decode().strip()
    assert second != first  # new images (new timestamps) ...
    a, b = bb.image(first), bb.image(second)
    assert a.diff_ids == b.diff_ids  # ... with byte-identical layers
    assert [l.blob_digest for l in a.layers] == [l.blob_digest for l in b.layers]
    out = bb.build(ctx, "--no-cache").stdout.decode()
    assert "Using cache" not in out


def test_build_args_are_part_of_the_run_key(bb: BuildEnv) -> None:
    dockerfile = "FROM busybox\nARG V=1\nRUN echo $V > /v\n"
    ctx = bb.context(dockerfile)
    one = bb.build(ctx, "-q").stdout.decode().strip()
    two = bb.build(ctx, "-q", "--build-arg", "V=2").stdout.decode().strip()
    assert one != two
    assert bb.read(two, "/v") == "2\n"
    assert bb.build(ctx, "-q", "--build-arg", "V=2").stdout.decode().strip() == two
    # a build arg no ARG consumes is only warned about, and changes nothing
    out = bb.build(ctx, "--build-arg", "UNUSED=x").stdout.decode()
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in out
    assert bb.build(ctx, "-q", "--build-arg", "UNUSED=x").stdout.decode().strip() == one


def test_parent_chain_protects_the_base(bb: BuildEnv) -> None:
    image_id, _output = api_build(bb, "FROM busybox\nLABEL child=1\nRUN touch /x\n")
    chain = []
    current = bb.image(image_id)
    while current.parent:
        chain.append(current.parent)
        current = bb.image(current.parent)
    assert chain[-1] == bb.busybox_id and len(chain) == 2
    proc = bb.berth("rmi", bb.busybox_id, check=False)
    assert proc.returncode != 0 and b"dependent child images" in proc.stderr
    # rmi of the built image takes its untagged intermediate parents along; the cache forgets
    bb.berth("rmi", image_id)
    assert bb.busybox_id in bb.image_ids()
    assert not set(chain[:-1]) & set(bb.image_ids())
    again, out = api_build(bb, "FROM busybox\nLABEL child=1\nRUN touch /x\n")
    assert "Using cache" not in out


# What only a step that misses the cache needs: with these unimportable a fully cached build
# must still succeed (the bench's cached build row times exactly this command).
MISS_ONLY_MODULES = (
    "berth.runtime", "berth.container", "berth.network", "berth.shim", "berth.volume",
    "berth.registry", "berth.build.run", "berth.build.commit", "berth.build.copy",
    "berth.build.download", "berth.image.layers", "berth.image.compression",
    "berth.image.removal", "berth.image.importer", "berth.image.load", "berth.image.save",
    "tarfile", "gzip", "dataclasses", "platform",
)


def test_a_cached_build_imports_nothing_a_cache_miss_needs(bb: BuildEnv) -> None:
    dockerfile = """
        FROM busybox
        RUN echo hello > /hello
        COPY data.txt /data.txt
        RUN cat /hello /data.txt > /combined && wc -c /combined
        """
    ctx = bb.context(dockerfile, {"data.txt": "some data\n" * 100})
    first = bb.build(ctx, "-t", "lean").stdout.decode()
    out = python_output(f"""
        import os
        os.environ.update({bb.environ_overrides()!r})
        from berth.cli.main import main
        code = main(["build", "--network", "none", "-t", "lean", {str(ctx)!r}])
        print("exit", code)
    """, unimportable=MISS_ONLY_MODULES)
    assert steps(out) == [False, True, True, True]
    assert out.endswith("exit 0\n")
    assert re.findall(r"Successfully built (\w+)", out) == \
        re.findall(r"Successfully built (\w+)", first)
    # the cache still misses where the context changed, and then the miss path imports what
    # it needs
    (ctx / "data.txt").write_text("other data\n")
    assert steps(bb.build(ctx, "-t", "lean").stdout.decode()) == [False, True, False, False]
