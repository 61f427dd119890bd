#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: volume_info
short_description: Inspect a berth volume
version_added: 0.1.0
description:
  - Tell whether a volume exists and return its inspect document.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.info
options:
  name:
    description: Name of the volume.
    type: str
    aliases: [volume_name]
    required: true
'''

EXAMPLES = r'''
- name: Where does pgdata live?
  berth.engine.volume_info:
    name: pgdata
  register: pgdata
'''

RETURN = r'''
exists:
  description: Whether the volume exists.
  returned: always
  type: bool
  sample: true
volume:
  description: The volume as C(berth volume inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Name": "pgdata", "Driver": "local", "Mountpoint": "/var/lib/berth/volumes/pgdata/_data"}
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.options import argument_spec
from ..module_utils.berth_ansible.volume import INFO_OPTIONS as OPTIONS
from ..module_utils.berth_ansible.volume import volume_info


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    module.exit_json(**engine.run(module, volume_info, module))


if __name__ == "__main__":
    main()
