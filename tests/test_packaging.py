"""A wheel install (not the editable one) finds the shipped search spaces, objective sets and targets."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import evosearch, sys
from pathlib import Path
from evosearch.search import ObjectiveSet, SearchSpace
from evosearch.hardware import list_shipped_targets, load_target
assert Path(evosearch.__file__).is_relative_to(Path(sys.argv[1])), evosearch.__file__
spaces = sorted(p.stem for p in (Path(evosearch.__file__).parent / "search_spaces").glob("*.yaml"))
for name in spaces:
    SearchSpace.load(name)
for name in ("default", "edgebert-energy", "edgebert-onchip", "cpu", "proxies", "three-way"):
    ObjectiveSet.load(name)
for name in list_shipped_targets():
    load_target(name)
print(len(spaces), len(list_shipped_targets()))
"""


def test_wheel_install_finds_its_yaml(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, cwd=tmp_path)
    wheel = next(wheels.glob("evosearch-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, cwd=tmp_path)
    out = subprocess.run([sys.executable, "-c", CHECK, str(target)], check=True, cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    spaces, targets = map(int, out.stdout.split())
    assert spaces == 7 and targets == 2


def test_importing_evosearch_sets_the_thread_policy_unless_the_user_did():
    import os
    import subprocess
    import sys

    code = "import os, evosearch; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "ACTIVE"
