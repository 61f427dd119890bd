#!/usr/bin/env bash
# Installs what berth's tests and demo need on a Debian host: apt packages and a pinned venv.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(iptables busybox-static docker-registry skopeo umoci debootstrap runc apache2-utils curl tini
              ca-certificates python3-venv)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup-host: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The real interpreter, never a pyenv shim (each shim start costs ~90 ms).
pick_python() {
    local want=$1 c
    for c in "/root/.pyenv/versions/$want"*/bin/python3 "$(command -v "python$want" || true)"; do
        [ -x "$c" ] && { "$c" -c 'import sys; print(sys.executable)'; return 0; }
    done
    return 1
}

make_venv() {  # make_venv DIR PYTHON_VERSION REQUIREMENTS
    local dir=$1 ver=$2 req=$3 py
    local stamp
    stamp=$(cat "$req" pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.installed" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    py=$(pick_python "$ver") || { echo "setup-host: no Python $ver found" >&2; return 1; }
    echo "setup-host: creating $dir with $py"
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
    echo "$stamp" > "$dir/.installed"
}

make_venv .venv 3.11 requirements-dev.txt
# Second controller for scripts/sanity.sh: ansible-core 2.21 needs Python >= 3.12.
make_venv .venv-2.21 3.12 requirements-2.21.txt
# molecule for tests/integration/roles (one scenario per role under molecule/).
make_venv .venv-molecule 3.11 requirements-molecule.txt

# ansible-test sanity's shellcheck test needs the binary (without it the test is silently skipped).
if ! dpkg-query -W -f='${Status}' shellcheck 2>/dev/null | grep -q "ok installed"; then
    echo "setup-host: installing shellcheck"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
fi
