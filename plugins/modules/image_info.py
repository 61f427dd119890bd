#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: image_info
short_description: Inspect berth images
version_added: 0.1.0
description:
  - Return the inspect documents of images in the berth engine's image store.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.info
options:
  name:
    description:
      - Image references or IDs to inspect; images that do not exist are left out.
      - When not given, every image is returned.
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: Inspect two images
  berth.engine.image_info:
    name:
      - busybox
      - registry.example.com:5000/app:1.2
  register: found

- name: Every image
  berth.engine.image_info:
  register: all_images
'''

RETURN = r'''
images:
  description: Inspect documents of the images found (those that do not exist are left out).
  returned: always
  type: list
  elements: dict
  sample: [{"Id": "sha256:5f3c...", "RepoTags": ["busybox:latest"]}]
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.image import INFO_OPTIONS as OPTIONS
from ..module_utils.berth_ansible.image import image_info
from ..module_utils.berth_ansible.options import argument_spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    module.exit_json(**engine.run(module, image_info, module))


if __name__ == "__main__":
    main()
