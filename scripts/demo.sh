#!/usr/bin/env bash
# The main job (`make demo`): playbooks/demo.yml builds the busybox base image from Debian's package,
# builds the web image from playbooks/demo/Dockerfile, creates a network and a volume, starts the web
# container with a published port and fetches its page. It runs twice: the second run must report
# changed=0. Engine state goes to BERTH_ROOT (default /var/lib/berth); DEMO_PORT picks the host port.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
collections=$(mktemp -d /tmp/berth-demo-collections.XXXXXX)
trap 'rm -rf "$collections"' EXIT
mkdir -p "$collections/ansible_collections/berth"
ln -s "$repo" "$collections/ansible_collections/berth/engine"

export ANSIBLE_COLLECTIONS_PATH=$collections
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
# The engine's shim outlives each module run: the installed `berth` package in .venv is the one used.
play() {
    .venv/bin/ansible-playbook -i localhost, playbooks/demo.yml \
        -e "berth_python=$repo/.venv/bin/python" -e "demo_port=${DEMO_PORT:-8080}"
}

echo "== first run: everything is created"
play
echo "== second run: nothing changes"
out=$(play | tee -a /dev/stderr)  # -a: stderr may be a file (a log), never truncate it
if ! grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' <<<"$out"; then
    echo "demo: the second run changed something" >&2
    exit 1
fi
echo "demo: OK — the page is served on http://127.0.0.1:${DEMO_PORT:-8080}/ by the container"
echo "      berth-demo-web; remove it all with: .venv/bin/ansible-playbook -i localhost," \
     "playbooks/teardown-demo.yml -e berth_python=$repo/.venv/bin/python"
