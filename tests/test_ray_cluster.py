"""A real two-node Ray cluster on this machine, started with `ray start` as docs/cluster.md says
(token authentication on, as `ray start --head` has it since Ray 2.59): a search joined to it
equals the in-process one; with the cluster running, `--workers N` without an address starts a
Ray of its own; and when the second node's raylet is killed mid-search, the search ends with the
in-process records instead of hanging."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from .tiny_runs import make_checkpoint, make_run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEARCH = ["--space", "small", "--objectives", "default", "--population", "8", "--dev-subset", "0",
          "--batch-size", "16", "--seed", "0", "--no-local-search", "--no-progress"]


def _free_port() -> int:
    """A free port from the ephemeral range (outside Ray's worker ports, 10002-19999)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a `ray start --block` and every process of its node (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the node's other processes share the group; make sure none is left
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def _nodes_alive(address: str, env: dict) -> int:
    code = "import ray; ray.init(address=%r, logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    out = subprocess.run([sys.executable, "-c", code % address], env=env, capture_output=True, text=True, timeout=120)
    return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("ray") is None:
        pytest.skip("the `ray` command is not on PATH")
    tmp = tmp_path_factory.mktemp("cluster")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    env.pop("RAY_ADDRESS", None)
    nodes = []
    try:
        for args in (["--head", f"--port={port}", "--include-dashboard=false"], [f"--address={address}"]):
            log = open(tmp / f"node{len(nodes)}.log", "w")
            nodes.append(subprocess.Popen(["ray", "start", *args, "--num-cpus=1", "--block"], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
            deadline = time.monotonic() + 180
            while _nodes_alive(address, env) < len(nodes):
                assert nodes[-1].poll() is None, (tmp / f"node{len(nodes) - 1}.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the Ray node did not come up within 180 s"
                time.sleep(2)
        yield {"address": address, "env": env, "nodes": nodes, "tmp": tmp, "ckpt": make_checkpoint(tmp / "ckpt")}
    finally:
        for node in reversed(nodes):
            _stop(node)
        # what `ray stop` would do for this cluster alone: forget it as the machine's current one, so
        # that a later ray.init() without an address does not try to join the dead cluster
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


def _search(cluster, name: str, *extra: str, timeout: float = 300) -> Path:
    results = cluster["tmp"] / "results"
    argv = [sys.executable, "-m", "evosearch", "search", "--supernet", str(cluster["ckpt"]), "--results", str(results),
            "--run-name", name, "--generations", "2", *SEARCH, *extra]
    out = subprocess.run(argv, env=cluster["env"], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return results / name


def _rows(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "candidates.csv").drop(columns=["eval_time_s", "cached_model"])


def _in_process(cluster, generations: int) -> pd.DataFrame:
    folder = cluster["tmp"] / f"local{generations}" / "results" / "run"
    if not folder.exists():
        make_run(folder.parents[1], cluster["ckpt"], generations=generations, population=8, extra=["--workers", "0"])
    return _rows(folder)


def test_search_joined_to_two_nodes_equals_in_process(cluster):
    folder = _search(cluster, "joined", "--ray-address", cluster["address"], "--workers", "2")
    pd.testing.assert_frame_equal(_rows(folder), _in_process(cluster, 2))


def test_workers_without_an_address_start_their_own_ray_beside_the_cluster(cluster):
    folder = _search(cluster, "own", "--workers", "1")
    pd.testing.assert_frame_equal(_rows(folder), _in_process(cluster, 2))
    assert _nodes_alive(cluster["address"], cluster["env"]) == 2  # the cluster was neither joined nor harmed


def test_second_node_raylet_killed_mid_search(cluster):
    """The second node's raylet is killed (SIGKILL) once the first generation is scored, so the
    second generation is dispatched to a node that is gone: its actor's tasks fail and go to the
    head's actor, the replacement that finds no free CPU is left waiting, and the run ends with
    the in-process records."""
    raylet = next(p for p in psutil.Process(cluster["nodes"][1].pid).children(recursive=True) if p.name() == "raylet")
    script = (
        "import os, signal, sys\n"
        "from evosearch import api\n"
        "def kill(stats):\n"
        "    if stats.generation == 0:\n"
        f"        os.kill({raylet.pid}, signal.SIGKILL)\n"
        f"api.search({str(cluster['ckpt'])!r}, space='small', objectives='default', folder=sys.argv[1],\n"
        f"           generations=3, population=8, dev_subset=0, batch_size=16, seed=0, local_search=False,\n"
        f"           workers=2, ray_address={cluster['address']!r}, progress=False, on_generation=kill)\n")
    folder = cluster["tmp"] / "results" / "lost-node"
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script, str(folder)], env=cluster["env"], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert not raylet.is_running()
    pd.testing.assert_frame_equal(_rows(folder), _in_process(cluster, 3))
    print(f"search with a lost node: {time.monotonic() - started:.0f} s")
