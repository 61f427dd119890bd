# Copyright (c) berth.engine developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Berth containers as Ansible hosts, reached through the berth.engine.berth connection plugin."""
from __future__ import annotations

DOCUMENTATION = r"""
name: containers
short_description: Berth containers as inventory hosts
description:
  - Lists the containers of a berth state directory (running ones by default) with the berth CLI
    (C(berth ps) and C(berth inspect)) and adds each as a host named after the container.
  - Every host gets C(ansible_connection=berth.engine.berth), so tasks run inside the container with
    C(berth exec).
  - The configuration file name must end with C(berth.yml) or C(berth.yaml).
author:
  - berth.engine developers (@berth-engine)
version_added: 0.1.0
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: The name of this plugin; C(berth.engine.containers) makes it this plugin's file.
    type: str
    required: true
    choices: [berth.engine.containers]
  berth_executable:
    description: The berth CLI on the controller, a name looked up on E(PATH) or an absolute path.
    type: str
    default: berth
    env:
      - name: ANSIBLE_BERTH_EXECUTABLE
  berth_root:
    description:
      - The berth state directory (E(BERTH_ROOT)) to list; also set as C(ansible_berth_root) on
        every host so that the connection plugin uses the same one.
      - Unset, the berth CLI's default applies.
    type: str
    env:
      - name: ANSIBLE_BERTH_ROOT
  berth_run:
    description: The berth runtime directory (E(BERTH_RUN)) of that state directory.
    type: str
    env:
      - name: ANSIBLE_BERTH_RUN
  running_only:
    description: List only running containers (a stopped one cannot run tasks).
    type: bool
    default: true
"""

EXAMPLES = r"""
# inventory/containers.berth.yml
plugin: berth.engine.containers
# group the containers by a label and by image
keyed_groups:
  - key: berth_labels.role | default('none')
    prefix: role
  - key: berth_image
    prefix: image
# ansible-inventory -i inventory/containers.berth.yml --graph
"""

import json
import os
import shutil
import subprocess

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

CONNECTION = "berth.engine.berth"


class InventoryModule(BaseInventoryPlugin, Constructable):
    """One host per berth container."""

    NAME = "berth.engine.containers"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("berth.yml", "berth.yaml"))

    def _berth(self, *args):
        executable = self.get_option("berth_executable")
        berth = shutil.which(executable) or executable
        env = dict(os.environ)
        env.pop("BERTH_HOST", None)
        for option, name in (("berth_root", "BERTH_ROOT"), ("berth_run", "BERTH_RUN")):
            if self.get_option(option):
                env[name] = self.get_option(option)
        try:
            proc = subprocess.run([berth] + list(args), env=env, capture_output=True, check=False)
        except OSError as e:
            raise AnsibleParserError("cannot run %s: %s" % (berth, to_native(e)))
        if proc.returncode != 0:
            raise AnsibleParserError("berth %s failed: %s"
                                     % (" ".join(args), to_native(proc.stderr.strip())))
        return to_native(proc.stdout)

    def _containers(self):
        ps = ["ps", "-q", "--no-trunc"] + ([] if self.get_option("running_only") else ["-a"])
        ids = self._berth(*ps).split()
        if not ids:
            return []
        try:
            return json.loads(self._berth("inspect", *ids))
        except ValueError as e:
            raise AnsibleParserError("berth inspect gave invalid JSON: %s" % to_native(e))

    @staticmethod
    def _hostvars(info):
        config = info.get("Config") or {}
        state = info.get("State") or {}
        networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
        return {
            "berth_id": info.get("Id", ""),
            "berth_name": (info.get("Name") or "").lstrip("/"),
            "berth_image": config.get("Image", ""),
            "berth_image_id": info.get("Image", ""),
            "berth_state": state.get("Status", ""),
            "berth_labels": config.get("Labels") or {},
            "berth_networks": {name: (net or {}).get("IPAddress", "") for name, net in networks.items()},
        }

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        strict = self.get_option("strict")
        for info in self._containers():
            hostvars = self._hostvars(info)
            host = hostvars["berth_name"] or hostvars["berth_id"][:12]
            self.inventory.add_host(host)
            hostvars.update(ansible_connection=CONNECTION, ansible_host=host)
            if self.get_option("berth_root"):
                hostvars["ansible_berth_root"] = self.get_option("berth_root")
            if self.get_option("berth_run"):
                hostvars["ansible_berth_run"] = self.get_option("berth_run")
            for key, value in hostvars.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host,
                                           strict=strict)
