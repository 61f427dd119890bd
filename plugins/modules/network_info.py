#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: network_info
short_description: Inspect a berth network
version_added: 0.1.0
description:
  - Tell whether a network exists and return its inspect document.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.info
options:
  name:
    description: Name or ID of the network.
    type: str
    aliases: [network_name]
    required: true
'''

EXAMPLES = r'''
- name: Which subnet does the web network use?
  berth.engine.network_info:
    name: web
  register: web_net
'''

RETURN = r'''
exists:
  description: Whether the network exists.
  returned: always
  type: bool
  sample: true
network:
  description: The network as C(berth network inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Name": "web", "Driver": "bridge", "IPAM": {"Config": [{"Subnet": "10.89.0.0/24"}]}}
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.options import argument_spec
from ..module_utils.berth_ansible.network import INFO_OPTIONS as OPTIONS
from ..module_utils.berth_ansible.network import network_info


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    module.exit_json(**engine.run(module, network_info, module))


if __name__ == "__main__":
    main()
