"""berth.engine.image: options and logic (the module file only wires them to AnsibleModule).

An image is present when its reference resolves locally; ``force_source`` fetches it again and the
result is a change only when the reference then names another image ID. ``repository`` adds a
tag, ``push`` sends the image to its registry unless the registry already holds this image's
manifest under that tag.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from . import engine
from .options import BadOption, Option

SOURCES = ("pull", "build", "load", "import", "local")

BUILD_OPTIONS = (
    Option("path", "path", "The build context directory.", required=True),
    Option("dockerfile", "str", "The Dockerfile, relative to O(build.path); "
           "C(Dockerfile) by default."),
    Option("args", "dict", "Build arguments (C(ARG) values)."),
    Option("target", "str", "The stage to build in a multi-stage Dockerfile."),
    Option("nocache", "bool", "Do not use the build cache.", default=False),
    Option("pull", "bool", "Pull a newer version of each base image.", default=False),
    Option("network", "str", "Network of the C(RUN) steps: V(default), V(none), V(host) "
           "or a network name.", default="default"),
)

OPTIONS = (
    Option("name", "str", ("Image reference C(repository[:tag]) or C(repository@digest); an image ID "
                           "for O(state=absent).", "Without a tag, C(latest) is meant."),
           required=True),
    Option("state", "str", ("V(present) makes sure the image exists, fetching it from O(source).",
                            "V(tagged) makes sure the local image O(name) is also tagged "
                            "O(repository) (it is never fetched).",
                            "V(absent) removes the reference (the image when no other tag names it)."),
           choices=("present", "tagged", "absent"), default="present"),
    Option("source", "str", ("Where a missing image comes from (or any image with O(force_source)).",
                             "V(pull) from its registry, V(build) from a Dockerfile (O(build)), "
                             "V(load) from the archive O(load_path) "
                             "(docker-archive or OCI layout), V(import) from the root filesystem "
                             "tarball O(import_path), V(local) only checks that it exists."),
           choices=SOURCES, default="pull"),
    Option("build", "dict", ("How to build the image for O(source=build).",
                             "With O(force_source), a build whose result has the same image ID (all "
                             "steps cached) is not a change; check mode cannot know and predicts one."),
           suboptions=BUILD_OPTIONS),
    Option("load_path", "path", "Image archive (docker save or OCI layout) for O(source=load)."),
    Option("import_path", "path", "Root filesystem tarball for O(source=import); may be compressed."),
    Option("force_source", "bool", ("Fetch the image from O(source) even when it exists.",
                                    "Reported as changed only when O(name) then names another image."),
           default=False),
    Option("force_absent", "bool", "With O(state=absent), remove an image that other tags still name.",
           default=False),
    Option("platform", "str", "Platform C(os/arch[/variant]) to pull; the host's by default."),
    Option("repository", "str", ("Also tag the image with this reference (C(repository[:tag])).",
                                 "Without a tag, the tag of O(name) is used.")),
    Option("push", "bool", ("Push the image to its registry (O(repository) when given, else O(name)).",
                            "Not a change when the registry already holds this image under that tag."),
           default=False),
)


def _strings(value: Dict[str, Any]) -> Dict[str, str]:
    return {str(k): str(v) for k, v in value.items()}


def _ref(text: str) -> Any:
    try:
        return engine.load("image").parse_reference(text)
    except engine.errors().InvalidArgument as exc:
        raise BadOption(f"invalid image reference {text!r}: {exc}") from None


def registry_serves(image: Any, name: str) -> bool:
    """Does the registry of ``name`` serve ``image`` (same manifest digest) under that name?"""
    ref = _ref(name)
    registry = engine.load("registry")
    with registry.Registry(ref.domain) as reg:
        desc = reg.head_manifest(ref.path, ref.digest or ref.tag or "latest")
    return desc is not None and f"{ref.repository}@{desc.digest}" in image.repo_digests


class ImageManager:
    def __init__(self, module: Any) -> None:
        self.module = module
        self.p = module.params
        self.check = module.check_mode
        self.img = engine.load("image")
        self.images = self.img.ImageStore()
        self.changed = False
        self.actions: List[str] = []
        self.build_output: List[str] = []

    # -- lookup ---------------------------------------------------------------------------------

    def find(self, text: str) -> Optional[Any]:
        try:
            return self.images.resolve(text)
        except engine.errors().NotFound:
            return None

    def describe(self, image: Optional[Any]) -> Dict[str, Any]:
        return self.img.inspect(self.images, image) if image is not None else {}

    # -- states -----------------------------------------------------------------------------------

    def present(self, name: str) -> Optional[Any]:
        image = self.find(name)
        if image is None or self.p["force_source"]:
            image = self.fetch(name, image)
        return image

    def fetch(self, name: str, before: Optional[Any]) -> Optional[Any]:
        source = self.p["source"]
        if source == "local":
            if before is None:
                raise BadOption(f"image {name} does not exist locally (source=local)")
            return before
        path = self.p["load_path"] if source == "load" else self.p["import_path"]
        if source in ("load", "import"):
            key = "load_path" if source == "load" else "import_path"
            if not path:
                raise BadOption(f"source={source} needs {key}")
            if not os.path.exists(path):
                raise BadOption(f"{key} {path} does not exist")
        if source == "build" and not self.p["build"]:
            raise BadOption("source=build needs build.path")
        if self.check:
            if before is None or source in ("import", "build") or \
                    not self._pull_up_to_date(name, before):
                self._change(f"{source} {name}")
            return before
        if source == "build":
            image = self.build(name)
        elif source == "pull":
            from_registry = engine.load("registry")
            image = from_registry.pull(self.images, name, platform=self.p["platform"])
        elif source == "load":
            self.img.load(self.images, path)
            image = self.find(name)
            if image is None:
                raise BadOption(f"the archive {path} holds no image named {name}")
        else:
            with open(path, "rb") as f:
                image = self.img.import_rootfs(self.images, f, tags=[name], origin=path)
        if before is None or image.id != before.id:
            self._change(f"{source} {name}")
        return image

    def build(self, name: str) -> Any:
        import io

        opts = self.p["build"]
        builder = engine.load("build")
        dockerfile = opts["dockerfile"]
        if dockerfile and not os.path.isabs(dockerfile):
            dockerfile = os.path.join(opts["path"], dockerfile)
        context = builder.BuildContext.from_directory(opts["path"], dockerfile)
        out = io.StringIO()
        options = builder.BuildOptions(tags=[name], build_args=_strings(opts["args"] or {}),
                                       no_cache=opts["nocache"], pull=opts["pull"],
                                       target=opts["target"], network=opts["network"])
        try:
            result = builder.Builder(self.images, options, out=out).build(context)
        finally:
            context.close()
        self.build_output = out.getvalue().splitlines()
        return self.images.get(result.image_id)

    def _pull_up_to_date(self, name: str, before: Any) -> bool:
        """Check mode with force_source: does the registry still serve the image we have?"""
        return self.p["source"] == "pull" and registry_serves(before, name)

    def tag(self, image: Optional[Any], name: str, repository: str) -> str:
        target = _ref(repository)
        if not target.tag and not target.digest:
            target = target.with_tag(_ref(name).tag or "latest")
        if target.digest:
            raise BadOption(f"repository {repository} must not name a digest")
        current = self.find(str(target))
        if image is None or current is None or current.id != image.id:
            self._change(f"tag {target.familiar}")
            if not self.check and image is not None:
                self.images.tag(image.id, str(target))
        return str(target)

    def push(self, image: Optional[Any], name: str) -> None:
        ref = _ref(name)
        if ref.digest:
            raise BadOption(f"cannot push a digest reference: {name}")
        registry = engine.load("registry")
        if image is not None:
            with registry.Registry(ref.domain) as reg:
                desc = reg.origin().head_manifest(ref.path, ref.tag or "latest")
            if desc is not None and f"{ref.repository}@{desc.digest}" in image.repo_digests:
                return
        self._change(f"push {ref.familiar}")
        if not self.check:
            registry.push(self.images, str(ref))

    def absent(self, name: str) -> None:
        image = self.find(name)
        if image is None:
            return
        self._change(f"remove {name}")
        if not self.check:
            self.img.remove(self.images, name, force=self.p["force_absent"])

    def _change(self, action: str) -> None:
        self.changed = True
        self.actions.append(action)

    # -- entry point ------------------------------------------------------------------------------

    def run(self) -> Dict[str, Any]:
        name = self.p["name"]
        state = self.p["state"]
        if state != "absent":
            name = str(_ref(name))
        before = self.find(name)
        if state == "absent":
            self.absent(name)
            after = None if self.changed else before
        else:
            if state == "tagged":
                if not self.p["repository"]:
                    raise BadOption("state=tagged needs repository")
                if before is None:
                    raise BadOption(f"image {name} does not exist locally")
                image = before
            else:
                image = self.present(name)
            target = name
            if self.p["repository"]:
                target = self.tag(image, name, self.p["repository"])
            if self.p["push"]:
                self.push(image, target)
            after = self.find(name) if not self.check else image
        result: Dict[str, Any] = {"changed": self.changed, "actions": self.actions,
                                  "image": self.describe(after)}
        if self.build_output:
            result["build_output"] = self.build_output
        if self.module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": _summary(before), "after": _summary(after, self.actions)}
        return result


def _summary(image: Optional[Any], actions: Optional[List[str]] = None) -> Dict[str, Any]:
    if image is None:
        return {"exists": False}
    out: Dict[str, Any] = {"exists": True, "id": image.id, "tags": image.familiar_tags}
    if actions:
        out["actions"] = list(actions)
    return out


INFO_OPTIONS = (
    Option("name", "list", ("Image references or IDs to inspect; images that do not exist are left "
                            "out.", "When not given, every image is returned."), elements="str"),
)


def image_info(module: Any) -> Dict[str, Any]:
    img = engine.load("image")
    images = img.ImageStore()
    names = module.params["name"]
    found = []
    if names is None:
        found = images.all()
    else:
        for name in names:
            try:
                found.append(images.resolve(name))
            except engine.errors().NotFound:
                continue
    return {"changed": False, "images": [img.inspect(images, i) for i in found]}
