#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: network
short_description: Manage berth networks
version_added: 0.1.0
description:
  - Create, replace or remove a bridge network of the berth engine.
  - A network whose options differ from the task is replaced; the engine refuses that (and removal)
    while containers are connected to it.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.actions
options:
  name:
    description: Name of the network.
    type: str
    aliases: [network_name]
    required: true
  state:
    description: V(present) creates the network, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description: Network driver; only V(bridge) is available.
    type: str
    default: bridge
  subnet:
    description: Subnet in CIDR notation; one of the default pools when not given.
    type: str
  gateway:
    description: Gateway address (the bridge's); the subnet's first address by default.
    type: str
  ip_range:
    description: Part of the subnet containers get addresses from.
    type: str
  internal:
    description: Keep the network away from the outside (no NAT, no forwarding).
    type: bool
  labels:
    description: Labels of the network.
    type: dict
  driver_options:
    description: Bridge driver options, for example C(com.docker.network.bridge.name) or
      C(com.docker.network.driver.mtu); options the engine adds itself are not a difference.
    type: dict
  connected:
    description: Containers (names) connected to the network. Unless O(appends), other containers
      are disconnected.
    type: list
    elements: str
    aliases: [containers]
  appends:
    description: Connect the O(connected) containers without disconnecting others.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: A network for the web tier
  berth.engine.network:
    name: web
    subnet: 10.89.0.0/24
    labels:
      tier: web

- name: An internal network (no route out)
  berth.engine.network:
    name: backend
    internal: true

- name: Remove it
  berth.engine.network:
    name: backend
    state: absent
'''

RETURN = r'''
network:
  description: The network as C(berth network inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Name": "web", "Driver": "bridge", "IPAM": {"Config": [{"Subnet": "10.89.0.0/24"}]}}
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.options import argument_spec
from ..module_utils.berth_ansible.network import OPTIONS, run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    module.exit_json(**engine.run(module, run, module))


if __name__ == "__main__":
    main()
