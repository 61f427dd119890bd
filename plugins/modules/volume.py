#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: volume
short_description: Manage berth volumes
version_added: 0.1.0
description:
  - Create or remove a named volume of the berth engine (C(local) driver).
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.actions
options:
  name:
    description: Name of the volume.
    type: str
    aliases: [volume_name]
    required: true
  state:
    description: V(present) creates the volume, V(absent) removes it (and its data).
    type: str
    choices: [present, absent]
    default: present
  driver:
    description: Volume driver; only V(local) is available.
    type: str
    default: local
  driver_options:
    description: 'Options of the C(local) driver: C(type), C(device), C(o), as for C(mount).'
    type: dict
  labels:
    description: Labels of the volume.
    type: dict
  recreate:
    description: 'Replace an existing volume: V(never), V(options-changed) when O(driver),
      O(driver_options) or O(labels) differ, V(always).'
    type: str
    choices: [never, options-changed, always]
    default: never
'''

EXAMPLES = r'''
- name: A volume for the database
  berth.engine.volume:
    name: pgdata
    labels:
      app: db

- name: A tmpfs volume
  berth.engine.volume:
    name: scratch
    driver_options:
      type: tmpfs
      device: tmpfs
      o: size=64m

- name: Remove it with its data
  berth.engine.volume:
    name: scratch
    state: absent
'''

RETURN = r'''
volume:
  description: The volume as C(berth volume inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Name": "pgdata", "Driver": "local", "Mountpoint": "/var/lib/berth/volumes/pgdata/_data"}
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.options import argument_spec
from ..module_utils.berth_ansible.volume import OPTIONS, run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    module.exit_json(**engine.run(module, run, module))


if __name__ == "__main__":
    main()
