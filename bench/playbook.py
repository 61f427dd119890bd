"""Second run of a playbook managing 20 berth containers: seconds per unchanged container."""
from __future__ import annotations

import os
import subprocess
import time

from engines import REPO, VENV, Berth
from host import log
from rows import IMAGE, Row

PLAYBOOK = """- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: {python}
  environment:
    BERTH_ROOT: {root}
    BERTH_RUN: {run}
    BERTH_CONFIG: {config}
    PYTHONPYCACHEPREFIX: {pycache}
  tasks:
    - name: containers
      berth.engine.container:
        name: "bench-{{{{ item }}}}"
        image: {image}
        command: [sleep, "3600"]
        state: started
      loop: "{{{{ range({count}) | list }}}}"
"""

EMPTY = """- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: {python}
  tasks:
    - name: nothing
      ansible.builtin.debug:
        msg: baseline
"""


def available() -> str:
    """An empty string when the row can run, else why not."""
    if not os.path.exists(os.path.join(REPO, "plugins", "modules", "container.py")):
        return "plugins/modules/container.py does not exist yet"
    if not os.path.exists(os.path.join(VENV, "bin", "ansible-playbook")):
        return f"{VENV}/bin/ansible-playbook is missing"
    return ""


def playbook_row(berth: Berth, workdir: str, reps: int, count: int = 20) -> Row:
    row = Row(f"playbook 2nd run, {count} containers (per container)", "s/ctr")
    why = available()
    if why:
        row.skipped = why
        return row
    coll = os.path.join(workdir, "collections", "ansible_collections", "berth")
    os.makedirs(coll, exist_ok=True)
    if not os.path.lexists(os.path.join(coll, "engine")):
        os.symlink(REPO, os.path.join(coll, "engine"))
    env = dict(berth.env, ANSIBLE_COLLECTIONS_PATH=os.path.join(workdir, "collections"),
               ANSIBLE_HOME=os.path.join(workdir, "ansible-home"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    python = berth.python
    book = os.path.join(workdir, "containers.yml")
    with open(book, "w") as f:
        f.write(PLAYBOOK.format(python=python, root=env["BERTH_ROOT"], run=env["BERTH_RUN"],
                                config=env["BERTH_CONFIG"], pycache=env["PYTHONPYCACHEPREFIX"],
                                image=IMAGE, count=count))
    empty = os.path.join(workdir, "empty.yml")
    with open(empty, "w") as f:
        f.write(EMPTY.format(python=python))
    player = os.path.join(VENV, "bin", "ansible-playbook")

    def play(path: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        proc = subprocess.run([player, "-i", "localhost,", path], env=env, capture_output=True,
                              text=True, timeout=900, check=False)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"ansible-playbook failed: {proc.stdout[-600:]}{proc.stderr[-300:]}")
        return elapsed, proc.stdout

    try:
        first = play(book)[0]
        row.notes.append(f"first run (creates {count}): {first:.1f} s")
        baseline = play(empty)[0]
        row.notes.append(f"ansible-playbook with one debug task: {baseline:.1f} s (not subtracted)")
        for _rep in range(reps):
            elapsed, out = play(book)
            if "changed=0" not in out:
                row.notes.append("second run reported changes: idempotency problem")
            row.add("berth", elapsed / count)
    except Exception as exc:  # noqa: BLE001
        row.notes.append(str(exc).splitlines()[0][:300])
        log(row.notes[-1])
    return row
