"""Measure one inference of an extracted sub-network on this CPU.

Protocol: ``torch.inference_mode()``, a fixed number of intra-op threads (set for the
measurement and restored after), ``warmup`` untimed runs, then ``repeats`` timed runs with
``time.perf_counter``; the median is the latency, the inter-quartile range its spread. Inputs
are random token ids with a full attention mask (every sequence exactly ``seq_len`` tokens).
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch

from ..supernet import SubnetConfig, Supernet
from .errors import LatencyError
from .runtime import INT8_MAX_BITS, inference_model


# "min" is the most repeatable on a shared machine: other processes only ever add time.
STATISTICS = ("median", "min", "mean", "q1")


@dataclass(frozen=True)
class LatencyMeasurement:
    """One measured latency: median and spread of ``repeats`` timed runs, in milliseconds."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    min_ms: float
    mean_ms: float
    repeats: int
    warmup: int
    batch_size: int
    seq_len: int
    threads: int
    int8: bool = False
    samples_ms: tuple[float, ...] = field(default=(), repr=False)

    @property
    def iqr_ms(self) -> float:
        return self.q3_ms - self.q1_ms

    def value(self, statistic: str = "median") -> float:
        """The latency by ``statistic``: "median", "min", "mean" or "q1" (ms)."""
        if statistic not in STATISTICS:
            raise LatencyError(f"statistic={statistic!r}; allowed: {', '.join(STATISTICS)}")
        return getattr(self, f"{statistic}_ms")

    def to_dict(self, samples: bool = False) -> dict:
        data = asdict(self)
        data["iqr_ms"] = self.iqr_ms
        if not samples:
            data.pop("samples_ms")
        else:
            data["samples_ms"] = list(self.samples_ms)
        return data


@dataclass(frozen=True)
class SubnetLatency:
    """A sub-network measured as float and, when some layer is at <= 8 bits, with int8 linears."""

    fp32: LatencyMeasurement
    int8: LatencyMeasurement | None = None

    @property
    def best(self) -> LatencyMeasurement:
        """The faster deployment (int8 only where it is faster)."""
        if self.int8 is not None and self.int8.median_ms < self.fp32.median_ms:
            return self.int8
        return self.fp32

    @property
    def int8_speedup(self) -> float | None:
        return None if self.int8 is None else self.fp32.median_ms / self.int8.median_ms

    def to_dict(self) -> dict:
        return {
            "fp32": self.fp32.to_dict(),
            "int8": None if self.int8 is None else self.int8.to_dict(),
            "best_ms": self.best.median_ms,
            "int8_speedup": self.int8_speedup,
        }


@contextmanager
def num_threads(threads: int | None):
    """Run the block with ``threads`` intra-op threads (None: leave as is), then restore."""
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise LatencyError(f"threads={threads}; give a positive number of threads")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def random_inputs(vocab_size: int, batch_size: int, seq_len: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids (avoiding id 0, the usual padding id) and an all-ones attention mask."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, max(2, vocab_size), (batch_size, seq_len), generator=generator)
    return ids, torch.ones_like(ids)


def time_callable(fn, repeats: int, warmup: int) -> list[float]:
    """Run ``fn()`` ``warmup`` times untimed, then return ``repeats`` wall times in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def summarize(samples: list[float], *, warmup: int, batch_size: int, seq_len: int, threads: int, int8: bool = False) -> LatencyMeasurement:
    ordered = sorted(samples)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return LatencyMeasurement(
        median_ms=statistics.median(ordered),
        q1_ms=q1,
        q3_ms=q3,
        min_ms=ordered[0],
        mean_ms=statistics.fmean(ordered),
        repeats=len(ordered),
        warmup=warmup,
        batch_size=batch_size,
        seq_len=seq_len,
        threads=threads,
        int8=int8,
        samples_ms=tuple(ordered),
    )


def measure_latency(
    model: torch.nn.Module,
    *,
    batch_size: int = 1,
    seq_len: int = 32,
    repeats: int = 30,
    warmup: int = 5,
    threads: int | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
) -> LatencyMeasurement:
    """Median latency of ``model(input_ids, attention_mask)`` on this CPU.

    ``model`` is an extracted sub-network (:func:`evosearch.supernet.extract`) or an
    :class:`~evosearch.latency.runtime.InferenceModel`; ``vocab_size`` defaults to
    ``model.arch.vocab_size``.
    """
    if repeats < 1 or warmup < 0 or batch_size < 1 or seq_len < 1:
        raise LatencyError(
            f"repeats={repeats}, warmup={warmup}, batch_size={batch_size}, seq_len={seq_len}: "
            "repeats, batch size and sequence length must be >= 1 and warmup >= 0"
        )
    arch = getattr(model, "arch", None)
    if arch is not None and seq_len > arch.max_position_embeddings:
        raise LatencyError(f"seq_len={seq_len} exceeds the model's {arch.max_position_embeddings} positions")
    vocab = vocab_size or (arch.vocab_size if arch is not None else 2)
    ids, mask = random_inputs(vocab, batch_size, seq_len, seed)
    was_training = model.training
    model.eval()
    try:
        with num_threads(threads) as used, torch.inference_mode():
            samples = time_callable(lambda: model(ids, mask), repeats, warmup)
    finally:
        model.train(was_training)
    return summarize(
        samples, warmup=warmup, batch_size=batch_size, seq_len=seq_len, threads=used,
        int8=any(getattr(model, "int8_layers", ())),
    )


def measure_interleaved(
    models: list,
    *,
    batch_size: int = 1,
    seq_len: int = 32,
    rounds: int = 4,
    repeats: int = 5,
    warmup: int = 2,
    threads: int | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
    progress=None,
) -> tuple[list[LatencyMeasurement], list[LatencyMeasurement], list[LatencyMeasurement]]:
    """Measure several models in ``rounds`` round-robin passes (``warmup`` + ``repeats`` runs per
    model per pass), so slow phases of background load hit every model rather than a few.

    Returns ``(all_rounds, even_rounds, odd_rounds)``: one measurement per model from all
    samples, and from the even and the odd passes alone (two independent measurements of each
    model: their disagreement is the noise floor). ``progress()`` is called once per pass.
    """
    if rounds < 2 or repeats < 1:
        raise LatencyError(f"rounds={rounds}, repeats={repeats}: need at least 2 rounds and 1 repeat")
    arch = getattr(models[0], "arch", None) if models else None
    vocab = vocab_size or (arch.vocab_size if arch is not None else 2)
    ids, mask = random_inputs(vocab, batch_size, seq_len, seed)
    samples = [[[] for _ in range(rounds)] for _ in models]
    for model in models:
        model.eval()
    with num_threads(threads) as used, torch.inference_mode():
        for r in range(rounds):
            for k, model in enumerate(models):
                samples[k][r] = time_callable(lambda: model(ids, mask), repeats, warmup)
            if progress:
                progress()
    opts = dict(warmup=warmup, batch_size=batch_size, seq_len=seq_len, threads=used)

    def summary(k, picked):
        return summarize([t for r in picked for t in samples[k][r]], int8=any(getattr(models[k], "int8_layers", ())), **opts)

    every = range(rounds)
    return (
        [summary(k, every) for k in range(len(models))],
        [summary(k, every[0::2]) for k in range(len(models))],
        [summary(k, every[1::2]) for k in range(len(models))],
    )


def measure_subnet(
    supernet: Supernet,
    config: SubnetConfig,
    *,
    int8: bool | str = "auto",
    batch_size: int = 1,
    seq_len: int = 32,
    repeats: int = 30,
    warmup: int = 5,
    threads: int | None = None,
) -> SubnetLatency:
    """Extract ``config`` and measure it as float and (``int8`` True/"auto") with int8 linears.

    The int8 variant quantizes the layers at <= 8 bits only and is measured only when such a
    layer exists; ``SubnetLatency.best`` is the faster of the two. ``int8=False`` measures float
    only; ``int8="only"`` measures only the int8 variant (as ``fp32`` when no layer is <= 8 bits).
    """
    if int8 not in (True, False, "auto", "only"):
        raise LatencyError(f"int8={int8!r}; allowed: True, False, 'auto', 'only'")
    options = dict(batch_size=batch_size, seq_len=seq_len, repeats=repeats, warmup=warmup, threads=threads)
    has_low_bits = any(layer.bits <= INT8_MAX_BITS for layer in config.layers)
    fp32 = measure_latency(inference_model(supernet, config, int8=False), **options)
    quantized = None
    if int8 and has_low_bits:
        quantized = measure_latency(inference_model(supernet, config, int8=True), **options)
    return SubnetLatency(fp32, quantized)
