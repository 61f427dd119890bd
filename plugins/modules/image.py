#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: image
short_description: Manage berth images
version_added: 0.1.0
description:
  - Pull, build, load or import an image into the berth engine's image store, tag it, push it, or remove it.
  - Idempotent by image ID. An image fetched again (O(force_source)) is a change only when its
    reference then names another image.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.actions
options:
  name:
    description:
      - Image reference C(repository[:tag]) or C(repository@digest); an image ID for
        O(state=absent).
      - Without a tag, C(latest) is meant.
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the image exists, fetching it from O(source).
      - V(tagged) makes sure the local image O(name) is also tagged O(repository) (it is never
        fetched).
      - V(absent) removes the reference (the image when no other tag names it).
    type: str
    choices: [present, tagged, absent]
    default: present
  source:
    description:
      - Where a missing image comes from (or any image with O(force_source)).
      - V(pull) from its registry, V(build) from a Dockerfile (O(build)), V(load) from the archive
        O(load_path) (docker-archive or OCI layout), V(import) from the root filesystem tarball
        O(import_path), V(local) only checks that it exists.
    type: str
    choices: [pull, build, load, import, local]
    default: pull
  build:
    description:
      - How to build the image for O(source=build).
      - With O(force_source), a build whose result has the same image ID (all steps cached) is not a
        change; check mode cannot know and predicts one.
    type: dict
    suboptions:
      path:
        description: The build context directory.
        type: path
        required: true
      dockerfile:
        description: The Dockerfile, relative to O(build.path); C(Dockerfile) by default.
        type: str
      args:
        description: Build arguments (C(ARG) values).
        type: dict
      target:
        description: The stage to build in a multi-stage Dockerfile.
        type: str
      nocache:
        description: Do not use the build cache.
        type: bool
        default: false
      pull:
        description: Pull a newer version of each base image.
        type: bool
        default: false
      network:
        description: 'Network of the C(RUN) steps: V(default), V(none), V(host) or a network name.'
        type: str
        default: default
  load_path:
    description: Image archive (docker save or OCI layout) for O(source=load).
    type: path
  import_path:
    description: Root filesystem tarball for O(source=import); may be compressed.
    type: path
  force_source:
    description:
      - Fetch the image from O(source) even when it exists.
      - Reported as changed only when O(name) then names another image.
    type: bool
    default: false
  force_absent:
    description: With O(state=absent), remove an image that other tags still name.
    type: bool
    default: false
  platform:
    description: Platform C(os/arch[/variant]) to pull; the host's by default.
    type: str
  repository:
    description:
      - Also tag the image with this reference (C(repository[:tag])).
      - Without a tag, the tag of O(name) is used.
    type: str
  push:
    description:
      - Push the image to its registry (O(repository) when given, else O(name)).
      - Not a change when the registry already holds this image under that tag.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Pull busybox from a private registry
  berth.engine.image:
    name: registry.example.com:5000/busybox:1.36

- name: Import a root filesystem as an image
  berth.engine.image:
    name: base:bookworm
    source: import
    import_path: /srv/images/bookworm-rootfs.tar.gz

- name: Build the web image from its Dockerfile (not a change while every step is cached)
  berth.engine.image:
    name: web:1
    source: build
    force_source: true
    build:
      path: /srv/web
      args:
        VERSION: "1.4"

- name: Tag it for the registry and push it
  berth.engine.image:
    name: base:bookworm
    repository: registry.example.com:5000/base
    push: true

- name: Remove an image
  berth.engine.image:
    name: base:bookworm
    state: absent
'''

RETURN = r'''
image:
  description: The image as C(berth image inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Id": "sha256:5f3c...", "RepoTags": ["busybox:latest"], "Config": {"Cmd": ["sh"]}}
build_output:
  description: The builder's output lines.
  returned: when the image was built
  type: list
  elements: str
  sample: ["Step 1/2 : FROM busybox", " ---> Using cache"]
actions:
  description: What the module did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: ["pull docker.io/library/busybox:latest"]
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.image import OPTIONS, ImageManager
from ..module_utils.berth_ansible.options import argument_spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True,
                           required_if=[("source", "load", ("load_path",)),
                                        ("source", "import", ("import_path",)),
                                        ("source", "build", ("build",)),
                                        ("state", "tagged", ("repository",))])
    result = engine.run(module, lambda: ImageManager(module).run())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
