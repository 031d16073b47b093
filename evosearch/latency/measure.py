"""Time the ONNX Runtime deployment: each segment call, or each sentence end to end.

Protocol: one sentence at a time (batch 1), a fixed number of ONNX Runtime intra-op threads,
``warmup`` untimed runs, then ``repeats`` timed runs with ``time.perf_counter``; the fastest run
is the sentence's latency (on a shared machine other processes only ever add time, so the
minimum is the most repeatable statistic).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from .errors import LatencyError


def random_sentence(vocab_size: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random token ids (never 0, the usual padding id), an all-ones mask and zero token types, shape (1, length)."""
    if length < 1:
        raise LatencyError(f"sentence length {length}; give at least 1 token")
    ids = rng.integers(1, max(2, vocab_size), size=(1, length), dtype=np.int64)
    return ids, np.ones_like(ids), np.zeros_like(ids)


def time_full_depth(runner, sentence, repeats: int = 5, warmup: int = 2) -> float:
    """Fastest time (ms) of one sentence run end to end through every segment (no early exit):
    :meth:`OnnxRunner.predict`'s whole code path, each segment's session call and exit test included."""
    if repeats < 1 or warmup < 0:
        raise LatencyError(f"repeats={repeats}, warmup={warmup}: need repeats >= 1 and warmup >= 0")
    best = float("inf")
    for r in range(warmup + repeats):
        start = time.perf_counter()
        runner.predict(*sentence, early_exit=False)
        elapsed = (time.perf_counter() - start) * 1e3
        if r >= warmup:
            best = min(best, elapsed)
    return best


def time_exits(runner, jobs, repeats: int = 5, warmup: int = 1) -> np.ndarray:
    """Fastest time (ms) of each ``(sentence, segment)`` job of an :class:`OnnxRunner`: the
    sentence leaves at exit segment ``segment`` (0-based) by the deployment's early-exit path,
    each exit before it tested and not taken, the one at ``segment`` taken whatever the logits
    say. The jobs run in rounds, one after another, as a deployment
    runs its sentences: what the cache holds is what the previous sentences, leaving at other
    depths, left there, not the same sentence's weights. Sentences that leave at varied depths
    are what tells the embeddings and each segment call apart from the layers' own time."""
    if repeats < 1 or warmup < 0:
        raise LatencyError(f"repeats={repeats}, warmup={warmup}: need repeats >= 1 and warmup >= 0")
    best = np.full(len(jobs), np.inf)
    for r in range(warmup + repeats):
        for i, (sentence, segment) in enumerate(jobs):
            with _leaving_at(runner, segment):
                start = time.perf_counter()
                runner.predict(*sentence)
                elapsed = (time.perf_counter() - start) * 1e3
            if r >= warmup:
                best[i] = min(best[i], elapsed)
    return best


@contextmanager
def _leaving_at(runner, segment: int):
    """The runner with every exit before ``segment`` closed and the one at ``segment`` always taken."""
    manifest = runner.manifest
    forced = [dict(s, exit_threshold=0.0 if k < segment else None)
              for k, s in enumerate(manifest["segments"][:segment + 1])]
    runner.manifest = {**manifest, "segments": forced + manifest["segments"][segment + 1:]}
    try:
        yield runner
    finally:
        runner.manifest = manifest


def time_sentences(runner, sentences, repeats: int = 3, warmup: int = 1):
    """``(exit_layers, ms)`` of each ``(ids, mask, types)`` sentence run end to end with early exit
    (fastest of ``repeats`` runs)."""
    exits, times = [], []
    for ids, mask, types in sentences:
        best = float("inf")
        for r in range(warmup + repeats):
            start = time.perf_counter()
            _, exit_layer = runner.predict(ids, mask, types)
            elapsed = (time.perf_counter() - start) * 1e3
            if r >= warmup:
                best = min(best, elapsed)
        exits.append(int(exit_layer[0]))
        times.append(best)
    return np.array(exits), np.array(times)
