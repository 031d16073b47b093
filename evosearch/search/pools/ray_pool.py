"""Parallel evaluation with Ray actors, each holding one supernet replica.

The supernet's state dict and the dev batches are put into the object store once
(``ray.put``); every :class:`EvalWorker` actor builds its own :class:`Evaluator` from them
(with its own exit-logit cache). A generation's genomes are grouped by architecture (genomes
that differ only in exit thresholds go to the same actor, so its cache answers them) and the
groups are dealt out as tasks; an idle actor takes the next task.

Results are placed by index and reported in input order, so 1 worker and N workers give identical
records in the same order (candidate ids do not depend on the number of workers). When an actor
dies (``RayActorError``: a crashed process, a lost node, ``ray.kill``), its task goes back on the
queue and a fresh actor replaces it; after ``max_failures`` deaths in one call the pool gives up.

``address=None`` starts a local Ray with ``num_workers`` CPUs; ``"auto"`` or ``"ray://host:10001"``
joins an existing cluster (every node needs evosearch installed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence

from ...errors import EvosearchError
from ...spaces import BoundSpace
from ..evaluator import Record
from ..objectives import ObjectiveSet

_WORKER_CLASS = None
CONNECT_TIMEOUT_S = 5.0


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail within seconds, with a clear message, when nothing listens at a ``HOST:PORT`` or
    ``ray://HOST:PORT`` address (Ray itself retries for minutes). ``auto`` is left to Ray."""
    import socket

    target = address.split("://", 1)[-1]
    if address == "auto" or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        port_number = int(port)
    except ValueError:
        raise EvosearchError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto") from None
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
            def __init__(self, arch, span_ramp, state, batches, space, objectives, latency_model=None, threads=1,
                         cache_size=512):
                import torch

                from evosearch.supernet import Supernet
                from evosearch.search.evaluator import Evaluator

                torch.set_num_threads(threads)
                supernet = Supernet(arch, span_ramp=span_ramp)
                supernet.load_state_dict(state)
                self.evaluator = Evaluator(supernet, batches, space, objectives, cache_size=cache_size,
                                           latency_model=latency_model)

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

    ``on_dispatch``: called with the pool after each round of task submission (a hook for
    fault-injection tests, e.g. ``ray.kill(pool.actors[0])``). ``latency_model``: the CPU latency
    model of ``cpu_latency_ms`` (the driver's), shipped to every worker.
    """

    def __init__(self, supernet, batches: Sequence[Mapping], space: BoundSpace, objectives: ObjectiveSet,
                 num_workers: int = 2, address: str | None = None, threads_per_worker: int = 1,
                 tasks_per_worker: int = 2, max_failures: int | None = None,
                 on_dispatch: Callable[["RayPool"], None] | None = None, latency_model=None):
        import ray

        if num_workers < 1:
            raise EvosearchError(f"num_workers={num_workers}; a Ray pool needs >= 1 (use LocalPool for 0)")
        self._started_ray = False
        if not ray.is_initialized():
            if address:
                check_reachable(address)
                try:
                    ray.init(address=address, include_dashboard=False, logging_level="WARNING")
                except (ConnectionError, RuntimeError, ValueError) as err:
                    raise EvosearchError(f"cannot connect to the Ray cluster at {address!r}: {err}") from None
            else:  # a Ray of our own, even when a cluster already runs on this machine (join one with --ray-address)
                ray.init(address="local", num_cpus=num_workers, include_dashboard=False, logging_level="WARNING")
            self._started_ray = True
        self.num_workers = num_workers
        self.threads = threads_per_worker
        self.tasks_per_worker = tasks_per_worker
        self.max_failures = max_failures if max_failures is not None else 3 * num_workers
        self.on_dispatch = on_dispatch
        self.space = space
        state = {k: v.detach().cpu() for k, v in supernet.state_dict().items()}
        # the driver's latency model travels with the task: workers never look for (or calibrate) their own
        self._args = (supernet.arch, supernet.span_ramp, ray.put(state), ray.put(list(batches)), space, objectives,
                      latency_model)
        self.actors = [self._spawn() for _ in range(num_workers)]
        self.forward_calls = 0
        self.failures = 0

    def _spawn(self):
        return _worker_class().remote(*self._args, threads=self.threads)

    def _tasks(self, genomes, anchors=None) -> list[tuple[list[int], tuple | None]]:
        """``(indices, anchor)`` tasks. Without anchors: indices grouped by architecture, then dealt
        into at most workers x tasks_per_worker bins. With anchors: each anchor's genomes dealt into
        one task per actor (an actor keeps the anchor's hidden states for its next task)."""
        if anchors is not None:  # one anchor's neighbours split over the actors: each starts from its own copy
            by_anchor: dict = {}
            for i, anchor in enumerate(anchors):
                by_anchor.setdefault(tuple(anchor), []).append(i)
            tasks = []
            for anchor, members in by_anchor.items():
                n = max(1, min(len(members), self.num_workers))
                tasks += [(members[j::n], anchor) for j in range(n)]
            return tasks
        groups: dict = {}
        for i, g in enumerate(genomes):
            config, _ = self.space.decode(g)
            groups.setdefault(config, []).append(i)
        n = max(1, min(len(groups), self.num_workers * self.tasks_per_worker))
        bins = [[] for _ in range(n)]
        for j, members in enumerate(sorted(groups.values(), key=lambda m: m[0])):
            bins[j % n].extend(members)
        return [(sorted(b), None) for b in bins if b]

    def evaluate(self, genomes: Sequence[Sequence[int]], on_result: Callable[[int, Record], None] | None = None,
                 anchors: Sequence[Sequence[int]] | None = None):
        import ray
        from ray.exceptions import RayActorError

        genomes = [tuple(int(v) for v in g) for g in genomes]
        out: list[Record | None] = [None] * len(genomes)
        pending = deque(self._tasks(genomes, anchors))
        running = {}
        idle = list(range(len(self.actors)))
        failures = 0
        emitted = 0
        while pending or running:
            submitted = False
            while pending and idle:
                slot = idle.pop(0)
                task = pending.popleft()
                ref = self.actors[slot].evaluate.remote([genomes[i] for i in task[0]], task[1])
                running[ref] = (slot, task)
                submitted = True
            if submitted and self.on_dispatch:
                self.on_dispatch(self)
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            slot, task = running.pop(ref)
            try:
                recs, calls = ray.get(ref)
            except RayActorError as err:
                failures += 1
                self.failures += 1
                if failures > self.max_failures:
                    raise EvosearchError(f"Ray workers died {failures} times in one generation; giving up "
                                         f"(last error: {err})") from None
                try:
                    ray.kill(self.actors[slot], no_restart=True)
                except Exception:  # noqa: BLE001 - already dead
                    pass
                self.actors[slot] = self._spawn()
                pending.appendleft(task)  # re-run its genomes on the fresh actor (or any idle one)
                idle.append(slot)
                continue
            self.forward_calls += calls
            for i, rec in zip(task[0], recs):
                out[i] = rec
            while emitted < len(out) and out[emitted] is not None:  # in input order, whatever finished first:
                if on_result:                                          # candidate ids do not depend on the workers
                    on_result(emitted, out[emitted])
                emitted += 1
            idle.append(slot)
        return out

    def close(self):
        import ray

        for actor in self.actors:
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
