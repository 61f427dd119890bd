#!/usr/bin/env bash
# Runs `ansible-test sanity` on the collection, offline and without Docker, once per controller venv.
#
#   scripts/sanity.sh [VENV...]        default: .venv (ansible-core 2.19, Python 3.11)
#                                      (paths relative to the repo root, or absolute)
#                                               .venv-2.21 (ansible-core 2.21, Python 3.12)
# Environment:
#   SANITY_PYTHONS  target Pythons for the multi-version tests (compile, import); default
#                   "3.9 3.10 3.11 3.12 3.13", each used only if /root/.pyenv/versions/X.Y.* has it
#   SANITY_ARGS     extra ansible-test arguments, e.g. "--test pep8 --test pylint"
#   SANITY_SERIAL   0 = run both controllers at once (default 1: one after the other, because two
#                   ansible-test runs that create the same test venv at once break each other)
#   SANITY_SHOW     how many problem lines to print per controller (default 300; 0 = all)
#   SANITY_KEEP     1 = keep the temp copies (/tmp/berth-sanity.*) for debugging
# Full logs land in tests/output/sanity/<venv>.log, the problems in <venv>.problems.
#
# How it works offline (see docs in DESIGN.md, "Facts about these machines"):
# - ansible-test needs the collection at .../ansible_collections/berth/engine: each controller gets
#   its own copy of the working tree in a temp dir (tracked files plus new untracked ones that are
#   not git-ignored, so .venv*, .git, __pycache__, tests/output and build junk stay out).
# - ansible-test bootstraps pip into each test venv with get-pip.py from ci-files.testing.ansible.com
#   (unreachable here). It first looks in ~/.ansible/test/cache/get_pip_<pip version>.py, so we seed
#   that file with a stand-in that runs ensurepip and then `pip install` with the same arguments
#   (pip itself and the test requirements then come from PyPI, which is reachable).
# - Multi-version tests find target Pythons as `pythonX.Y` on PATH. The pyenv shims claim every
#   version but fail for versions that are not selected, so PATH is rebuilt without pyenv and a temp
#   bin dir provides pythonX.Y symlinks to the real interpreters.
# - No test is skipped by this script. Tests that have nothing to check here say "No tests
#   applicable" (action-plugin-docs, changelog without changelogs/, pslint without PowerShell).
#   ansible-test skips its shell script test by itself when the binary is missing, hence
#   scripts/setup-host.sh installs it. Targets that are not installed are skipped by ansible-test
#   with a warning (Python 3.8 for ansible-core 2.19, 3.14 for 2.21).
# Runtime (measured, one controller after the other): ~6 min the first time (ansible-test creates
# its venvs under ~/.ansible/test/venv from PyPI), about 4 min afterwards.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

read -r -a PYTHONS <<<"${SANITY_PYTHONS:-3.9 3.10 3.11 3.12 3.13}"
SHOW=${SANITY_SHOW:-300}
OUT="$ROOT/tests/output/sanity"
if [ $# -gt 0 ]; then VENVS=("$@"); else VENVS=(.venv .venv-2.21); fi

WORK=$(mktemp -d /tmp/berth-sanity.XXXXXX)
if [ "${SANITY_KEEP:-0}" = 1 ]; then echo "sanity: keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$OUT" "$WORK/bin"

# Target interpreters: real binaries only (a pyenv shim costs ~90 ms and may refuse the version);
# pyenv's builds first, else a pythonX.Y found on the PATH without pyenv (e.g. Debian's).
CLEAN_PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/\.pyenv/' | paste -sd: -)
for v in "${PYTHONS[@]}"; do
    for p in /root/.pyenv/versions/"$v".*/bin/python"$v" "$(PATH=$CLEAN_PATH command -v "python$v")"; do
        [ -x "$p" ] && { ln -sf "$p" "$WORK/bin/python$v"; break; }
    done
done

# copy_tree DEST: the working tree as git sees it (tracked + untracked-not-ignored), else everything
# but the usual junk.
copy_tree() {
    local dest=$1
    mkdir -p "$dest"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                case "$f" in .venv*|.git/*|tests/output/*|*__pycache__*) continue ;; esac
                # tracked files deleted in the working tree are listed too
                if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
            done | tar --null -T - -cf - | tar -C "$dest" -xf -
    else
        tar --exclude='./.venv*' --exclude=./.git --exclude='__pycache__' --exclude=./tests/output \
            -cf - . | tar -C "$dest" -xf -
    fi
}

# seed_get_pip VENV: write the offline get-pip stand-in for every pip version ansible-test asks for.
seed_get_pip() {
    local venv=$1 versions ver f
    mkdir -p "$HOME/.ansible/test/cache"
    # The controller's version too: the tests that run in controller venvs bootstrap pip as well.
    versions=$("$venv/bin/python" - "${PYTHONS[@]}" <<'EOF'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
pythons = set(sys.argv[1:]) | {"%d.%d" % sys.version_info[:2]}
print(" ".join(sorted({get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in pythons})))
EOF
    ) || return 1
    [ -n "$versions" ] || return 1
    for ver in $versions; do
        f="$HOME/.ansible/test/cache/get_pip_${ver//./_}.py"
        [ -f "$f" ] && continue
        cat >"$f" <<'EOF'
# Offline stand-in for https://ci-files.testing.ansible.com/ansible-test/get-pip-<version>.py,
# written by berth's scripts/sanity.sh: bootstrap pip from the interpreter's bundled wheel, then let
# it install what ansible-test asked for (e.g. pip==24.2) from PyPI.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
EOF
    done
}

# problems < LOG: one line per problem, "test: path:line:col: message", the Pythons of the
# multi-version tests (compile, import) merged into one line: "import [3.9 3.10]: ...".
problems() {
    awk '
        /^Running sanity test "/ {
            split($0, q, "\""); test = q[2]
            py = ($0 ~ / on Python /) ? $NF : ""
            next
        }
        /^ERROR: Found [0-9]+ / { next }
        /^ERROR: [^ ]+:[0-9]+:[0-9]+: / {
            key = test "\t" substr($0, 8)
            if (!(key in seen)) { seen[key] = ""; order[++n] = key }
            if (py != "") seen[key] = seen[key] " " py
        }
        END {
            for (i = 1; i <= n; i++) {
                split(order[i], kv, "\t")
                pys = seen[order[i]]
                printf "%s%s: %s\n", kv[1], (pys == "" ? "" : " [" substr(pys, 2) "]"), kv[2]
            }
        }'
}

# run_one VENV: copy, run ansible-test, leave NAME.{log,rc,time,label} in $WORK/results.
run_one() {
    local venv=$1 name label coll start rc
    name=$(basename "$venv")
    coll="$WORK/$name/ansible_collections/berth/engine"
    label=$("$venv/bin/python" -c 'import sys, ansible.release as r; print("ansible-core %s on Python %d.%d" % ((r.__version__,) + sys.version_info[:2]))')
    echo "$label" >"$WORK/results/$name.label"
    copy_tree "$coll"
    start=$(date +%s)
    # shellcheck disable=SC2086  # SANITY_ARGS is a list of words on purpose
    (cd "$coll" && PATH="$WORK/bin:$venv/bin:$CLEAN_PATH" \
        "$venv/bin/ansible-test" sanity --color no -v ${SANITY_ARGS:-}) \
        >"$WORK/results/$name.log" 2>&1
    rc=$?
    echo $rc >"$WORK/results/$name.rc"
    echo $(( $(date +%s) - start )) >"$WORK/results/$name.time"
    problems <"$WORK/results/$name.log" >"$WORK/results/$name.problems"
    cp "$WORK/results/$name.log" "$WORK/results/$name.problems" "$OUT/"
}

mkdir -p "$WORK/results"
status=0
ran=()
for venv in "${VENVS[@]}"; do
    venv=${venv%/}
    if [ ! -x "$venv/bin/ansible-test" ]; then
        echo "sanity: $venv/bin/ansible-test not found (run: make setup)" >&2
        status=1
        continue
    fi
    venv=$(cd "$venv" && pwd)
    seed_get_pip "$venv" || { echo "sanity: cannot read ansible-test's pip version from $venv" >&2; status=1; continue; }
    ran+=("$venv")
done

total_start=$(date +%s)
pids=()
for venv in "${ran[@]}"; do
    echo "sanity: $("$venv/bin/python" -c 'import ansible.release as r; print("ansible-core", r.__version__)') ($(basename "$venv")) ..."
    if [ "${SANITY_SERIAL:-1}" = 1 ]; then
        run_one "$venv"
    else
        run_one "$venv" &
        pids+=($!)
    fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

echo
echo "==================== ansible-test sanity summary ===================="
for venv in "${ran[@]}"; do
    name=$(basename "$venv")
    r="$WORK/results/$name"
    rc=$(cat "$r.rc" 2>/dev/null || echo 99)
    if [ "$rc" = 0 ]; then
        verdict=PASS
    else
        verdict="FAIL (exit $rc)"
        status=1
    fi
    printf '%-10s %s: %s in %ss\n' "$name" "$(cat "$r.label")" "$verdict" "$(cat "$r.time" 2>/dev/null || echo ?)"
    # Which tests failed, and warnings other than the harmless locale notice.
    sed -n '/^FATAL: The .* sanity test(s) listed below/,$p' "$r.log" | sed '1s/^FATAL: /  /; 2,$s/^/    /'
    grep '^FATAL:' "$r.log" | grep -v 'sanity test(s) listed below' | sed 's/^/  /'
    grep '^WARNING: ' "$r.log" | grep -v -e 'locale' -e 'Reviewing previous' -e 'Location .* is ignored' |
        sort -u | sed 's/^/  /'
    if [ -s "$r.problems" ]; then
        n=$(wc -l <"$r.problems")
        echo "  problems: $n (per test):"
        awk -F': ' '{sub(/ \[.*/, "", $1); print $1}' "$r.problems" | sort | uniq -c | sort -rn | sed 's/^/    /'
        if [ "$SHOW" = 0 ] || [ "$n" -le "$SHOW" ]; then
            sed 's/^/    /' "$r.problems"
        else
            head -n "$SHOW" "$r.problems" | sed 's/^/    /'
            echo "    ... (all $n in tests/output/sanity/$name.problems)"
        fi
    fi
done
echo "total: $(( $(date +%s) - total_start ))s; logs: tests/output/sanity/"
[ $status = 0 ] && echo "sanity: OK" || echo "sanity: FAILED"
exit $status
