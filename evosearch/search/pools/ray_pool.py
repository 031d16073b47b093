"""Parallel evaluation with Ray actors, each holding one supernet replica.

The supernet's state dict and the dev batches are put into the object store once
(``ray.put``); every :class:`EvalWorker` actor builds its own :class:`Evaluator` from them
(with its own exit-logit cache). A generation's genomes are grouped by architecture (genomes
that differ only in exit thresholds go to the same actor, so its cache answers them) and the
groups are dealt out as tasks; an idle actor takes the next task.

Results are placed by index and reported in input order, so 1 worker and N workers give identical
records in the same order (candidate ids do not depend on the number of workers).

Faults (what a real cluster does: a crashed process, a lost node, a hung actor):

* a task whose actor dies (``RayActorError``) or that runs past ``task_timeout_s`` goes back on the
  queue, and whichever live actor is idle next takes it; the dead (or hung, then killed) actor's
  slot gets a replacement, which takes work only once it answers a ``ready`` call. A replacement
  that cannot start within ``start_timeout_s`` (a lost node's CPUs are gone) is given up, and the
  search goes on with the actors it has;
* a task that failed twice is split into one task per genome, and a genome whose task fails
  twice on its own is *isolated*: it comes back as a failed :class:`Record` (``error`` set,
  objectives at :data:`FAILED_VALUE`, so it never reaches a front) instead of aborting the search;
* with no live actor left and none starting, the pool stops with an error naming the cause;
  it never waits without a deadline.

``address=None`` starts a local Ray with ``num_workers`` CPUs, even when a cluster already runs on
this machine; ``"auto"`` or ``"HOST:PORT"`` joins an existing cluster (every node needs evosearch
installed; :func:`check_ray_address`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from ...errors import EvosearchError
from ...spaces import BoundSpace
from ..evaluator import Record
from ..objectives import ObjectiveSet

_WORKER_CLASS = None
CONNECT_TIMEOUT_S = 5.0
#: The objective and constraint values of a genome that crashed its actor on every attempt.
FAILED_VALUE = 1e30
ATTEMPTS = 2  # failures of a task before it is split (several genomes) or its genome isolated (one)


class Task(NamedTuple):
    """Genomes (by index) one actor scores in one call."""

    indices: list[int]
    anchor: tuple | None = None  # local search: the genome whose hidden states they start from
    slot: int | None = None  # the actor that should take it (its cache holds them), if any
    sticky: bool = False  # only that actor takes it (elsewhere it would cost model runs)
    attempts: int = 0  # failures so far


def check_ray_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail within seconds, with a clear message, on an address evosearch cannot use: a Ray Client
    address (``ray://``: not supported, see below) or a ``HOST:PORT`` where nothing listens (Ray
    itself retries for minutes). ``auto`` is left to Ray.

    Ray Client is not offered: it needs the ``ray[client]`` extra, its connection drops end a
    long search, and Ray recommends running the driver on the cluster instead. Run the search
    on the head node (over ssh or in a batch job) with ``--ray-address auto``."""
    import socket

    if address.startswith("ray://"):
        raise EvosearchError(f"--ray-address {address!r}: Ray Client (ray://) addresses are not supported; run "
                             "evosearch on a node of the cluster (the head, over ssh or in a batch job) with "
                             "--ray-address auto, or give the head's HOST:PORT (docs/cluster.md)")
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        port_number = int(port)
    except ValueError:
        raise EvosearchError(f"--ray-address {address!r}: expected HOST:PORT (the head's GCS port, 6379 by "
                             "default) or auto") from None
    try:
        socket.create_connection((host or "127.0.0.1", port_number), timeout=timeout).close()
    except OSError as err:
        raise EvosearchError(f"cannot reach the Ray cluster at {address!r} within {timeout:g} s ({err}); is it "
                             "running (`ray start --head`), and is the address right?") from None


def _worker_class():
    global _WORKER_CLASS
    if _WORKER_CLASS is None:
        import ray

        @ray.remote(num_cpus=1, max_restarts=0)
        class EvalWorker:
            def __init__(self, arch, span_ramp, state, batches, space, objectives, latency_model=None,
                         int8_engine=True, threads=1, cache_size=512):
                import torch

                from evosearch.supernet import Supernet
                from evosearch.search.evaluator import Evaluator

                torch.set_num_threads(threads)
                supernet = Supernet(arch, span_ramp=span_ramp)
                supernet.load_state_dict(state)
                self.evaluator = Evaluator(supernet, batches, space, objectives, cache_size=cache_size,
                                           latency_model=latency_model, int8_engine=int8_engine)

            def ready(self):
                return True

            def evaluate(self, genomes, anchor=None):
                before = self.evaluator.forward_calls
                if anchor is not None:
                    self.evaluator.anchor(self.evaluator.space.decode(anchor)[0])
                recs = [self.evaluator.evaluate(g, early_exit_only=anchor is not None) for g in genomes]
                return recs, self.evaluator.forward_calls - before

        _WORKER_CLASS = EvalWorker
    return _WORKER_CLASS


class RayPool:
    """A pool of Ray actors that evaluate genomes; an :class:`~evosearch.search.pools.EvalPool` like :class:`LocalPool`.

    ``task_timeout_s``: a task running longer is taken as hung (its actor is killed and replaced,
    the task re-queued); ``start_timeout_s``: how long a replacement actor may take to start.
    ``on_dispatch``: called with the pool after each round of task submission (a hook for
    fault-injection tests: ``pool.running`` maps each running task's ref to ``(slot, genomes)``).
    ``latency_model``: the CPU latency model of ``cpu_latency_ms`` (the driver's), shipped to every worker.
    Counters: ``failures`` (actor deaths and timeouts), ``timeouts``, ``isolated`` (genomes recorded
    as failed), ``lost_slots`` (replacements given up).
    """

    def __init__(self, supernet, batches: Sequence[Mapping], space: BoundSpace, objectives: ObjectiveSet,
                 num_workers: int = 2, address: str | None = None, threads_per_worker: int = 1,
                 tasks_per_worker: int = 2, task_timeout_s: float | None = 1800.0, start_timeout_s: float = 600.0,
                 on_dispatch: Callable[["RayPool"], None] | None = None, latency_model=None,
                 int8_engine: bool = True):
        import ray

        if num_workers < 1:
            raise EvosearchError(f"num_workers={num_workers}; a Ray pool needs >= 1 (use LocalPool for 0)")
        self._started_ray = False
        if not ray.is_initialized():
            if address:
                check_ray_address(address)
                try:
                    ray.init(address=address, include_dashboard=False, logging_level="WARNING")
                except (ConnectionError, RuntimeError, ValueError) as err:
                    hint = ""
                    if os.environ.get("RAY_AUTH_MODE") != "token":
                        hint = ("; if the cluster uses token authentication (`ray start --head` turns it on since "
                                "Ray 2.59), set RAY_AUTH_MODE=token here and make the cluster's token available "
                                "(~/.ray/auth_token, or RAY_AUTH_TOKEN; `ray get-auth-token` on the head prints it): "
                                "docs/cluster.md")
                    raise EvosearchError(f"cannot connect to the Ray cluster at {address!r}: {err}{hint}") from None
            else:  # a Ray of our own, even when a cluster already runs on this machine (join one with --ray-address)
                ray.init(address="local", num_cpus=num_workers, include_dashboard=False, logging_level="WARNING")
            self._started_ray = True
        self.num_workers = num_workers
        self.threads = threads_per_worker
        self.tasks_per_worker = tasks_per_worker
        self.task_timeout_s, self.start_timeout_s = task_timeout_s, start_timeout_s
        self.on_dispatch = on_dispatch
        self.space, self.objectives = space, objectives
        state = {k: v.detach().cpu() for k, v in supernet.state_dict().items()}
        # the driver's latency model travels with the task: workers never look for (or calibrate) their own
        self._args = (supernet.arch, supernet.span_ramp, ray.put(state), ray.put(list(batches)), space, objectives,
                      latency_model, int8_engine)
        self.actors = [self._spawn() for _ in range(num_workers)]
        self.forward_calls = 0
        self.failures = self.timeouts = self.isolated = self.lost_slots = 0
        self.running: dict = {}
        self.starting: dict = {}  # ready-call ref of a replacement actor -> (slot, started); kept across calls
        self.affinity: dict = {}  # architecture (SubnetConfig) -> the slot whose actor has its exit logits cached

    def _spawn(self):
        return _worker_class().remote(*self._args, threads=self.threads)

    def _live_slots(self) -> list[int]:
        """Slots whose actor is alive and not a replacement still starting."""
        waking = {slot for slot, _ in self.starting.values()}
        return [slot for slot, actor in enumerate(self.actors) if actor is not None and slot not in waking]

    def _tasks(self, genomes, anchors=None) -> list[Task]:
        """Tasks of ``genomes``. Without anchors: indices grouped by
        architecture, each architecture sent to the actor that has it cached. With anchors: each
        anchor's genomes dealt into one task per actor (an actor keeps the anchor's hidden states
        for its next task)."""
        if anchors is not None:  # one anchor's neighbours split over the actors: each starts from its own copy
            by_anchor: dict = {}
            for i, anchor in enumerate(anchors):
                by_anchor.setdefault(tuple(anchor), []).append(i)
            tasks = []
            for anchor, members in by_anchor.items():
                n = max(1, min(len(members), self.num_workers))
                tasks += [Task(members[j::n], anchor) for j in range(n)]
            return tasks
        groups: dict = {}
        for i, g in enumerate(genomes):
            config, _ = self.space.decode(g)
            groups.setdefault(config, []).append(i)
        # cache affinity: an architecture goes to the actor that scored it before (its exit logits are
        # cached there: "sticky" tasks, which no other actor takes, since there they would cost a
        # model run); new architectures go to the least loaded actor, and an idle actor with nothing
        # of its own takes another's non-sticky task.
        live = self._live_slots() or [0]
        load = {slot: 0 for slot in live}
        share: dict = {(slot, sticky): [] for slot in live for sticky in (True, False)}
        for config, members in sorted(groups.items(), key=lambda item: item[1][0]):
            slot = self.affinity.get(config)
            sticky = slot in load
            if not sticky:
                slot = min(live, key=lambda s: (load[s], s))
                self.affinity[config] = slot
            load[slot] += len(members)
            share[(slot, sticky)].append(members)
        tasks = []
        for (slot, sticky), member_groups in share.items():
            n = max(1, min(len(member_groups), self.tasks_per_worker))
            bins = [[] for _ in range(n)]
            for j, members in enumerate(member_groups):
                bins[j % n].extend(members)
            tasks += [Task(sorted(b), None, slot, sticky) for b in bins if b]
        return sorted(tasks, key=lambda t: t.indices[0])

    def failed_record(self, genome: tuple, error: str) -> Record:
        """The record of a genome that crashed its actor on every attempt (never on a front)."""
        config, thresholds = self.space.decode(genome)
        return Record(genome, config.to_dict(), tuple(thresholds), {},
                      (FAILED_VALUE,) * len(self.objectives.objectives),
                      (FAILED_VALUE,) * len(self.objectives.constraints), error=error)

    def evaluate(self, genomes: Sequence[Sequence[int]], on_result: Callable[[int, Record], None] | None = None,
                 anchors: Sequence[Sequence[int]] | None = None):
        import time

        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        genomes = [tuple(int(v) for v in g) for g in genomes]
        out: list[Record | None] = [None] * len(genomes)
        pending = deque(self._tasks(genomes, anchors))
        tasks: dict = {}  # running ref -> (slot, task, started)
        starting = self.starting
        idle = self._live_slots()
        emitted, failures = 0, 0
        most = 3 * self.num_workers + 2 * ATTEMPTS * len(genomes)  # a few per actor, and isolating every genome

        def emit() -> None:
            nonlocal emitted
            while emitted < len(out) and out[emitted] is not None:  # in input order, whatever finished first:
                if on_result:                                          # candidate ids do not depend on the workers
                    on_result(emitted, out[emitted])
                emitted += 1

        def unstick(slot) -> None:  # that actor's cache is gone: anyone may take its tasks
            for k, t in enumerate(pending):
                if t.slot == slot:
                    pending[k] = t._replace(slot=None, sticky=False)

        def replace(slot, why: str) -> None:
            """A fresh actor in ``slot`` (the old one is killed); it takes work once it is ready."""
            nonlocal failures
            failures += 1
            self.failures += 1
            if failures > most:
                raise EvosearchError(f"Ray workers failed {failures} times in one call; giving up (last: {why})")
            try:
                ray.kill(self.actors[slot], no_restart=True)
            except Exception:  # noqa: BLE001 - already dead
                pass
            self.actors[slot] = self._spawn()
            starting[self.actors[slot].ready.remote()] = (slot, time.monotonic())
            self.affinity = {c: s for c, s in self.affinity.items() if s != slot}  # that cache is gone
            unstick(slot)

        def fail(slot, task: Task, why: str) -> None:
            replace(slot, why)
            if task.attempts + 1 < ATTEMPTS:
                pending.appendleft(task._replace(slot=None, sticky=False, attempts=task.attempts + 1))
            elif len(task.indices) > 1:  # split: find the genome that brings the actor down
                pending.extendleft(Task([i], task.anchor) for i in reversed(task.indices))
            else:
                out[task.indices[0]] = self.failed_record(genomes[task.indices[0]], why)
                self.isolated += 1

        while pending or tasks:
            submitted = False
            for slot in list(idle):
                task = (next((t for t in pending if t.slot == slot), None)  # its own work first, then
                        or next((t for t in pending if not t.sticky), None))  # anything not cached elsewhere
                if task is None:
                    continue
                idle.remove(slot)
                pending.remove(task)
                ref = self.actors[slot].evaluate.remote([genomes[i] for i in task.indices], task.anchor)
                tasks[ref] = (slot, task, time.monotonic())
                submitted = True
            self.running = {ref: (slot, [genomes[i] for i in t.indices]) for ref, (slot, t, _) in tasks.items()}
            if submitted and self.on_dispatch:
                self.on_dispatch(self)
            if not tasks and not starting:
                raise EvosearchError(f"no Ray worker is alive and none can be started ({self.lost_slots} lost, "
                                     f"{self.failures} failures); the cluster has no free CPU for an actor. Resume "
                                     "the search (--resume) once the cluster is back")
            now = time.monotonic()
            deadlines = [started + self.start_timeout_s for _, started in starting.values()]
            if self.task_timeout_s is not None:
                deadlines += [started + self.task_timeout_s for _, _, started in tasks.values()]
            wait = max(0.05, min(deadlines) - now) if deadlines else None
            ready, _ = ray.wait(list(tasks) + list(starting), num_returns=1, timeout=wait)
            now = time.monotonic()
            # deadlines, checked on every pass (not only when nothing finished): replacements that
            # cannot start are given up, hung tasks re-queued
            for ref, (slot, started) in list(starting.items()):
                if ref not in ready and now - started >= self.start_timeout_s:
                    del starting[ref]
                    ray.kill(self.actors[slot], no_restart=True)
                    self.actors[slot] = None
                    self.lost_slots += 1
                    unstick(slot)
            for ref, (slot, task, started) in list(tasks.items()):
                if ref not in ready and self.task_timeout_s is not None and now - started >= self.task_timeout_s:
                    del tasks[ref]
                    self.timeouts += 1
                    fail(slot, task, f"timed out after {self.task_timeout_s:g} s")
            if not ready:
                emit()
                continue
            ref = ready[0]
            if ref in starting:
                slot, _ = starting.pop(ref)
                try:
                    ray.get(ref, timeout=0)
                    idle.append(slot)
                except (RayActorError, RayTaskError, GetTimeoutError) as err:  # the replacement died too
                    replace(slot, f"a replacement actor died while starting: {type(err).__name__}")
                continue
            slot, task, _ = tasks.pop(ref)
            try:
                recs, calls = ray.get(ref)
            except RayActorError as err:
                fail(slot, task, f"the actor died: {type(err).__name__}: {str(err).splitlines()[0][:300]}")
            else:
                self.forward_calls += calls
                for i, rec in zip(task.indices, recs):
                    out[i] = rec
                    if task.anchor is None:
                        self.affinity[self.space.decode(genomes[i])[0]] = slot  # where it is cached now
                idle.append(slot)
            emit()
        emit()
        self.running = {}
        return out

    def close(self):
        import ray

        for actor in self.actors:
            if actor is None:
                continue
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        self.actors = []
        if self._started_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
