"""``berth build`` end to end: progress output, -q, -t, -f, a context on stdin, ONBUILD,
multi-stage down to a one-layer ``scratch`` image, ADD from a URL, and the seed example."""
from __future__ import annotations

import functools
import http.server
import io
import json
import socket
import tarfile
import threading
import time

import pytest
from build_helpers import BuildEnv, api_build


def test_progress_output_and_tags(bb: BuildEnv) -> None:
    ctx = bb.context("FROM busybox\nRUN echo step-output\nCMD [\"true\"]\n")
    out = bb.build(ctx, "-t", "multi:one", "-t", "multi:two").stdout.decode().splitlines()
    assert out[0] == "Step 1/3 : FROM busybox"
    assert out[1] == " ---> " + bb.busybox_id[7:19]
    assert out[2] == "Step 2/3 : RUN echo step-output"
    assert out[3].startswith(" ---> Running in ")
    assert "step-output" in out
    assert out[-3].startswith("Successfully built ")
    assert out[-2:] == ["Successfully tagged multi:one", "Successfully tagged multi:two"]
    assert bb.image("multi:one").id == bb.image("multi:two").id
    quiet = bb.build(ctx, "-q")
    assert quiet.stdout.decode().strip() == bb.image("multi:one").id and quiet.stderr == b""


def test_dockerfile_flag_and_stdin_contexts(bb: BuildEnv) -> None:
    ctx = bb.context("FROM busybox\nCOPY f /from-other\n", {"f": "other\n"}, name="Other.df")
    out = bb.berth("build", "-q", "--network", "none", "-f", str(ctx / "Other.df"), str(ctx))
    assert bb.read(out.stdout.decode().strip(), "/from-other") == "other\n"
    # a tarball on stdin, Dockerfile inside it (gzip, as `tar cz | docker build -` sends it)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY sub/f /tar-ctx\n"),
                           ("sub/f", b"from tar\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = bb.berth("build", "-q", "--network", "none", "-", input=raw.getvalue())
    assert bb.read(out.stdout.decode().strip(), "/tar-ctx") == "from tar\n"
    # a bare Dockerfile on stdin: no context
    out = bb.berth("build", "-q", "--network", "none", "-", input=b"FROM busybox\nLABEL s=1\n")
    assert bb.config(out.stdout.decode().strip())["Labels"] == {"s": "1"}
    assert not list((bb.root / "builds").iterdir())


def test_onbuild_triggers_run_in_the_child_only(bb: BuildEnv) -> None:
    api_build(bb, """
        FROM busybox
        ONBUILD ARG WHO=child
        ONBUILD COPY marker /marker
        ONBUILD RUN echo "trigger ran for $WHO" > /trigger
        """, tags=["onbuild-parent"])
    child, out = api_build(bb, "FROM onbuild-parent\nLABEL c=1\n", {"marker": "m\n"})
    assert "# Executing 3 build triggers" in out
    assert bb.read(child, "/marker") == "m\n"
    assert bb.read(child, "/trigger") == "trigger ran for child\n"
    assert "OnBuild" not in bb.config(child)  # not inherited by grandchildren
    grandchild, out = api_build(bb, f"FROM {child}\nLABEL g=1\n")
    assert "build trigger" not in out


def test_scratch_final_stage_with_one_static_binary(bb: BuildEnv) -> None:
    image_id, _output = api_build(bb, """
        FROM busybox AS tools
        RUN echo unused > /in-first-stage
        FROM scratch
        COPY --from=tools /bin/busybox /busybox
        ENTRYPOINT ["/busybox"]
        CMD ["echo", "static binary runs"]
        """)
    image = bb.image(image_id)
    assert len(image.layers) == 1
    assert bb.path(image_id, "/in-first-stage") is None
    assert bb.run_image(image_id) == "static binary runs\n"


def test_multi_stage_target_builds_only_needed_stages(bb: BuildEnv) -> None:
    dockerfile = """
        FROM busybox AS unused
        RUN exit 9
        FROM busybox AS deps
        RUN echo dep > /dep
        FROM busybox AS app
        COPY --from=deps /dep /dep
        FROM busybox AS never
        RUN exit 1
        """
    image_id, out = api_build(bb, dockerfile, target="app")
    assert bb.read(image_id, "/dep") == "dep\n"
    assert "exit 9" not in out and "exit 1" not in out


@pytest.fixture
def http_files(tmp_path):
    """A static file server on 127.0.0.1 (the only network traffic of these tests)."""
    (tmp_path / "payload.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_add_url_is_downloaded_not_extracted(bb: BuildEnv, http_files: str) -> None:
    image_id, _output = api_build(bb, f"FROM busybox\nADD {http_files}/payload.tar.gz /dl/\n")
    found = bb.path(image_id, "/dl/payload.tar.gz")
    assert found is not None and found.read_bytes() == b"\x1f\x8b not really gzip"
    assert oct(found.stat().st_mode & 0o777) == oct(0o600)
    ctx = bb.context(f"FROM busybox\nADD {http_files}/missing /x\n")
    proc = bb.build(ctx, check=False)
    assert proc.returncode == 1 and b"Dockerfile:2: ADD: failed to GET" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_seed_example_serves_its_page(bb: BuildEnv) -> None:
    ctx = bb.context("""
        FROM busybox
        RUN mkdir -p /www && echo '<h1>built by berth</h1>' > /www/index.html
        EXPOSE 80
        CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
        """)
    bb.berth("build", "-t", "seed-web", str(ctx))  # the default network for RUN
    doc = bb.inspect("seed-web")
    assert doc["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert doc["Config"]["Cmd"] == ["httpd", "-f", "-p", "80", "-h", "/www"]
    assert bb.run_image("seed-web", "cat", "/www/index.html") == "<h1>built by berth</h1>\n"
    port = _free_port()
    cid = bb.berth("run", "-d", "-p", f"127.0.0.1:{port}:80", "seed-web").stdout.decode().strip()
    try:
        import requests

        body = None
        deadline = time.monotonic() + 30  # a guard against hangs, not a timing assertion
        while time.monotonic() < deadline:
            try:
                body = requests.get(f"http://127.0.0.1:{port}/", timeout=2).text
                break
            except requests.RequestException:
                time.sleep(0.1)
        assert body == "<h1>built by berth</h1>\n"
    finally:
        bb.berth("rm", "-f", cid)
    inspect = json.loads(bb.berth("image", "inspect", "seed-web").stdout)[0]
    assert inspect["Id"] == bb.image("seed-web").id
