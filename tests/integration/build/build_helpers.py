"""Helpers of the build tests: a CLI runner bound to one store and readers of built images."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional


class BuildEnv:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.run = base / "run"
        self.config_dir = base / "config"
        for d in (self.root, self.run, self.config_dir):
            d.mkdir()
        self.busybox_id = ""
        self._count = 0

    def environ_overrides(self) -> dict[str, str]:
        return {"BERTH_ROOT": str(self.root), "BERTH_RUN": str(self.run),
                "BERTH_CONFIG": str(self.config_dir)}

    def berth(self, *args: str, input: Optional[bytes] = None, check: bool = True,
              cwd: Optional[str] = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, **self.environ_overrides())
        proc = subprocess.run([sys.executable, "-m", "berth.cli", *args], env=env, input=input,
                              capture_output=True, timeout=300, cwd=cwd, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} exited {proc.returncode}: "
                                 f"{proc.stderr.decode(errors='replace')}")
        return proc

    # -- contexts -----------------------------------------------------------------------------

    def context(self, dockerfile: str, files: Optional[dict] = None,
                name: str = "Dockerfile") -> Path:
        """A new context dir holding ``dockerfile`` (dedented) and ``files`` (path -> content)."""
        self._count += 1
        ctx = self.base / f"ctx{self._count}"
        ctx.mkdir()
        (ctx / name).write_text(textwrap.dedent(dockerfile).lstrip("\n"))
        for path, content in (files or {}).items():
            target = ctx / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                target.symlink_to("x")  # a relative symlink (to a sibling named x)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        return ctx

    def build(self, ctx: Path, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.berth("build", "--network", "none", *flags, str(ctx), check=check)

    def build_id(self, dockerfile: str, files: Optional[dict] = None, *flags: str) -> str:
        """Build quietly; the image ID."""
        ctx = self.context(dockerfile, files)
        out = self.build(ctx, "-q", *flags).stdout.decode().strip()
        assert out.startswith("sha256:"), out
        return out

    # -- reading images -----------------------------------------------------------------------

    def images(self) -> Any:
        from berth.image import ImageStore
        from berth.store import Store

        return ImageStore(Store(str(self.root), str(self.run)))

    def image(self, ref: str) -> Any:
        return self.images().resolve(ref)

    def image_ids(self) -> list[str]:
        return sorted(i.id for i in self.images().all())

    def container_ids(self) -> list[str]:
        folder = self.root / "containers"
        return sorted(os.listdir(folder)) if folder.exists() else []

    def config(self, ref: str) -> dict:
        return self.image(ref).config.get("config") or {}

    def inspect(self, ref: str) -> dict:
        return json.loads(self.berth("inspect", ref).stdout)[0]

    def path(self, ref: str, path: str) -> Optional[Path]:
        """Where ``path`` of the image's merged filesystem lives (topmost layer wins)."""
        store = self.images()
        image = store.resolve(ref)
        parts = [p for p in path.split("/") if p]
        for lower in store.lowerdirs(image):
            current = Path(lower)
            hidden = False
            for i, part in enumerate(parts):
                candidate = current / part
                if candidate.is_symlink() and i < len(parts) - 1:
                    return None  # tests do not read through symlinks
                if os.path.lexists(candidate):
                    st = os.lstat(candidate)
                    if st.st_rdev == 0 and (st.st_mode & 0o170000) == 0o020000:
                        hidden = True  # whiteout
                        break
                    current = candidate
                else:
                    current = None
                    break
            if hidden:
                return None
            if current is not None:
                return current
        return None

    def read(self, ref: str, path: str) -> str:
        found = self.path(ref, path)
        assert found is not None, f"{path} not in {ref}"
        return found.read_text()

    def stat(self, ref: str, path: str) -> os.stat_result:
        found = self.path(ref, path)
        assert found is not None, f"{path} not in {ref}"
        return os.lstat(found)

    def run_image(self, image: str, *cmd: str) -> str:
        return self.berth("run", "--rm", "--network", "none", image, *cmd).stdout.decode()


def api_build(env: BuildEnv, dockerfile: str, files: Optional[dict] = None,
              dockerfile_name: str = "Dockerfile", **options: Any) -> tuple:
    """Build in this process (no CLI start-up cost); (image ID, build output)."""
    import io

    from berth.build import BuildContext, BuildOptions, Builder

    ctx = env.context(dockerfile, files, name=dockerfile_name)
    options.setdefault("network", "none")
    out = io.StringIO()
    context = BuildContext.from_directory(str(ctx), str(ctx / dockerfile_name))
    try:
        result = Builder(env.images(), BuildOptions(**options), out=out).build(context)
    finally:
        context.close()
    return result.image_id, out.getvalue()
