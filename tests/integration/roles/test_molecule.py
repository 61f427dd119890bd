"""``molecule test`` for each role scenario in molecule/ (create, converge, idempotence, verify,
destroy), with the instances as berth containers in this test's private BERTH_ROOT.

Molecule comes from the venv made from requirements-molecule.txt (default ``.venv-molecule``, or
$BERTH_MOLECULE = the molecule executable); without it the tests are skipped with the command that
creates it. See molecule/README.md.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


def _molecule() -> str:
    candidates = [os.environ.get("BERTH_MOLECULE", ""), str(REPO / ".venv-molecule" / "bin" / "molecule")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("molecule not installed: python3.11 -m venv .venv-molecule && "
                ".venv-molecule/bin/pip install -r requirements-molecule.txt")
    raise AssertionError("unreachable")


def _instances(scenario: str) -> list[str]:
    import yaml

    with open(REPO / "molecule" / scenario / "molecule.yml") as f:
        return [p["name"] for p in yaml.safe_load(f)["platforms"]]


@pytest.fixture
def collections_path(tmp_path: Path) -> Path:
    """The checkout as ansible_collections/berth/engine, where Ansible looks for the collection."""
    link = tmp_path / "collections" / "ansible_collections" / "berth" / "engine"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    return tmp_path / "collections"


def test_scenarios_cover_every_role() -> None:
    roles = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
    assert roles == ["daemon", "mirror", "registry"]
    assert set(roles) <= set(SCENARIOS)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, berth_env, collections_path: Path) -> None:
    molecule = _molecule()
    berth = str(Path(sys.executable).parent / "berth")
    env = berth_env.environ()
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(collections_path),
        ANSIBLE_BERTH_EXECUTABLE=berth,
        BERTH_ANSIBLE_CACHE=str(collections_path.parent / "engine-cache"),
        ANSIBLE_NOCOLOR="1", NO_COLOR="1", PY_COLORS="0", ANSIBLE_FORCE_COLOR="0",
        PATH=str(Path(molecule).parent) + os.pathsep + env.get("PATH", ""),
    )
    env.pop("BERTH_HOST", None)
    try:
        proc = subprocess.run([molecule, "test", "-s", scenario], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=1200, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"molecule test -s {scenario} failed:\n{out[-8000:]}"
        # The idempotence step ran and found nothing to change.
        assert "idempotence: Executed: Successful" in out.replace("➜ ", ""), out[-4000:]
    finally:
        leftovers = []
        for name in _instances(scenario):
            rm = berth_env.berth("rm", "-f", name, check=False)
            if rm.returncode == 0:
                leftovers.append(name)
    assert not leftovers, f"molecule destroy left instances behind: {leftovers}"
