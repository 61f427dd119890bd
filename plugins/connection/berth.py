# Copyright (c) berth.engine developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run Ansible tasks inside a berth container through ``berth exec``."""
from __future__ import annotations

DOCUMENTATION = r"""
name: berth
short_description: Run tasks in berth containers
description:
  - Runs commands and transfers files inside a running berth container, the way
    C(community.docker.docker) does for Docker containers.
  - Commands run as C(berth exec -i CONTAINER /bin/sh -c COMMAND) on the controller (the berth CLI in
    daemonless mode, so it must run as root on the host that owns the containers).
  - Files are copied with C(berth exec -i CONTAINER /bin/sh -c 'cat > PATH') and fetched with
    C(berth exec CONTAINER cat PATH); the container needs C(/bin/sh) and C(cat).
  - Privilege escalation works only without a password prompt (for example C(sudo) with C(NOPASSWD));
    containers usually run tasks as root already.
author:
  - berth.engine developers (@berth-engine)
version_added: 0.1.0
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
options:
  remote_addr:
    description:
      - The name or ID of the container to run tasks in.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_berth_host
  remote_user:
    description:
      - The user to run commands as in the container (C(berth exec -u)).
      - Unset, the container's configured user is used.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_berth_user
    keyword:
      - name: remote_user
  berth_executable:
    description:
      - The berth CLI on the controller, a name looked up on E(PATH) or an absolute path.
    type: str
    default: berth
    env:
      - name: ANSIBLE_BERTH_EXECUTABLE
    vars:
      - name: ansible_berth_executable
  berth_root:
    description:
      - The berth state directory (E(BERTH_ROOT)) that holds the container.
      - Unset, the berth CLI's default applies (E(BERTH_ROOT) of the controller's environment, else
        C(/var/lib/berth)).
    type: str
    env:
      - name: ANSIBLE_BERTH_ROOT
    vars:
      - name: ansible_berth_root
  berth_run:
    description:
      - The berth runtime directory (E(BERTH_RUN)) of that state directory.
      - Unset, the berth CLI's default applies (E(BERTH_RUN), else C(/run/berth)).
    type: str
    env:
      - name: ANSIBLE_BERTH_RUN
    vars:
      - name: ansible_berth_run
  berth_extra_args:
    description:
      - Extra arguments for C(berth exec), placed before the container name (for example C(-w /srv)).
    type: list
    elements: str
    default: []
    vars:
      - name: ansible_berth_extra_args
notes:
  - C(berth exec) does not go through berthd (the API does not serve exec), so E(BERTH_HOST) is
    removed from the environment of the berth CLI this plugin runs.
"""

EXAMPLES = r"""
# inventory.yml: a container named "web" as a host
# all:
#   hosts:
#     web:
#       ansible_connection: berth.engine.berth
#       ansible_berth_root: /var/lib/berth

- name: Configure a container
  hosts: web
  gather_facts: false
  tasks:
    - name: Write a file inside it
      ansible.builtin.copy:
        content: "hello\n"
        dest: /srv/hello.txt
"""

import os
import shlex
import shutil
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()


class Connection(ConnectionBase):
    """Tasks in a berth container, one ``berth exec`` per command."""

    transport = "berth.engine.berth"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._berth = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _container(self):
        return self.get_option("remote_addr")

    def _env(self):
        env = dict(os.environ)
        env.pop("BERTH_HOST", None)
        for option, name in (("berth_root", "BERTH_ROOT"), ("berth_run", "BERTH_RUN")):
            value = self.get_option(option)
            if value:
                env[name] = value
        return env

    def _exec_argv(self, argv, interactive):
        cmd = [self._berth, "exec"]
        if interactive:
            cmd.append("-i")
        user = self.get_option("remote_user")
        if user:
            cmd += ["-u", user]
        cmd += list(self.get_option("berth_extra_args") or [])
        cmd.append(self._container())
        return cmd + list(argv)

    def _run(self, argv, stdin=None, in_data=None, stdout=subprocess.PIPE):
        """Run ``berth exec`` with ARGV in the container: (rc, stdout bytes, stderr bytes)."""
        cmd = self._exec_argv(argv, interactive=stdin is not None or in_data is not None)
        display.vvv("BERTH EXEC %s" % " ".join(shlex.quote(to_text(c)) for c in cmd),
                    host=self._container())
        cmd = [to_bytes(c, errors="surrogate_or_strict") for c in cmd]
        try:
            proc = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.PIPE,
                                    stdout=stdout, stderr=subprocess.PIPE, env=self._env())
        except OSError as e:
            raise AnsibleConnectionFailure("cannot run %s: %s" % (self._berth, to_native(e)))
        out, err = proc.communicate(in_data if stdin is None else None)
        return proc.returncode, out or b"", err or b""

    # -- ConnectionBase ---------------------------------------------------------------------------
    def _connect(self):
        if not self._connected:
            executable = self.get_option("berth_executable")
            self._berth = shutil.which(executable) or (executable if os.path.isfile(executable)
                                                       else None)
            if self._berth is None:
                raise AnsibleError("berth executable %r not found on the controller" % executable)
            display.vvv("ESTABLISH BERTH CONNECTION (%s)" % self._berth, host=self._container())
            self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        shell = self._play_context.executable or "/bin/sh"
        rc, out, err = self._run([shell, "-c", cmd], in_data=in_data)
        # 125: berth itself failed (no such container, not running), as with docker exec.
        if rc == 125 and err.startswith(b"Error: "):
            raise AnsibleConnectionFailure("berth exec in %s failed: %s"
                                           % (self._container(), to_native(err.strip())))
        return rc, out, err

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv("PUT %s TO %s" % (in_path, out_path), host=self._container())
        out_path = self._remote_path(out_path)
        if not os.path.isfile(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_native(in_path))
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as src:
            rc, dummy, err = self._run(["/bin/sh", "-c", "cat > %s" % shlex.quote(out_path)],
                                       stdin=src)
        if rc != 0:
            raise AnsibleError("failed to transfer %s to %s in %s: %s"
                               % (in_path, out_path, self._container(), to_native(err.strip())))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv("FETCH %s TO %s" % (in_path, out_path), host=self._container())
        in_path = self._remote_path(in_path)
        b_out = to_bytes(out_path, errors="surrogate_or_strict")
        partial = b_out + b".partial"
        try:
            with open(partial, "wb") as dst:
                rc, dummy, err = self._run(["cat", in_path], stdout=dst)
            if rc != 0:
                raise AnsibleError("failed to fetch %s from %s: %s"
                                   % (in_path, self._container(), to_native(err.strip())))
            os.rename(partial, b_out)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)

    def close(self):
        super().close()
        self._connected = False

    @staticmethod
    def _remote_path(path):
        """Paths in the container are absolute; a relative one is taken from ``/``."""
        path = to_text(path, errors="surrogate_or_strict")
        return path if path.startswith("/") else "/" + path
