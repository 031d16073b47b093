"""Time the ONNX Runtime deployment: each segment call, or each sentence end to end.

Protocol: one sentence at a time (batch 1), a fixed number of ONNX Runtime intra-op threads,
``warmup`` untimed runs, then ``repeats`` timed runs with ``time.perf_counter``; the fastest run
is the sentence's latency (on a shared machine other processes only ever add time, so the
minimum is the most repeatable statistic).
"""

from __future__ import annotations

import time

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
    return _fastest(runner, sentence, repeats, warmup, early_exit=False)


def _fastest(runner, sentence, repeats: int, warmup: int, early_exit: bool) -> float:
    if repeats < 1 or warmup < 0:
        raise LatencyError(f"repeats={repeats}, warmup={warmup}: need repeats >= 1 and warmup >= 0")
    best = float("inf")
    for r in range(warmup + repeats):
        start = time.perf_counter()
        runner.predict(*sentence, early_exit=early_exit)
        elapsed = (time.perf_counter() - start) * 1e3
        if r >= warmup:
            best = min(best, elapsed)
    return best


def time_to_exit(runner, sentence, segment: int, repeats: int = 5, warmup: int = 2) -> float:
    """Fastest time (ms) of one sentence that leaves at exit segment ``segment`` (0-based) of an
    :class:`OnnxRunner`: the deployment's early-exit path, each exit before it tested and not
    taken, the one at ``segment`` taken, whatever the logits say. Sentences that leave at varied
    depths are what tells the embeddings and each segment call apart from the layers' own time."""
    manifest = runner.manifest
    forced = [dict(s, exit_threshold=0.0 if k < segment else None) for k, s in enumerate(manifest["segments"][:segment + 1])]
    runner.manifest = {**manifest, "segments": forced + manifest["segments"][segment + 1:]}
    try:
        return _fastest(runner, sentence, repeats, warmup, early_exit=True)
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
