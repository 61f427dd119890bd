#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: registry
short_description: Log in to or out of a container registry for berth
version_added: 0.1.0
description:
  - Verify credentials with a registry and store them for the berth engine (Docker's C(config.json)
    format under E(BERTH_CONFIG)), or forget them.
  - The password is never logged or returned.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.actions
options:
  registry_url:
    description:
      - 'The registry: C(host[:port]), or a URL whose host is used.'
      - Docker Hub by default.
    type: str
    default: https://index.docker.io/v1/
    aliases: [registry, url]
  username:
    description: The user name; required with O(state=present).
    type: str
  password:
    description: The password or token; required with O(state=present).
    type: str
  reauthorize:
    description:
      - Verify the credentials with the registry even when the same ones are stored already.
      - Without it, stored credentials are trusted and not re-checked.
    type: bool
    default: false
    aliases: [reauth]
  state:
    description: V(present) logs in (verifies the credentials, then stores them); V(absent) forgets
      the stored credentials.
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: Log in to the private registry
  berth.engine.registry:
    registry_url: registry.example.com:5000
    username: deploy
    password: "{{ vault_registry_password }}"

- name: Log out
  berth.engine.registry:
    registry_url: registry.example.com:5000
    state: absent
'''

RETURN = r'''
login_result:
  description: The registry and the user now logged in (never the password).
  returned: always
  type: dict
  sample: {"registry": "registry.example.com:5000", "logged_in": true, "username": "deploy"}
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.options import argument_spec
from ..module_utils.berth_ansible.registry import OPTIONS, run


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True,
                           required_if=[("state", "present", ("username", "password"))])
    module.exit_json(**engine.run(module, run, module))


if __name__ == "__main__":
    main()
