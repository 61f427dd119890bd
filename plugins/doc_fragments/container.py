# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of berth.engine.container kept out of the module file: resources, privileges, mounts,
health check and logging. Generated from ``RUNTIME_OPTIONS`` (module_utils/berth_ansible/
container_options.py); tests/unit/modules/test_docs.py checks that they agree."""
from __future__ import annotations


class ModuleDocFragment:
    RUNTIME = r'''
options:
  memory:
    description: Memory limit, C(512m), C(1g)...
    type: str
  memory_swap:
    description: Memory plus swap limit; V(-1) for unlimited swap.
    type: str
  cpus:
    description: Number of CPUs the container may use.
    type: float
  cpu_shares:
    description: CPU shares (relative weight).
    type: int
  cpuset_cpus:
    description: CPUs the container may run on, C(0-2), C(0,3).
    type: str
  pids_limit:
    description: Most processes in the container.
    type: int
  ulimits:
    description: Resource limits C(name=soft[:hard]), for example C(nofile=1024:2048).
    type: list
    elements: str
  devices:
    description: Host devices C(/dev/host[:/dev/container[:rwm]]).
    type: list
    elements: str
  privileged:
    description: Run with every capability and device.
    type: bool
  capabilities:
    description: Capabilities to add (C(NET_ADMIN) or C(CAP_NET_ADMIN)).
    type: list
    elements: str
  cap_drop:
    description: Capabilities to drop; V(ALL) drops every one.
    type: list
    elements: str
  read_only:
    description: Mount the root filesystem read-only.
    type: bool
  healthcheck:
    description: Health check, over the image's C(HEALTHCHECK). The container's monitor runs it;
      C(State.Health) of RV(container) shows the result.
    type: dict
    suboptions:
      test:
        description: A string runs with C(/bin/sh -c) (C(CMD-SHELL)); a list is Docker's form,
          C([CMD, prog, arg...]); V([NONE]) disables the image's check.
        type: raw
      interval:
        description: Time between checks, C(30s), C(1m30s) (default 30s).
        type: str
      timeout:
        description: Time a check may take before it counts as failed (default 30s).
        type: str
      start_period:
        description: Time after the start during which failures do not count.
        type: str
      retries:
        description: Failures in a row that make the container unhealthy (default 3).
        type: int
  log_options:
    description: 'json-file log rotation: C(max-size) (C(10m)) and C(max-file).'
    type: dict
  mounts:
    description: Mounts in structured form (C(--mount)).
    type: list
    elements: dict
    suboptions:
      target:
        description: Path in the container.
        type: str
        required: true
      source:
        description: 'Host path (V(bind)) or volume name (V(volume); none: anonymous).'
        type: str
      type:
        description: Kind of mount.
        type: str
        choices: [bind, volume, tmpfs]
        default: volume
      read_only:
        description: Mount read-only.
        type: bool
        default: false
      propagation:
        description: Bind propagation.
        type: str
        choices: [private, rprivate, shared, rshared, slave, rslave]
      no_copy:
        description: Do not fill an empty volume with the image's content.
        type: bool
        default: false
      tmpfs_size:
        description: Size of a V(tmpfs) mount, C(64m).
        type: str
      tmpfs_mode:
        description: Octal mode of a V(tmpfs) mount, C(1777).
        type: str
  volumes_from:
    description: Mount every volume of these containers, C(name[:ro|rw]).
    type: list
    elements: str
'''
