"""A search of a supernet with learned attention spans (adaptive attention span, Sukhbaatar et al.,
ACL 2019) on the shipped space edgebert-learned-spans, and what reads its run: the stored metrics,
the report's spans and scripts/bench_compression.py's costs, all at the learned spans."""

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from evosearch.metrics import METRICS, MetricInputs
from evosearch.report import load_run, pick, write_report
from evosearch.report.pick import describe
from evosearch.report.plots import plot_layers
from evosearch.report.run import LEARNED_NOTE
from evosearch.search import SearchSpace, SearchSpaceError
from evosearch.search.context import SearchContext
from evosearch.supernet import SubnetConfig, early_exit

from .tiny_runs import LEARNED_SPANS, make_checkpoint, make_run

BENCH_COMPRESSION = Path(__file__).resolve().parents[1] / "scripts" / "bench_compression.py"


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory):
    """A finished search of edgebert-learned-spans for energy on the EdgeBERT target, and its context."""
    tmp = tmp_path_factory.mktemp("learned-run")
    old = os.environ.get("EVOSEARCH_CACHE")
    os.environ["EVOSEARCH_CACHE"] = str(tmp / "cache")
    try:
        ckpt = make_checkpoint(tmp, pooling="mean", learned_spans=LEARNED_SPANS)
        folder = make_run(tmp, ckpt, space="edgebert-learned-spans", objectives="edgebert-energy", generations=2,
                          population=8)
        yield folder, SearchContext.of_run(load_run(folder).config)
    finally:
        if old is None:
            os.environ.pop("EVOSEARCH_CACHE", None)
        else:
            os.environ["EVOSEARCH_CACHE"] = old


def test_the_shipped_space_binds_to_a_learned_span_supernet_and_edgebert_does_not(learned_run):
    _, context = learned_run
    arch, bounds = context.checkpoint.supernet.arch, context.checkpoint.bounds
    assert arch.learned_span_max == 16
    bound = SearchSpace.load("edgebert-learned-spans").bind(arch, bounds)
    assert not any(slot.gene == "span" for slot in bound.slots)
    for genome in bound.random_genomes(20, np.random.default_rng(0)):
        config, _ = bound.decode(genome)
        assert all(layer.span is None for layer in config.layers)  # every layer runs its learned spans
    with pytest.raises(SearchSpaceError, match="learned its spans.*edgebert-learned-spans"):
        SearchSpace.load("edgebert").bind(arch, {**bounds, "span_reference_length": 16})


def _costs(context, config: SubnetConfig, thresholds, priced: SubnetConfig) -> dict:
    """Energy and latency of ``config`` on the run's full dev set with its own exits, priced as ``priced``."""
    evaluator = context.full_evaluator
    logits, _ = evaluator.exit_logits(config)
    _, exits = early_exit(logits, list(thresholds))
    inputs = MetricInputs(context.checkpoint.supernet.arch, priced, thresholds,
                          evaluator.workload.with_exits(exits.tolist()), None, None, context.objectives.target,
                          context.checkpoint.supernet.span_ramp)
    return {m: float(METRICS[m].compute(inputs)) for m in ("energy_uj", "latency_ms")}


def test_a_search_on_it_stores_costs_at_the_learned_spans(learned_run):
    folder, context = learned_run
    run = load_run(folder)
    supernet = context.checkpoint.supernet
    assert run.config["learned_spans"] == supernet.learned_spans() == LEARNED_SPANS
    assert len(run.front) >= 1 and len(run.candidates) >= 8
    for _, row in run.front.iterrows():
        config_dict, thresholds = run.config_of(row)
        config = SubnetConfig.from_dict(config_dict)
        assert all(layer.span is None for layer in config.layers)
        learned = _costs(context, config, thresholds, supernet.with_learned_spans(config))
        unlimited = _costs(context, config, thresholds, config)  # what pricing without the spans gives
        for metric in ("energy_uj", "latency_ms"):
            assert float(row[metric]) == pytest.approx(learned[metric], rel=1e-9)
            assert learned[metric] < unlimited[metric]  # the spans are short: attention costs less


def test_the_report_and_pick_show_the_learned_spans(learned_run, tmp_path):
    folder, context = learned_run
    run = load_run(folder)
    supernet = context.checkpoint.supernet
    for _, row in run.front.iterrows():
        config, _ = run.config_of(row)
        expected = supernet.learned_layer_spans(SubnetConfig.from_dict(config))
        assert run.layer_spans(config) == [(span, True) for span in expected]
    first, _ = run.config_of(run.front.iloc[0])
    shown = " ".join(f"{span}*" for span, _ in run.layer_spans(first))
    layers = plot_layers(run, tmp_path)
    assert layers.note == LEARNED_NOTE
    page = write_report(run, tmp_path / "report.html", plots=[layers]).read_text()
    assert f"<td>{shown}</td>" in page and "∞" not in page and LEARNED_NOTE in page
    chosen = pick(run, knee=True)
    text = describe(chosen)
    config, _ = run.config_of(chosen.row)
    assert LEARNED_NOTE in text and "∞" not in text
    table = text.split("exit threshold")[1].splitlines()[2:2 + len(config["layers"])]
    assert [line.split()[4] for line in table] == [f"{span}*" for span, _ in run.layer_spans(config)]


def test_bench_compression_prices_the_learned_spans_as_the_search(learned_run, tmp_path):
    folder, _ = learned_run
    spec = importlib.util.spec_from_file_location("bench_compression", BENCH_COMPRESSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "compression.json"
    module.main(["--run", str(folder), "--threads", "1", "--out", str(out)])
    report = json.loads(out.read_text())
    rows = [report["uncompressed"], *report["front"]]
    assert len(rows) == 1 + len(load_run(folder).front)
    for row in rows:
        for metric in ("energy_uj", "latency_ms"):
            assert row[metric] == pytest.approx(row["run_metrics"][metric], rel=1e-9), (row["name"], metric)
