#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: container
short_description: Manage berth containers
version_added: 0.1.0
description:
  - Create, start, stop, recreate and remove a named container of the berth engine.
  - Idempotent by the engine's stored structured spec. Each option given in the task is compared
    with the spec the container was created with, the image's defaults merged into both sides (an
    O(env) entry or O(command) equal to the image's is not a change); O(comparisons) changes how.
    A difference, or a new image ID for O(image), recreates the container.
author:
  - berth.engine developers (@berth-engine)
extends_documentation_fragment:
  - berth.engine.berth
  - berth.engine.berth.actions
  - berth.engine.container.runtime
options:
  name:
    description: Name of the container.
    type: str
    required: true
  state:
    description:
      - 'V(present): the container exists (created, not started; a running one keeps running, also
        when it is recreated).'
      - 'V(started): it exists and runs. V(stopped): it exists and does not run.'
      - 'V(absent): it does not exist.'
    type: str
    choices: [present, started, stopped, absent]
    default: started
  pull:
    description: 'When to pull O(image): V(missing) when it is not in the image store, V(always)
      every time (a new image ID for the tag recreates the container), V(never).'
    type: str
    choices: [always, missing, never]
    default: missing
  recreate:
    description: Recreate the container even when its configuration matches.
    type: bool
    default: false
  restart:
    description: Restart a running container whose configuration matches.
    type: bool
    default: false
  force_kill:
    description: Kill the container (SIGKILL) instead of stopping it gracefully.
    type: bool
    default: false
  keep_volumes:
    description: Keep the container's anonymous volumes when it is removed.
    type: bool
    default: true
  detach:
    description: With V(false), O(state=started) waits for the container to exit and returns its
      output; a non-zero exit code fails the task.
    type: bool
    default: true
  cleanup:
    description: With O(detach=false), remove the container once it exited.
    type: bool
    default: false
  comparisons:
    description:
      - 'How each option is compared with the existing container: V(strict) (must be equal),
        V(ignore), or V(allow_more_present) (lists and dicts may hold more than asked for).'
      - Keys are option names (O(env), O(labels), O(image)...); options not given in the task are
        never compared.
    type: dict
  image:
    description: Image to run; required unless O(state=absent). A new image ID for this reference
      recreates the container.
    type: str
  command:
    description: Command (the image's C(Cmd) when not given), a list or a string split like a shell
      does.
    type: raw
  entrypoint:
    description: Entrypoint; an empty list clears the image's.
    type: list
    elements: str
  env_file:
    description: File of C(KEY=VALUE) lines added to the environment (O(env) wins); compared
      together with O(env).
    type: path
  env:
    description: 'Environment variables; values must be strings. Merged over the image''s C(Env): a
      variable equal to the image''s is not a change.'
    type: dict
  published_ports:
    description: Ports to publish, C([ip:][hostport:]containerport[/proto]).
    type: list
    elements: str
    aliases: [ports]
  publish_all_ports:
    description: Publish every port the image exposes to a random host port.
    type: bool
  exposed_ports:
    description: More ports to expose, C(port[/proto]) or a range.
    type: list
    elements: str
    aliases: [expose]
  volumes:
    description: Volumes C([/host/path|volume-name:]/container/path[:ro|rw]); a named volume that
      does not exist is created.
    type: list
    elements: str
  tmpfs:
    description: 'tmpfs mounts: container path -> mount options (C(size=64m,mode=1777)).'
    type: dict
  network_mode:
    description: 'Network: V(none), V(host), V(default) (the default bridge), or the name of a
      network.'
    type: str
  network_aliases:
    description: DNS aliases of the container on its (user-defined) network.
    type: list
    elements: str
  ipv4_address:
    description: Fixed IPv4 address on a user-defined network.
    type: str
  networks:
    description: User-defined networks with their aliases and addresses. The first is the
      container's network (instead of O(network_mode), O(network_aliases) and O(ipv4_address)); the
      container is connected to the others and disconnected from any not listed, without being
      recreated.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the network.
        type: str
        required: true
      aliases:
        description: DNS aliases of the container on this network.
        type: list
        elements: str
      ipv4_address:
        description: Fixed IPv4 address on this network.
        type: str
  mac_address:
    description: MAC address of the container's interface.
    type: str
  dns_servers:
    description: DNS servers for C(/etc/resolv.conf).
    type: list
    elements: str
  dns_search_domains:
    description: DNS search domains.
    type: list
    elements: str
  dns_opts:
    description: Options for C(/etc/resolv.conf), for example C(ndots:2).
    type: list
    elements: str
  etc_hosts:
    description: 'Extra C(/etc/hosts) entries: host name -> IP address.'
    type: dict
  restart_policy:
    description: Restart policy, applied by the container's monitor.
    type: str
    choices: ['no', on-failure, always, unless-stopped]
  restart_retries:
    description: Most restarts with O(restart_policy=on-failure).
    type: int
  user:
    description: User (and group) to run as, C(name), C(uid[:gid]).
    type: str
  working_dir:
    description: Working directory inside the container (absolute).
    type: str
  hostname:
    description: Host name; the short container ID when not given.
    type: str
  labels:
    description: Labels, merged over the image's.
    type: dict
  ipc_mode:
    description: 'IPC namespace: V(private), V(shareable), V(host), V(none), C(container:NAME).'
    type: str
  init:
    description: Run an init process (tini) as PID 1 that reaps zombies.
    type: bool
  tty:
    description: Allocate a pseudo terminal.
    type: bool
  interactive:
    description: Keep standard input open.
    type: bool
  stop_signal:
    description: Signal that stops the container (the image's or SIGTERM by default).
    type: str
  stop_timeout:
    description: Seconds to wait after the stop signal before killing; also used when the module
      stops the container.
    type: int
'''

EXAMPLES = r'''
- name: A web server that restarts unless stopped
  berth.engine.container:
    name: web
    image: registry.example.com:5000/web:1.4
    published_ports:
      - "8080:80"
    env:
      MODE: production
    memory: 256m
    restart_policy: unless-stopped

- name: On two networks, with a health check
  berth.engine.container:
    name: api
    image: registry.example.com:5000/api:2.0
    networks:
      - name: frontend
        aliases: [api]
      - name: backend
    healthcheck:
      test: wget -qO- http://127.0.0.1:8080/health
      interval: 10s

- name: Ignore environment differences (set by another tool)
  berth.engine.container:
    name: web
    image: registry.example.com:5000/web:1.4
    env:
      MODE: production
    comparisons:
      env: ignore

- name: Run a one-shot job and get its output
  berth.engine.container:
    name: migrate
    image: registry.example.com:5000/web:1.4
    command: ["/app/migrate", "--yes"]
    detach: false
    cleanup: true
  register: job

- name: Remove it
  berth.engine.container:
    name: web
    state: absent
'''

RETURN = r'''
container:
  description: The container as C(berth inspect) shows it; empty when it does not exist.
  returned: always
  type: dict
  sample: {"Id": "4b1c...", "Name": "/web", "State": {"Status": "running"}, "Config": {}}
actions:
  description: What the module did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: ["recreate", "start"]
output:
  description: Standard output and error of the container.
  returned: when O(detach=false) and O(state=started)
  type: str
  sample: "hello\n"
'''

from ansible.module_utils.basic import AnsibleModule

from ..module_utils.berth_ansible import engine
from ..module_utils.berth_ansible.container import ContainerManager
from ..module_utils.berth_ansible.container_options import OPTIONS
from ..module_utils.berth_ansible.options import argument_spec


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True,
                           required_if=[("state", "present", ("image",)),
                                        ("state", "started", ("image",)),
                                        ("state", "stopped", ("image",))])
    result = engine.run(module, lambda: ContainerManager(module).run())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
