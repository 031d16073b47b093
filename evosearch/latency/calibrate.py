"""Fit, check and cache this machine's latency model (:class:`~.model.LatencyModel`).

Calibration exports random sub-networks of the supernet exactly as ``evosearch export`` does
(ONNX segments in random layouts, int8 where a layer is at <= 8 bits), times sentences of several
lengths with the deployment's runner and ONNX Runtime at the deployment's thread count, each
leaving at a random exit, in rounds (:func:`~.measure.time_exits`), and fits the model's coefficients by
non-negative least squares on relative errors. A sentence's time is the sum of the features of
the segments it passes, so varied layouts and exit depths identify each term: with every
sentence run to the last layer, the embeddings, the segment calls and the layers' fixed cost
cannot be told apart, and a fit made that way mispriced the early-exiting models a search
finds (issue 11). Relative errors weigh a 1 ms model as much as a 10 ms one, as the MAPE the
model is judged by does. A fixed reference deployment (:class:`Reference`) is timed between
sub-networks, and each sub-network's times are scaled to the calibration's median speed: a
shared machine that speeds up or slows down while it calibrates (5-10 % within minutes on the
2-core machine this was built on) then blurs the fit less; how much the reference's time varied
is kept with the model (``reference_spread_percent``), so a calibration made on a busy machine
shows. It stops when its time budget is spent (at least
``min_subnets`` sub-networks), so the first search or quickstart that needs a prediction can
calibrate on its own (:func:`ensure_latency_model`); ``evosearch calibrate`` does it on demand
with a larger budget and a validation on held-out sub-networks (:func:`validate`).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import LatencyError
from .machine import arch_shape, machine_id, predictor_path
from .measure import random_sentence, time_exits, time_sentences
from .model import LatencyModel, segment_features, segments

LENGTHS = (8, 16, 24, 32, 48, 64)
#: Seconds a search, quickstart or verification spends calibrating when it finds no latency model
#: (the environment variable EVOSEARCH_CALIBRATION_BUDGET overrides it, e.g. for tests).
AUTO_BUDGET_S = 90.0


def auto_budget() -> float:
    import os

    value = os.environ.get("EVOSEARCH_CALIBRATION_BUDGET")
    try:
        return float(value) if value else AUTO_BUDGET_S
    except ValueError:
        raise LatencyError(f"EVOSEARCH_CALIBRATION_BUDGET={value!r} is not a number of seconds") from None


def random_subnet(arch, rng: random.Random, bits: Sequence[int] = (8, 32), min_fraction: float = 0.1):
    """A random sub-network: per layer heads and FFN neurons uniform down to ``min_fraction`` of the
    layer, a bit width from ``bits``; no spans (ONNX Runtime computes full attention either way)."""
    from ..supernet import LayerConfig, SubnetConfig

    layers = []
    for i in range(arch.num_layers):
        heads, ffn = arch.heads_of_layer(i), arch.ffn_of_layer(i)
        layers.append(LayerConfig(rng.randint(max(1, round(heads * min_fraction)), heads),
                                  rng.randint(max(1, round(ffn * min_fraction)), ffn), rng.choice(list(bits))))
    return SubnetConfig(tuple(layers))


def random_thresholds(num_layers: int, rng: random.Random) -> list[float]:
    """Each exit active (threshold 1 nat) or not, at random: random segment layouts."""
    return [rng.choice([0.0, 1.0]) for _ in range(num_layers - 1)]


def reference_subnet(arch):
    """The reference deployment's sub-network: half the heads and FFN neurons of every layer, int8."""
    from ..supernet import LayerConfig, SubnetConfig

    return SubnetConfig(tuple(LayerConfig(max(1, arch.heads_of_layer(i) // 2), max(1, arch.ffn_of_layer(i) // 2), 8)
                              for i in range(arch.num_layers)))


class Reference:
    """A fixed deployment (:func:`reference_subnet`, an exit after every layer) and fixed random
    sentences, one per calibration length, leaving at successive exits: timed now, it says how fast
    this machine runs at this moment."""

    SEED = 999

    def __init__(self, supernet, folder: Path, threads: int):
        arch = supernet.arch
        self.runner = _export(supernet, reference_subnet(arch), [1.0] * (arch.num_layers - 1), folder, threads)
        rng = np.random.default_rng(self.SEED)
        self.jobs = [(random_sentence(arch.vocab_size, T, rng), k % arch.num_layers)
                     for k, T in enumerate(_lengths(arch, LENGTHS))]

    def ms(self, repeats: int = 3) -> float:
        """The summed fastest times (ms) of the reference sentences."""
        return float(time_exits(self.runner, self.jobs, repeats=repeats).sum())


def _lengths(arch, lengths: Sequence[int]) -> list[int]:
    return [t for t in lengths if 1 <= t <= arch.max_position_embeddings] or [min(8, arch.max_position_embeddings)]


def _export(supernet, config, thresholds, folder: Path, threads: int):
    from ..deploy.onnx import OnnxRunner, export_onnx
    from ..supernet import extract

    extracted = extract(supernet, config).eval()
    export_onnx(extracted, config, thresholds, folder, max_length=None)
    return OnnxRunner(folder, threads=threads)


def calibrate(supernet, *, threads: int = 1, budget_s: float = AUTO_BUDGET_S, lengths: Sequence[int] = LENGTHS,
              repeats: int = 5, seed: int = 0, min_subnets: int = 6, max_subnets: int = 200,
              progress: Callable[[str], None] | None = None) -> LatencyModel:
    """Fit a :class:`LatencyModel` for ``supernet``'s architecture on this machine at ``threads`` threads."""
    from scipy.optimize import nnls

    if threads < 1:
        raise LatencyError(f"threads={threads}; give a positive number of threads")
    arch = supernet.arch
    lengths = _lengths(arch, lengths)
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    rows, targets, speeds, subnets = [], [], [], 0  # one row per (sub-network, length): summed segment features
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="evosearch-calibrate-"))
    try:
        reference = Reference(supernet, tmp / "reference", threads)
        before = reference.ms()
        while subnets < max_subnets and (subnets < min_subnets or time.perf_counter() - started < budget_s):
            config = random_subnet(arch, rng) if subnets else _largest(arch)
            thresholds = random_thresholds(arch.num_layers, rng)
            runner = _export(supernet, config, thresholds, tmp / f"s{subnets}", threads)
            layout = segments(thresholds, arch.num_layers)
            jobs = []
            for T in lengths:
                leave = rng.randrange(len(layout))  # the segment whose exit this sentence takes
                jobs.append((random_sentence(arch.vocab_size, T, np_rng), leave))
                rows.append(sum(segment_features(config.layers[first:last + 1], T, k == 0)
                                for k, (first, last) in enumerate(layout[:leave + 1])))
            targets.extend(time_exits(runner, jobs, repeats=repeats).tolist())
            after = reference.ms()
            speeds.extend([(before + after) / 2] * len(jobs))  # the reference's time around these jobs
            before = after
            shutil.rmtree(tmp / f"s{subnets}", ignore_errors=True)
            subnets += 1
            if progress:
                progress(f"sub-network {subnets}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    speeds = np.asarray(speeds)
    reference_ms = float(np.median(speeds))
    X, y = np.asarray(rows), np.asarray(targets) * reference_ms / speeds  # at the calibration's median speed
    relative = X / y[:, None]  # minimise sum((prediction - y) / y)^2: relative errors
    scale = np.maximum(np.abs(relative).max(axis=0), 1e-12)  # NNLS on scaled features, for conditioning
    coefficients = nnls(relative / scale, np.ones_like(y))[0] / scale
    fitted = X @ coefficients
    calibration = {"subnets": subnets, "sentences_timed": len(y), "lengths": list(lengths), "repeats": repeats,
                   "seed": seed, "seconds": round(time.perf_counter() - started, 1), "statistic": "min",
                   "exits": "random segment per sentence, timed in rounds", "loss": "relative squared error",
                   "fit_mape_percent": mape(fitted, y), "reference_ms": reference_ms,
                   "reference_spread_percent": float(100 * np.ptp(np.percentile(speeds, [10, 90])) / reference_ms)}
    return LatencyModel(arch_shape(arch), machine_id(threads), coefficients.tolist(), calibration)


def _largest(arch):
    from ..supernet import SubnetConfig

    return SubnetConfig.largest(arch)


@dataclass
class ValidationResult:
    """Predicted against measured end-to-end latency of held-out sub-networks (one entry per sub-network)."""

    predicted_ms: list[float]
    measured_ms: list[float]
    remeasured_ms: list[float]
    configs: list[dict] = field(default_factory=list)

    @property
    def mape(self) -> float:
        return mape(self.predicted_ms, self.measured_ms)

    @property
    def spearman(self) -> float:
        return spearman(self.predicted_ms, self.measured_ms)

    @property
    def noise_mape(self) -> float:
        """One measurement against a second of the same models: what no predictor can beat here."""
        return mape(self.remeasured_ms, self.measured_ms)

    def to_dict(self) -> dict:
        return {"n": len(self.measured_ms), "mape_percent": self.mape, "spearman": self.spearman,
                "noise_mape_percent": self.noise_mape, "noise_spearman": spearman(self.remeasured_ms, self.measured_ms),
                "predicted_ms": self.predicted_ms, "measured_ms": self.measured_ms,
                "remeasured_ms": self.remeasured_ms, "configs": self.configs}


def validate(model: LatencyModel, supernet, n: int = 12, *, sentences: int = 24, seed: int = 12345, repeats: int = 3,
             progress: Callable[[str], None] | None = None) -> ValidationResult:
    """Export ``n`` held-out random sub-networks (another seed than the calibration's), run random
    sentences of random lengths end to end with early exit, twice, and compare the mean per-sentence
    latency with the model's prediction for the same lengths and exits."""
    model.check_arch(supernet.arch)
    arch = supernet.arch
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    top = min(64, arch.max_position_embeddings)
    predicted, measured, remeasured, configs = [], [], [], []
    tmp = Path(tempfile.mkdtemp(prefix="evosearch-validate-"))
    try:
        for i in range(n):
            config = random_subnet(arch, rng)
            thresholds = [rng.choice([0.0, 0.3, 0.6]) for _ in range(arch.num_layers - 1)]
            runner = _export(supernet, config, thresholds, tmp / f"v{i}", model.threads)
            batch = [random_sentence(arch.vocab_size, int(np_rng.integers(4, top + 1)), np_rng) for _ in range(sentences)]
            exits, first = time_sentences(runner, batch, repeats=repeats)
            _, second = time_sentences(runner, batch, repeats=repeats)
            lengths = [ids.shape[1] for ids, _, _ in batch]
            predicted.append(model.expected_ms(config, thresholds, lengths, exits))
            measured.append(float(first.mean()))
            remeasured.append(float(second.mean()))
            configs.append({"config": config.to_dict(), "thresholds": thresholds})
            shutil.rmtree(tmp / f"v{i}", ignore_errors=True)
            if progress:
                progress(f"validation sub-network {i + 1}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ValidationResult(predicted, measured, remeasured, configs)


def ensure_latency_model(supernet, threads: int = 1, budget_s: float | None = None, path: str | Path | None = None,
                         announce: Callable[[str], None] | None = print) -> LatencyModel:
    """This machine's latency model for ``supernet``'s architecture at ``threads`` threads: from
    ``path`` or the cache, else calibrated now (within ``budget_s`` seconds, default
    :func:`auto_budget`) and cached."""
    budget_s = auto_budget() if budget_s is None else budget_s
    if path is not None:
        return LatencyModel.load(path, supernet.arch)
    cached = predictor_path(supernet.arch, threads)
    if cached.is_file():
        try:
            return LatencyModel.load(cached, supernet.arch)
        except LatencyError:
            pass  # an unreadable or outdated cache entry: calibrate again
    if announce:
        announce(f"calibrating the CPU latency model for this machine ({threads} thread(s), about "
                 f"{budget_s:.0f} s, once; cached in {cached})")
    model = calibrate(supernet, threads=threads, budget_s=budget_s)
    model.save(cached)
    return model


def mape(predicted, measured) -> float:
    """Mean absolute percentage error of ``predicted`` against ``measured``, in percent."""
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    return float(np.mean(np.abs(p - m) / m) * 100)


def spearman(x, y) -> float:
    """Spearman rank correlation (scipy); nan when a side is constant."""
    from scipy.stats import spearmanr

    if np.ptp(np.asarray(x, float)) == 0 or np.ptp(np.asarray(y, float)) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)
