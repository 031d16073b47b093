"""A CPU latency predictor for extracted sub-networks, calibrated per machine.

Model (default, ``method="table"``): one inference of a sub-network costs

    embeddings + sum over virtual layers (block(heads, ffn, int8) + exit ramp)

where ``block`` comes from a lookup table of micro-benchmarks of one stand-alone transformer
block on a grid of (heads, FFN neurons), interpolated bilinearly, one table for float linears
and one for int8 dynamically quantized linears. The table is made monotone (fewer heads or
neurons never cost more). Timing one block on its own misses what the whole network pays
(cache misses across blocks' weights, Python dispatch between modules), so the raw sum is then
mapped to measured latency by a least-squares line ``a * raw + b`` fitted on whole random
sub-networks measured during calibration (the "calibration set", disjoint from any validation).

A second model (``method="regression"``) is fitted on the same calibration set: latency is
linear in per-layer features (layers, heads and neurons, separately for float and int8 layers).
Both are stored; ``method`` picks the default.

Layers at <= 8 bits run int8 dynamic quantization where the table says it is faster
(:meth:`LatencyPredictor.int8_plan`); the predicted latency is that of
``inference_model(supernet, config, int8=predictor.int8_plan(config))``.

A predictor is saved as JSON per machine (CPU model, cores, torch version, threads) in
``$EVOSEARCH_CACHE/latency/`` (default ``~/.cache/evosearch/latency/``) and refuses to be used
for an architecture other than the one it was calibrated for.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import platform
import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..supernet import Architecture, LayerConfig, SubnetConfig, Supernet
from ..supernet.modules import Embeddings, EncoderBlock, ExitRamp
from .errors import LatencyError
from .measure import STATISTICS, measure_interleaved, measure_latency, num_threads, summarize, time_callable
from .runtime import INT8_MAX_BITS, PlainBlock, PlainEmbeddings, inference_model, quantize_dynamic_int8

FORMAT_VERSION = 1
METHODS = ("table", "regression")
# The architecture fields a predictor depends on (weights and dropout do not matter).
SHAPE_FIELDS = (
    "model_type", "vocab_size", "embedding_size", "hidden_size", "head_dim", "block_heads", "block_ffn",
    "block_of_layer", "num_labels", "hidden_act",
)


# ----------------------------------------------------------------------------- machine and cache


def cpu_model_name() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_id(threads: int | None = None) -> dict:
    """What a calibration is valid for: CPU model, logical cores, torch version, intra-op threads."""
    return {
        "cpu": cpu_model_name(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": threads if threads is not None else torch.get_num_threads(),
    }


def latency_cache_dir() -> Path:
    """``$EVOSEARCH_CACHE/latency`` if the variable is set, else ``~/.cache/evosearch/latency``."""
    root = os.environ.get("EVOSEARCH_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "evosearch"
    return base / "latency"


def arch_shape(arch: Architecture) -> dict:
    data = arch.to_dict()
    return {name: list(data[name]) if isinstance(data[name], tuple) else data[name] for name in SHAPE_FIELDS}


def default_predictor_path(arch: Architecture, batch_size: int = 1, seq_len: int = 32, threads: int | None = None) -> Path:
    """Where ``evosearch calibrate`` saves (and the search looks for) this machine's predictor."""
    machine = machine_id(threads)
    digest = hashlib.sha1(
        json.dumps({"machine": machine, "arch": arch_shape(arch)}, sort_keys=True).encode()
    ).hexdigest()[:10]
    name = (
        f"{arch.model_type}-L{arch.num_layers}-H{arch.hidden_size}-b{batch_size}-s{seq_len}"
        f"-t{machine['threads']}-{digest}.json"
    )
    return latency_cache_dir() / name


# ----------------------------------------------------------------------------- sampling


def random_subnet(
    arch: Architecture,
    rng: random.Random,
    bits: Sequence[int] = (8, 32),
    spans: Sequence[int | None] = (None, 8, 16, 32, 64),
    min_ffn: int = 64,
) -> SubnetConfig:
    """A random sub-network: per layer heads uniform in [1, H], FFN neurons uniform in
    [min(min_ffn, F), F], bit width and span drawn from ``bits`` and ``spans``."""
    layers = []
    for i in range(arch.num_layers):
        heads, ffn = arch.heads_of_layer(i), arch.ffn_of_layer(i)
        span = rng.choice(list(spans))
        if span is not None:
            span = min(span, arch.max_position_embeddings)
        layers.append(
            LayerConfig(rng.randint(1, heads), rng.randint(min(min_ffn, ffn), ffn), rng.choice(list(bits)), span)
        )
    return SubnetConfig(tuple(layers))


# ----------------------------------------------------------------------------- statistics


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties); nan when a side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def mape(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Mean absolute percentage error of ``predicted`` against ``measured``, in percent."""
    p, m = np.asarray(predicted, float), np.asarray(measured, float)
    return float(np.mean(np.abs(p - m) / m) * 100)


def _ranks(values: Sequence[float]) -> np.ndarray:
    values = np.asarray(values, float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for value in np.unique(values):  # average ranks of ties
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


# ----------------------------------------------------------------------------- the predictor


@dataclass
class LatencyPredictor:
    """Predicted CPU latency (ms) of extracted sub-networks of one architecture on one machine."""

    arch: dict  # arch_shape() of the calibrated architecture
    machine: dict
    batch_size: int
    seq_len: int
    heads_grid: list[int]
    ffn_grid: list[int]
    tables: dict  # "fp32" / "int8" -> [len(heads_grid)][len(ffn_grid)] block latency in ms
    embedding_ms: float
    ramp_ms: float
    table_fit: tuple[float, float] = (1.0, 0.0)  # measured ≈ a * raw_sum + b
    regression: dict | None = None  # {"features": [...], "coefficients": [...]}
    method: str = "table"
    statistic: str = "min"  # which statistic of the timed runs is "the latency" (see measure.STATISTICS)
    calibration: dict = field(default_factory=dict)  # settings and fit statistics

    # -- queries

    def block_ms(self, heads: int, ffn: int, int8: bool = False) -> float:
        """Interpolated latency of one block with ``heads`` heads and ``ffn`` neurons (ms)."""
        table = self.tables["int8" if int8 else "fp32"]
        i0, i1, wi = _bracket(self.heads_grid, heads)
        j0, j1, wj = _bracket(self.ffn_grid, ffn)
        top = table[i0][j0] * (1 - wj) + table[i0][j1] * wj
        bottom = table[i1][j0] * (1 - wj) + table[i1][j1] * wj
        return top * (1 - wi) + bottom * wi

    def int8_plan(self, config: SubnetConfig) -> tuple[bool, ...]:
        """Per layer: run int8 linears? Only at <= 8 bits and where the table says it is faster."""
        if "int8" not in self.tables:
            return (False,) * len(config.layers)
        return tuple(
            layer.bits <= INT8_MAX_BITS and self.block_ms(layer.heads, layer.ffn, True) < self.block_ms(layer.heads, layer.ffn)
            for layer in config.layers
        )

    def raw_ms(self, config: SubnetConfig, exit_layer: int | None = None) -> float:
        """The un-corrected table sum (embeddings + blocks + ramps) up to ``exit_layer``."""
        layers = config.layers[: exit_layer or len(config.layers)]
        plan = self.int8_plan(config)
        return self.embedding_ms + sum(
            self.block_ms(layer.heads, layer.ffn, int8) + self.ramp_ms for layer, int8 in zip(layers, plan)
        )

    def predict(self, config: SubnetConfig, exit_layer: int | None = None, method: str | None = None) -> float:
        """Predicted latency in ms of the extracted sub-network (all layers, or the first ``exit_layer``).

        ``exit_layer=k`` is the latency when inference stops after the k-th layer's exit
        (early exit); the expected latency is the exit-distribution average of these.
        """
        self._check_config(config)
        if exit_layer is not None and not 1 <= exit_layer <= len(config.layers):
            raise LatencyError(f"exit_layer={exit_layer}; allowed: 1..{len(config.layers)}")
        method = method or self.method
        if method == "table":
            a, b = self.table_fit
            return a * self.raw_ms(config, exit_layer) + b
        if method == "regression":
            if self.regression is None:
                raise LatencyError("this predictor holds no regression model; recalibrate or use method='table'")
            return float(np.dot(self.regression["coefficients"], self._features(config, exit_layer)))
        raise LatencyError(f"method={method!r}; allowed: {', '.join(METHODS)}")

    def predict_exits(self, config: SubnetConfig, method: str | None = None) -> list[float]:
        """Predicted latency (ms) for stopping at each exit 1..num_layers."""
        return [self.predict(config, k, method) for k in range(1, len(config.layers) + 1)]

    def _features(self, config: SubnetConfig, exit_layer: int | None = None) -> list[float]:
        layers = config.layers[: exit_layer or len(config.layers)]
        plan = self.int8_plan(config)
        f = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        for layer, int8 in zip(layers, plan):
            k = 4 if int8 else 1
            f[k] += 1.0
            f[k + 1] += layer.heads
            f[k + 2] += layer.ffn
        return f

    def _check_config(self, config: SubnetConfig) -> None:
        n = len(self.arch["block_of_layer"])
        if len(config.layers) != n:
            raise LatencyError(f"the config has {len(config.layers)} layers; this predictor was calibrated for {n}")
        heads, ffn = self.arch["block_heads"], self.arch["block_ffn"]
        for i, (layer, block) in enumerate(zip(config.layers, self.arch["block_of_layer"])):
            if not (1 <= layer.heads <= heads[block] and 1 <= layer.ffn <= ffn[block]):
                raise LatencyError(
                    f"layer {i}: heads={layer.heads}, ffn={layer.ffn} outside the calibrated "
                    f"[1, {heads[block]}] x [1, {ffn[block]}]"
                )

    def check_arch(self, arch: Architecture) -> None:
        """Raise :class:`LatencyError` naming every shape field that differs from the calibration."""
        theirs = arch_shape(arch)
        diffs = [f"{k}: calibrated {self.arch[k]!r}, model {theirs[k]!r}" for k in SHAPE_FIELDS if self.arch.get(k) != theirs[k]]
        if diffs:
            raise LatencyError(
                "this latency predictor was calibrated for another architecture ("
                + "; ".join(diffs)
                + "); run `evosearch calibrate` for this model"
            )

    # -- persistence

    def to_dict(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "kind": "evosearch-cpu-latency-predictor",
            "arch": self.arch,
            "machine": self.machine,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "heads_grid": self.heads_grid,
            "ffn_grid": self.ffn_grid,
            "tables": self.tables,
            "embedding_ms": self.embedding_ms,
            "ramp_ms": self.ramp_ms,
            "table_fit": list(self.table_fit),
            "regression": self.regression,
            "method": self.method,
            "statistic": self.statistic,
            "calibration": self.calibration,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LatencyPredictor":
        if data.get("kind") != "evosearch-cpu-latency-predictor":
            raise LatencyError("not an evosearch latency predictor file")
        if data.get("format_version") != FORMAT_VERSION:
            raise LatencyError(
                f"latency predictor format {data.get('format_version')}; this evosearch reads {FORMAT_VERSION}; recalibrate"
            )
        fields = {k: v for k, v in data.items() if k not in ("format_version", "kind")}
        fields["table_fit"] = tuple(fields["table_fit"])
        return cls(**fields)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, arch: Architecture | None = None, check_machine: bool = True) -> "LatencyPredictor":
        """Read a saved predictor; with ``arch``, refuse (LatencyError) if it was calibrated for another shape.

        A predictor from another machine (CPU, cores, torch, threads) still loads, with a warning:
        its absolute numbers do not transfer, its ranking mostly does.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LatencyError(f"no latency predictor at {path}; create one with `evosearch calibrate`") from None
        except (OSError, ValueError) as err:
            raise LatencyError(f"cannot read the latency predictor {path} ({err})") from None
        predictor = cls.from_dict(data)
        if arch is not None:
            predictor.check_arch(arch)
        if check_machine:
            here = machine_id(predictor.machine.get("threads"))
            if {k: here[k] for k in ("cpu", "cores", "torch")} != {k: predictor.machine.get(k) for k in ("cpu", "cores", "torch")}:
                warnings.warn(
                    f"latency predictor {path} was calibrated on {predictor.machine}, this machine is {here}; "
                    "recalibrate with `evosearch calibrate` for absolute numbers",
                    stacklevel=2,
                )
        return predictor


def load_predictor(
    arch: Architecture, batch_size: int = 1, seq_len: int = 32, threads: int | None = None, path: str | Path | None = None
) -> LatencyPredictor:
    """This machine's predictor for ``arch`` (from ``path`` or the cache), checked against ``arch``."""
    path = Path(path) if path else default_predictor_path(arch, batch_size, seq_len, threads)
    if not path.is_file():
        raise LatencyError(
            f"no latency predictor calibrated for this model on this machine (looked for {path}); "
            f"run `evosearch calibrate --seq-len {seq_len} --batch-size {batch_size}` first"
        )
    predictor = LatencyPredictor.load(path, arch)
    if (predictor.batch_size, predictor.seq_len) != (batch_size, seq_len):
        raise LatencyError(
            f"{path} was calibrated for batch size {predictor.batch_size}, sequence length {predictor.seq_len}; "
            f"asked for {batch_size}, {seq_len}"
        )
    return predictor


def _bracket(grid: list[int], value: float) -> tuple[int, int, float]:
    """Indices of the grid points around ``value`` and the interpolation weight (clamped at the ends)."""
    if value <= grid[0]:
        return 0, 0, 0.0
    if value >= grid[-1]:
        last = len(grid) - 1
        return last, last, 0.0
    j = bisect.bisect_right(grid, value)
    lo, hi = grid[j - 1], grid[j]
    return j - 1, j, (value - lo) / (hi - lo)


# ----------------------------------------------------------------------------- calibration


def default_grids(arch: Architecture) -> tuple[list[int], list[int]]:
    """Every head count up to 16 heads (else 12 evenly spaced), and 12 FFN widths from 1 to F."""
    heads = max(arch.block_heads)
    ffn = max(arch.block_ffn)
    heads_grid = list(range(1, heads + 1)) if heads <= 16 else sorted({1, *np.linspace(1, heads, 12).round().astype(int).tolist()})
    ffn_grid = sorted({1, *np.linspace(0, ffn, 12).round().astype(int).tolist()[1:]} | {ffn})
    return heads_grid, [f for f in ffn_grid if f >= 1]


@dataclass
class ValidationResult:
    """Predicted vs measured latency on held-out sub-networks."""

    predicted_ms: list[float]
    measured_ms: list[float]
    mape: float
    spearman: float
    remeasured_ms: list[float] | None = None  # odd passes only: one independent measurement
    measured_even_ms: list[float] | None = None  # even passes only: another one
    configs: list[dict] = field(default_factory=list)

    @property
    def noise_mape(self) -> float | None:
        """MAPE of one independent measurement against another of the same models (even vs odd
        passes): the noise floor, what no predictor can beat on this machine now."""
        if self.remeasured_ms is None or self.measured_even_ms is None:
            return None
        return mape(self.remeasured_ms, self.measured_even_ms)

    @property
    def noise_spearman(self) -> float | None:
        if self.remeasured_ms is None or self.measured_even_ms is None:
            return None
        return spearman(self.remeasured_ms, self.measured_even_ms)

    def to_dict(self) -> dict:
        return {
            "n": len(self.measured_ms),
            "mape_percent": self.mape,
            "spearman": self.spearman,
            "noise_mape_percent": self.noise_mape,
            "noise_spearman": self.noise_spearman,
            "predicted_ms": self.predicted_ms,
            "measured_ms": self.measured_ms,
            "measured_even_passes_ms": self.measured_even_ms,
            "measured_odd_passes_ms": self.remeasured_ms,
            "configs": self.configs,
        }


def measure_deployment(
    supernet: Supernet, config: SubnetConfig, predictor: LatencyPredictor, *, repeats: int = 20, warmup: int = 3,
    threads: int | None = None,
) -> float:
    """Measured latency (ms, the predictor's statistic) of the deployment the predictor predicts
    (its int8 plan)."""
    model = inference_model(supernet, config, int8=predictor.int8_plan(config))
    return measure_latency(
        model, batch_size=predictor.batch_size, seq_len=predictor.seq_len, repeats=repeats, warmup=warmup,
        threads=threads if threads is not None else predictor.machine["threads"],
    ).value(predictor.statistic)


def calibrate(
    supernet: Supernet,
    *,
    batch_size: int = 1,
    seq_len: int = 32,
    threads: int | None = None,
    int8: bool = True,
    heads_grid: Sequence[int] | None = None,
    ffn_grid: Sequence[int] | None = None,
    repeats: int = 10,
    warmup: int = 2,
    rounds: int = 2,
    calibration_subnets: int = 24,
    calibration_rounds: int = 4,
    statistic: str = "min",
    method: str = "table",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    subnet_sampler: Callable[[Architecture, random.Random], SubnetConfig] | None = None,
) -> LatencyPredictor:
    """Fit a :class:`LatencyPredictor` for ``supernet``'s architecture on this machine.

    1. micro-benchmarks: one block per (heads, ffn) grid point, float and (``int8``) int8, in
       ``rounds`` passes in random order (so background load spreads over the grid), ``warmup``
       + ``repeats`` runs per point per pass; the embeddings; one exit ramp;
    2. ``calibration_subnets`` random whole sub-networks, extracted and measured interleaved
       (``calibration_rounds`` passes of ``repeats`` runs), to fit the table's correction line and
       the regression.
    ``statistic`` ("min" by default: the most repeatable on a shared machine, since other
    processes only add time; or "median") turns timed runs into one latency.
    ``progress(step_name)`` is called once per step (the CLI advances a progress bar);
    :func:`calibration_steps` says how many there will be.
    """
    if method not in METHODS:
        raise LatencyError(f"method={method!r}; allowed: {', '.join(METHODS)}")
    if statistic not in STATISTICS:
        raise LatencyError(f"statistic={statistic!r}; allowed: {', '.join(STATISTICS)}")
    if calibration_subnets < 8:
        raise LatencyError(f"calibration_subnets={calibration_subnets}; at least 8 are needed to fit the correction")
    if rounds < 1 or repeats < 1:
        raise LatencyError(f"rounds={rounds}, repeats={repeats}: both must be >= 1")
    arch = supernet.arch
    if seq_len > arch.max_position_embeddings:
        raise LatencyError(f"seq_len={seq_len} exceeds the model's {arch.max_position_embeddings} positions")
    default_heads, default_ffn = default_grids(arch)
    heads_grid = sorted(set(heads_grid or default_heads))
    ffn_grid = sorted(set(ffn_grid or default_ffn))
    step = progress or (lambda name: None)
    rng = random.Random(seed)
    sampler = subnet_sampler or random_subnet
    kinds = ["fp32", "int8"] if int8 else ["fp32"]
    stat = lambda samples: summarize(samples, warmup=warmup, batch_size=batch_size, seq_len=seq_len, threads=0).value(statistic)  # noqa: E731
    with num_threads(threads) as used, torch.inference_mode():
        x = torch.randn(batch_size, seq_len, arch.hidden_size, generator=torch.Generator().manual_seed(seed))
        bias = torch.zeros(batch_size, 1, 1, seq_len)
        points = [(kind, i, j) for kind in kinds for i in range(len(heads_grid)) for j in range(len(ffn_grid))]
        samples = {point: [] for point in points}
        for _ in range(rounds):
            rng.shuffle(points)
            for kind, i, j in points:
                block = PlainBlock(EncoderBlock(arch, heads_grid[i], ffn_grid[j]), arch.hidden_act).eval()
                if kind == "int8":
                    block = quantize_dynamic_int8(block)
                samples[kind, i, j] += time_callable(lambda: block(x, bias), repeats, warmup)
                step(f"block {kind} heads={heads_grid[i]} ffn={ffn_grid[j]}")
        tables = {kind: [[0.0] * len(ffn_grid) for _ in heads_grid] for kind in kinds}
        for (kind, i, j), times in samples.items():
            tables[kind][i][j] = stat(times)
        for kind in kinds:
            tables[kind] = _monotone(tables[kind])
        embeddings = PlainEmbeddings(Embeddings(arch)).eval()
        ids = torch.randint(1, max(2, arch.vocab_size), (batch_size, seq_len))
        types = torch.zeros_like(ids)
        embedding_ms = stat(time_callable(lambda: embeddings(ids, types), repeats * rounds, warmup))
        step("embeddings")
        ramp = ExitRamp(arch).eval()
        ramp_ms = stat(time_callable(lambda: ramp(x), repeats * rounds, warmup))
        step("exit ramp")
    predictor = LatencyPredictor(
        arch=arch_shape(arch), machine=machine_id(used), batch_size=batch_size, seq_len=seq_len,
        heads_grid=list(heads_grid), ffn_grid=list(ffn_grid), tables=tables, embedding_ms=embedding_ms,
        ramp_ms=ramp_ms, method=method, statistic=statistic,
    )
    configs = [SubnetConfig.largest(arch), SubnetConfig.uniform(arch, 0.1)]
    configs += [sampler(arch, rng) for _ in range(calibration_subnets - len(configs))]
    measured = _measure_configs(
        predictor, supernet, configs, rounds=calibration_rounds, repeats=repeats, warmup=warmup,
        step=lambda: step("calibration sub-networks pass"),
    )[0]
    raw = np.array([predictor.raw_ms(c) for c in configs])
    y = np.array(measured)
    a, b = np.linalg.lstsq(np.stack([raw, np.ones_like(raw)], 1), y, rcond=None)[0]
    if a <= 0:  # degenerate (pure noise): fall back to a pure scale
        a, b = float(y.sum() / raw.sum()), 0.0
    predictor.table_fit = (float(a), float(b))
    features = np.array([predictor._features(c) for c in configs])
    # Ridge-regularised least squares on scaled features, so 7 coefficients stay sane on ~24 points.
    scale = np.maximum(np.abs(features).max(0), 1e-9)
    fs = features / scale
    reg = np.eye(fs.shape[1]) * 1e-3 * len(y)
    reg[0, 0] = 0.0
    coef = np.linalg.solve(fs.T @ fs + reg, fs.T @ y) / scale
    predictor.regression = {
        "features": ["1", "fp32_layers", "fp32_heads", "fp32_ffn", "int8_layers", "int8_heads", "int8_ffn"],
        "coefficients": coef.tolist(),
    }
    fitted = {m: [predictor.predict(c, method=m) for c in configs] for m in METHODS}
    predictor.calibration = {
        "repeats": repeats,
        "warmup": warmup,
        "rounds": rounds,
        "calibration_rounds": calibration_rounds,
        "int8": int8,
        "seed": seed,
        "calibration_subnets": len(configs),
        "calibration_measured_ms": measured,
        "fit_mape_percent": {m: mape(fitted[m], measured) for m in METHODS},
    }
    return predictor


def calibration_steps(arch: Architecture, *, int8: bool = True, rounds: int = 2, calibration_rounds: int = 4,
                      heads_grid=None, ffn_grid=None) -> int:
    """How many times :func:`calibrate` calls ``progress``."""
    default_heads, default_ffn = default_grids(arch)
    points = len(set(heads_grid or default_heads)) * len(set(ffn_grid or default_ffn)) * (2 if int8 else 1)
    return points * rounds + 2 + calibration_rounds


def _measure_configs(predictor, supernet, configs, *, rounds, repeats, warmup, step=None):
    """Build every config's deployment (the predictor's int8 plan) and measure them interleaved;
    returns (latencies, even-pass latencies, odd-pass latencies) by the predictor's statistic."""
    models = [inference_model(supernet, c, int8=predictor.int8_plan(c)) for c in configs]
    results = measure_interleaved(
        models, batch_size=predictor.batch_size, seq_len=predictor.seq_len, rounds=rounds, repeats=repeats,
        warmup=warmup, threads=predictor.machine["threads"], progress=step,
    )
    return tuple([m.value(predictor.statistic) for m in result] for result in results)


def validate(
    predictor: LatencyPredictor,
    supernet: Supernet,
    configs: Sequence[SubnetConfig] | int = 30,
    *,
    repeats: int = 10,
    warmup: int = 2,
    rounds: int = 4,
    seed: int = 12345,
    method: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Measure held-out sub-networks (``configs``, or that many random ones drawn with ``seed``,
    which must differ from the calibration seed) and compare with the predictions.

    The models are measured interleaved in ``rounds`` passes; the even and the odd passes give
    two independent measurements of each model, whose disagreement is the noise floor
    (``ValidationResult.noise_mape``); ``measured_ms`` pools all passes.
    """
    predictor.check_arch(supernet.arch)
    if isinstance(configs, int):
        rng = random.Random(seed)
        configs = [random_subnet(supernet.arch, rng) for _ in range(configs)]
    step = progress or (lambda name: None)
    predicted = [predictor.predict(c, method=method) for c in configs]
    measured, even, odd = _measure_configs(
        predictor, supernet, configs, rounds=rounds, repeats=repeats, warmup=warmup,
        step=lambda: step("validation pass"),
    )
    return ValidationResult(
        predicted_ms=predicted,
        measured_ms=measured,
        mape=mape(predicted, measured),
        spearman=spearman(predicted, measured),
        remeasured_ms=odd,
        measured_even_ms=even,
        configs=[c.to_dict() for c in configs],
    )


def _monotone(table: list[list[float]]) -> list[list[float]]:
    """The smallest table >= the measured one that never decreases with more heads or neurons."""
    out = [row[:] for row in table]
    for i in range(len(out)):
        for j in range(len(out[i])):
            if i:
                out[i][j] = max(out[i][j], out[i - 1][j])
            if j:
                out[i][j] = max(out[i][j], out[i][j - 1])
    return out


__all__ = [
    "LatencyPredictor", "ValidationResult", "arch_shape", "calibrate", "calibration_steps", "cpu_model_name", "default_grids",
    "default_predictor_path", "latency_cache_dir", "load_predictor", "machine_id", "mape", "measure_deployment",
    "random_subnet", "spearman", "validate",
]
