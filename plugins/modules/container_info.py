#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: container_info
short_description: Inspect a berth container
version_added: 0.1.0
description:
  - Tell whether a container exists and return its inspect document.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.info
options:
  name:
    description: Name or ID of the container.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Is the web container there?
  berth.engine.container_info:
    name: web
  register: web

- name: Show its address
  ansible.builtin.debug:
    msg: "{{ web.container.NetworkSettings.IPAddress }}"
  when: web.exists
'''

RETURN = r'''
exists:
  description: Whether the container exists.
  returned: always
  type: bool
  sample: true
container:
  description: The container as C(berth inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Id": "4b1c...", "Name": "/web", "State": {"Status": "running"}}
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.container import INFO_OPTIONS as OPTIONS
from ..module_utils.berth_ansible.container import container_info
from ..module_utils.berth_ansible.options import argument_spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    module.exit_json(**engine.run(module, container_info, module))


if __name__ == "__main__":
    main()
