"""Search spaces, objectives, evaluation cache, algorithms, persistence and resume (tiny models)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from transformers import BertConfig, BertForSequenceClassification

from evosearch.search import (
    Evaluator,
    LocalPool,
    ObjectiveError,
    ObjectiveSet,
    SearchRun,
    SearchSpace,
    SearchSpaceError,
    front_mask,
)
from evosearch.supernet import SubnetConfig, supernet_from_hf
from evosearch.runstore import config_from_columns

from .tiny_models import SMALL, TINY_CLASSIFIER, search_setup, tiny_batches, tiny_supernet

torch.set_num_threads(1)  # tiny matrices: threads only add contention

# ------------------------------------------------------------------ search spaces

@pytest.mark.parametrize("name", ["small", "edgebert", "edgebert-sparse", "whittle-medium", "uniform"])
def test_shipped_spaces_round_trip(name):
    supernet = tiny_supernet()
    bound = SearchSpace.load(name).bind(supernet.arch, bounds={"span_reference_length": 40})
    rng = np.random.default_rng(0)
    for genome in bound.random_genomes(30, rng):
        config, thresholds = bound.decode(genome)
        config.validate(supernet.arch)
        assert len(thresholds) == supernet.arch.num_layers - 1
        assert np.array_equal(bound.encode(config, thresholds), genome)
        assert SubnetConfig.from_dict(config.to_dict()) == config


def test_decode_values_and_tied_genes():
    _, bound, _, _ = search_setup()
    assert bound.labels == ["heads[0]", "heads[1]", "heads[2]", "ffn[0]", "ffn[1]", "ffn[2]", "bits",
                            "exit_threshold", "embedding_bits"]
    config, thresholds = bound.decode([0, 1, 0, 0, 1, 2, 0, 2, 0])
    assert [l.heads for l in config.layers] == [2, 4, 2]
    assert [l.ffn for l in config.layers] == [12, 24, 48]
    assert {l.bits for l in config.layers} == {8}
    assert thresholds == (0.6 * math.log(2),) * 2 and config.embedding_bits == 8
    with pytest.raises(SearchSpaceError, match="heads is tied|tied in space"):
        bad = SubnetConfig(config.layers, 8).with_layers(bits=32)
        bad = SubnetConfig((bad.layers[0], config.layers[1], bad.layers[2]), 8)
        bound.encode(bad, 0.6 * math.log(2))


def test_embedding_sparsity_gene_decodes_encodes_and_is_global():
    space = {**SMALL, "genes": {**SMALL["genes"], "embedding_sparsity": {"choices": [0.0, 0.4, 0.6]}}}
    _, bound, _, _ = search_setup(space)
    assert bound.labels[-1] == "embedding_sparsity" and bound.upper[-1] == 2
    genome = [0] * (bound.n_var - 1) + [2]
    config, thresholds = bound.decode(genome)
    assert config.embedding_sparsity == 0.6
    assert list(bound.encode(config, thresholds)) == genome
    assert bound.largest()[0].embedding_sparsity == 0.0  # the most expensive point keeps every entry
    assert search_setup()[1].decode([0] * 9)[0].embedding_sparsity == 0.0  # a space without the gene: dense


def test_genes_mean_the_same_on_any_task():
    """Thresholds are fractions of ln(num_labels); span fractions follow the reference length;
    fractions that round onto one value are kept once."""
    space = SearchSpace.from_dict({"genes": {"heads": {"fractions": [0.25, 0.3, 1.0]},
                                             "span": {"fractions": [0.1, 0.125, 0.5, None]},
                                             "exit_threshold": {"choices": [0.0, 0.5], "tied": True}}})
    two = supernet_from_hf(BertForSequenceClassification(BertConfig(**{**TINY_CLASSIFIER, "num_hidden_layers": 2}))).arch
    three = supernet_from_hf(BertForSequenceClassification(BertConfig(**{**TINY_CLASSIFIER, "num_hidden_layers": 2, "num_labels": 3}))).arch
    bound2 = space.bind(two, {"span_reference_length": 40})
    bound3 = space.bind(three, {"span_reference_length": 80})
    slots = {s.label: s.values for s in bound2.slots}
    assert slots["heads[0]"] == (1, 4)  # 0.25 and 0.3 of 4 heads both round to 1: kept once
    assert slots["span[0]"] == (4, 5, 20, None)
    assert {s.label: s.values for s in bound3.slots}["span[0]"] == (8, 10, 40, None)
    assert slots["exit_threshold"] == (0.0, 0.5 * math.log(2))
    assert {s.label: s.values for s in bound3.slots}["exit_threshold"] == (0.0, 0.5 * math.log(3))
    with pytest.raises(SearchSpaceError, match="records none"):
        space.bind(two)
    with pytest.raises(SearchSpaceError, match=r"span 20 \(from a fraction\), but the supernet was trained for spans"):
        space.bind(two, {"span_reference_length": 40, "spans": [None, 4, 5]})
    with pytest.raises(SearchSpaceError, match=r"allowed: numbers in \[0, 1\]"):
        SearchSpace.from_dict({"genes": {"exit_threshold": {"choices": [0.0, 1.5]}}})


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, r"unknown key 'colour'; allowed keys: name, description, quant, genes"),
    ({"quant": "fp4"}, r"quant='fp4'; allowed: auto, int, adaptivfloat"),
    ({"genes": {"head": [1]}}, r"unknown gene 'head'; allowed genes: heads, ffn"),
    ({"genes": {"heads": {"choices": []}}}, r"gene 'heads': 'choices' must be a non-empty list"),
    ({"genes": {"heads": {"choices": [1], "tide": True}}}, r"gene 'heads': unknown key 'tide'; allowed keys: choices"),
    ({"genes": {"heads": {"choices": [1], "tied": "yes"}}}, r"gene 'heads': 'tied' must be true or false"),
    ({"genes": {"bits": {"fractions": [0.5]}}}, r"gene 'bits': 'fractions' is only allowed for heads, ffn, span"),
    ({"genes": {"bits": {"choices": [9]}}}, r"gene 'bits': 'choices' has 9; allowed: bit widths among 2, 3"),
    ({"genes": {"heads": {"choices": ["two"]}}}, r"gene 'heads': 'choices' has 'two'; allowed: integers >= 1"),
    ({"genes": {"heads": {"fractions": [1.5]}}}, r"'fractions' has 1.5; allowed: numbers in \(0, 1\]"),
    ({"genes": {"span": {"choices": [0]}}}, r"gene 'span': 'choices' has 0; allowed: integers >= 1 or null"),
    ({"genes": {"heads": 3}}, r"gene 'heads': expected a mapping"),
    ({"genes": {}}, r"'genes' must be a non-empty mapping"),
    ({"genes": {"embedding_sparsity": {"choices": [0.0, 1.0]}}},
     r"gene 'embedding_sparsity': 'choices' has 1.0; allowed: fractions in \[0, 1\) of each embedding table"),
    ({"genes": {"embedding_sparsity": {"choices": [0.0, "0.6"]}}}, r"gene 'embedding_sparsity': 'choices' has '0.6'"),
    ({"genes": {"embedding_sparsity": {"choices": [0.0, 0.6], "tied": True}}},
     r"gene 'embedding_sparsity': 'tied' is meaningless for a single gene"),
    ({"genes": {"embedding_sparsity": {"fractions": [0.6]}}},
     r"gene 'embedding_sparsity': 'fractions' is only allowed for heads, ffn, span"),
])
def test_bad_space_yaml_names_the_field(change, message, tmp_path):
    data = {**SMALL, **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SearchSpaceError, match=message) as err:
        SearchSpace.load(path)
    assert str(path) in str(err.value)


def test_space_checked_against_supernet_bounds():
    arch = tiny_supernet().arch
    with pytest.raises(SearchSpaceError, match=r"gene 'heads', layer 0: value 8 .* integer in \[1, 4\]"):
        SearchSpace.from_dict({"genes": {"heads": [2, 8]}}).bind(arch)
    with pytest.raises(SearchSpaceError, match=r"gene 'ffn', layer 0: value 6 .* integer in \[12, 48\]; it was trained "
                                               r"down to 0.25 of each layer"):
        SearchSpace.from_dict({"genes": {"ffn": [6, 48]}}).bind(arch, bounds={"min_ffn_fraction": 0.25})
    with pytest.raises(SearchSpaceError, match=r"gene 'bits', layer 0: 2 bits, but the supernet was trained for bit widths 4, 8"):
        SearchSpace.from_dict({"genes": {"bits": [2, 8]}}).bind(arch, bounds={"bits": [4, 8]})
    with pytest.raises(SearchSpaceError, match=r"gene 'span', layer 0: span 100; allowed: null \(unlimited\) or an integer in \[1, 64\]"):
        SearchSpace.from_dict({"genes": {"span": [8, 100]}}).bind(arch)
    with pytest.raises(SearchSpaceError, match=r"gene 'span', layer 0: span 32, but the supernet was trained for spans null, 16, 8"):
        SearchSpace.from_dict({"genes": {"span": [8, 32, None]}}).bind(arch, bounds={"spans": [None, 16, 8]})
    with pytest.raises(SearchSpaceError, match="gene 'embedding_bits': 4 bits, but the supernet was trained for bit widths 8"):
        SearchSpace.from_dict({"genes": {"embedding_bits": [4, 32]}}).bind(arch, bounds={"embedding_bits": [8, 32]})
    with pytest.raises(SearchSpaceError, match="'sparsity' has 0.5, but the supernet was trained for sparsity 0.0 only"):
        SearchSpace.from_dict({"genes": {"sparsity": [0.0, 0.5]}}).bind(arch, bounds={"sparsity": [0.0]})
    emb = SearchSpace.from_dict({"genes": {"embedding_sparsity": [0.0, 0.6]}})
    with pytest.raises(SearchSpaceError, match="gene 'embedding_sparsity' has 0.6, but the supernet was trained for "
                                               "embedding sparsity 0.0 only"):
        emb.bind(arch, bounds={"embedding_sparsity": [0.0]})
    assert emb.bind(arch, bounds={"embedding_sparsity": [0.0, 0.4, 0.6]}).n_var == 1
    assert emb.bind(arch, bounds={"bits": [8]}).n_var == 1  # a checkpoint from before the gene: not constrained
    with pytest.raises(SearchSpaceError, match="quant='int', but the supernet was trained with quant 'adaptivfloat'"):
        SearchSpace.from_dict(SMALL).bind(arch, bounds={"quant": "adaptivfloat"})
    auto = SearchSpace.from_dict({**SMALL, "quant": "auto"}).bind(arch, bounds={"quant": "adaptivfloat"})
    assert auto.decode([0] * auto.n_var)[0].quant == "adaptivfloat"


def test_objective_errors():
    with pytest.raises(ObjectiveError, match="unknown metric 'speed'; allowed: error, accuracy"):
        ObjectiveSet.from_dict({"objectives": ["error", "speed"]})
    with pytest.raises(ObjectiveError, match="cannot read constraint 'latency < 5'"):
        ObjectiveSet.from_dict({"objectives": ["error"], "constraints": ["latency < 5"]})
    with pytest.raises(ObjectiveError, match="latency_ms need a hardware target"):
        ObjectiveSet.from_dict({"objectives": ["error", "latency_ms"]})
    with pytest.raises(ObjectiveError, match="unknown key 'objective'"):
        ObjectiveSet.from_dict({"objective": ["error"]})
    obj = ObjectiveSet.from_dict({"objectives": ["error", "params"], "constraints": ["params <= 10", "accuracy >= 0.5"]})
    assert obj.G({"params": 12, "accuracy": 0.75}) == [2.0, -0.25]
    for path in ["default", "proxies", "edgebert-energy", "edgebert-dvfs", "edgebert-onchip", "three-way", "cpu"]:
        ObjectiveSet.load(path)


# ------------------------------------------------------------------ evaluation

def test_exit_logit_cache_thresholds_never_rerun_the_model():
    supernet, bound, obj, _ = search_setup()
    ev = Evaluator(supernet, tiny_batches(), bound, obj, lazy=False)  # keep every exit's logits
    base = [1, 1, 0, 2, 1, 0, 1, 0, 1]
    recs = []
    for t in range(3):  # the exit_threshold gene is position 7
        genome = list(base)
        genome[7] = t
        recs.append(ev.evaluate(genome))
    assert ev.forward_calls == 1
    assert [r.cached_model for r in recs] == [False, True, True]
    assert recs[0].metrics["mean_exit_layer"] == 3.0  # threshold 0: everything runs to the end
    assert recs[2].metrics["mean_exit_layer"] <= recs[0].metrics["mean_exit_layer"]
    ev.evaluate([0] * 9)
    assert ev.forward_calls == 2
    lazy = search_setup()[3]  # the default runs each example only as deep as it exits: same metrics, no cache
    for rec, t in zip(recs, range(3)):
        genome = list(base)
        genome[7] = t
        assert lazy.evaluate(genome).metrics == rec.metrics
    assert lazy.forward_calls == 3


def test_accuracy_matches_direct_early_exit():
    from evosearch.supernet import early_exit

    supernet, bound, _, ev = search_setup()
    genome = [0, 1, 1, 1, 2, 0, 0, 1, 1]
    config, thresholds = bound.decode(genome)
    batches = tiny_batches()
    correct = 0
    for b in batches:
        logits = supernet(b["input_ids"], b["attention_mask"], b["token_type_ids"], config=config)
        preds, _ = early_exit(logits, list(thresholds))
        correct += int((preds == b["labels"]).sum())
    assert ev.evaluate(genome).metrics["accuracy"] == pytest.approx(correct / 24)


def _check_front(run_folder, n_obj):
    cands = pd.read_csv(run_folder / "candidates.csv")
    fronts = pd.read_csv(run_folder / "fronts.csv")
    last = fronts[fronts.generation == fronts.generation.max()]
    F = last[[f"F_{i}" for i in range(n_obj)]].to_numpy()
    assert len(NonDominatedSorting().do(F, only_non_dominated_front=True)) == len(F)
    # the front is exactly the non-dominated feasible set of everything evaluated
    feas = cands[cands.feasible == 1]
    allF = feas[[f"F_{i}" for i in range(n_obj)]].to_numpy()
    nd = NonDominatedSorting().do(allF, only_non_dominated_front=True)
    assert sorted(map(tuple, allF[nd])) == sorted(map(tuple, F))
    assert set(last.genome) <= set(feas.genome)
    return cands, last


@pytest.mark.parametrize("algorithm", ["nsga2", "deap-nsga2", "random", "local", "nsga3"])
def test_algorithms_give_a_valid_front(algorithm, tmp_path):
    _, bound, obj, ev = search_setup()
    result = SearchRun(tmp_path / "run", bound, obj, ev, algorithm=algorithm, generations=3, population=8,
                       seed=1, progress=False).run()
    cands, last = _check_front(tmp_path / "run", 2)
    assert len(cands) == len(set(cands.genome))  # nothing evaluated twice
    assert len(result.history) == 3 and result.history[-1].evaluations == 24
    hv = pd.read_csv(tmp_path / "run" / "hypervolume.csv")
    assert list(hv.generation) == [0, 1, 2] and (np.diff(hv.hypervolume) >= 0).all() and hv.hypervolume.iloc[-1] > 0
    cfg = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert cfg["reference_point"][0] == 1.0 and len(cfg["reference_point"]) == 2
    row = cands.iloc[0]  # the decoded sub-network, as flat columns pandas can filter on
    config = SubnetConfig.from_dict(config_from_columns(row)[0])
    assert bound.decode([int(x) for x in row.genome.split("-")])[0] == config
    assert {f"heads_{i}" for i in range(bound.arch.num_layers)} <= set(cands.columns)
    assert cands["heads_0"].dtype.kind == "i" and "config" not in cands.columns


def test_constraints_are_respected_not_discarded(tmp_path):
    supernet, bound, _, _ = search_setup()
    from evosearch.hardware.proxies import parameter_count

    full = parameter_count(supernet.arch, SubnetConfig.largest(supernet.arch))
    small = parameter_count(supernet.arch, bound.decode([0] * 9)[0])
    limit = (full + small) / 2
    obj = ObjectiveSet.from_dict({"objectives": ["error", "macs"], "constraints": [f"params <= {limit}"]})
    ev = Evaluator(supernet, tiny_batches(), bound, obj)
    for algorithm in ["nsga2", "deap-nsga2"]:
        folder = tmp_path / algorithm
        result = SearchRun(folder, bound, obj, ev, algorithm=algorithm, generations=3, population=8, seed=0,
                           progress=False).run()
        assert result.front and all(r.metrics["params"] <= limit and r.feasible for r in result.front)
        cands, _ = _check_front(folder, 2)
        assert (cands.feasible == 0).any()  # infeasible candidates were evaluated and kept
        assert ((cands.G_0 > 0) == (cands.feasible == 0)).all()


def test_same_seed_same_run_other_seed_differs(tmp_path):
    _, bound, obj, ev = search_setup()
    runs = [SearchRun(tmp_path / f"r{i}", bound, obj, ev, generations=2, population=8, seed=s, progress=False).run()
            for i, s in enumerate([3, 3, 4])]
    genomes = [pd.read_csv(tmp_path / f"r{i}" / "candidates.csv").genome.tolist() for i in range(3)]
    assert genomes[0] == genomes[1] != genomes[2]
    assert [r.genome for r in runs[0].front] == [r.genome for r in runs[1].front]


class Crash(RuntimeError):
    pass


class CrashingPool(LocalPool):
    """Evaluates ``budget`` genomes, then dies like a kill -9 mid-generation."""

    def __init__(self, evaluator, budget):
        super().__init__(evaluator)
        self.budget = budget
        self.evaluated = []

    def evaluate(self, genomes, on_result=None, anchors=None):
        out = []
        for i, g in enumerate(genomes):
            if self.budget is not None and len(self.evaluated) >= self.budget:
                raise Crash()
            rec = self.evaluator.evaluate(g)
            self.evaluated.append(tuple(g))
            on_result(i, rec)
            out.append(rec)
        return out


@pytest.mark.parametrize("algorithm", ["nsga2", "nsga3", "deap-nsga2", "local"])
def test_resume_after_crash_equals_uninterrupted(algorithm, tmp_path):
    _, bound, obj, ev = search_setup()
    kw = dict(algorithm=algorithm, generations=4, population=8, seed=5, progress=False)
    full = SearchRun(tmp_path / "full", bound, obj, ev, **kw).run()

    new = [h.new_candidates for h in full.history]
    assert new[2] >= 2
    crash_pool = CrashingPool(ev, budget=new[0] + new[1] + new[2] // 2)  # dies inside generation 2
    with pytest.raises(Crash):
        SearchRun(tmp_path / "crashed", bound, obj, ev, pool=crash_pool, **kw).run()
    # a torn last line, as a kill -9 in the middle of a write leaves it
    with open(tmp_path / "crashed" / "candidates.csv", "a") as fh:
        fh.write("2,1-0-1,{\"lay")
    stored = set(pd.read_csv(tmp_path / "crashed" / "candidates.csv", on_bad_lines="skip").genome)

    resume_pool = CrashingPool(ev, budget=None)
    with pytest.raises(Exception, match="already holds a run"):
        SearchRun(tmp_path / "crashed", bound, obj, ev, **kw).run()
    resumed = SearchRun(tmp_path / "crashed", bound, obj, ev, pool=resume_pool, resume=True, **kw).run()
    assert not {"-".join(map(str, g)) for g in resume_pool.evaluated} & stored  # nothing re-evaluated
    assert_same_run(full, resumed)


def assert_same_run(a, b):
    """Two search results (and their folders) hold the same front, history and candidates."""
    assert [(r.genome, r.F) for r in a.front] == [(r.genome, r.F) for r in b.front]
    cols = ["generation", "evaluations", "front_size", "hypervolume"]
    pd.testing.assert_frame_equal(pd.read_csv(a.folder / "hypervolume.csv")[cols],
                                  pd.read_csv(b.folder / "hypervolume.csv")[cols])
    ca, cb = (pd.read_csv(r.folder / "candidates.csv").sort_values("genome").reset_index(drop=True) for r in (a, b))
    pd.testing.assert_frame_equal(ca.drop(columns=["eval_time_s", "cached_model"]),
                                  cb.drop(columns=["eval_time_s", "cached_model"]))
    fa, fb = pd.read_csv(a.folder / "fronts.csv"), pd.read_csv(b.folder / "fronts.csv")
    assert fa.genome.tolist() == fb.genome.tolist()


def test_stop_and_extend_with_generation_limit(tmp_path):
    _, bound, obj, ev = search_setup()
    kw = dict(population=8, seed=2, progress=False)
    full = SearchRun(tmp_path / "full", bound, obj, ev, generations=3, **kw).run()
    SearchRun(tmp_path / "part", bound, obj, ev, generations=3, **kw).run(stop_after=0)
    resumed = SearchRun(tmp_path / "part", bound, obj, ev, generations=3, resume=True, **kw).run()
    assert [r.genome for r in resumed.front] == [r.genome for r in full.front]


def test_final_front_on_full_dev_set(tmp_path):
    supernet, bound, obj, ev = search_setup()
    full_ev = Evaluator(supernet, tiny_batches(n_batches=3, seed=9), bound, obj)
    result = SearchRun(tmp_path / "r", bound, obj, ev, generations=2, population=8, full_evaluator=full_ev,
                       progress=False).run()
    final = pd.read_csv(tmp_path / "r" / "final_front.csv")
    assert len(final) == len(result.front) == len(result.final_front)
    assert "subset_error" in final.columns and "error" in final.columns


def test_front_mask_with_no_feasible_point():
    F = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    G = np.array([[2.0], [1.0], [1.0]])
    assert front_mask(F, G).tolist() == [False, True, True]
    assert front_mask(F, None).tolist() == [True, True, False]


def test_hardware_objectives_with_exit_distribution(tmp_path):
    space = {**SMALL, "genes": {**SMALL["genes"], "exit_threshold": {"choices": [0.0, 1.0], "tied": True}}}
    supernet, bound, _, _ = search_setup(space)
    obj = ObjectiveSet.load("edgebert-energy")
    ev = Evaluator(supernet, tiny_batches(), bound, obj, lazy=False)
    no_exit = list(bound.encode(SubnetConfig.largest(supernet.arch), 0.0))
    no_exit[bound.labels.index("bits")] = 0
    early = list(no_exit)
    early[bound.labels.index("exit_threshold")] = 1  # ln 2, the largest binary entropy: every input leaves at exit 0
    a, b = ev.evaluate(no_exit), ev.evaluate(early)
    assert ev.forward_calls == 1
    assert b.metrics["mean_exit_layer"] == 1.0 and a.metrics["mean_exit_layer"] == 3.0
    assert b.metrics["energy_uj"] < a.metrics["energy_uj"] and b.metrics["latency_ms"] < a.metrics["latency_ms"]
    assert a.G == (a.metrics["latency_ms"] - 5.0,)
    result = SearchRun(tmp_path / "hw", bound, obj, ev, generations=2, population=8, progress=False).run()
    assert all(r.metrics["latency_ms"] <= 5 for r in result.front)


def test_nsga3_three_objectives(tmp_path):
    _, bound, obj, ev = search_setup(objectives={"objectives": ["error", "params", "macs"]})
    result = SearchRun(tmp_path / "n3", bound, obj, ev, algorithm="nsga3", generations=3, population=10,
                       progress=False).run()
    _check_front(tmp_path / "n3", 3)
    assert result.hypervolume > 0 and len(result.front) >= 1


def test_sparsity_gene_reaches_the_config_and_the_cost(tmp_path):
    space = {"name": "sp", "genes": {"sparsity": {"choices": [0.0, 0.5]}, "heads": [2, 4]}}
    supernet = tiny_supernet()
    bound = SearchSpace.from_dict(space).bind(supernet.arch, bounds={"sparsity": [0.0, 0.5]})
    obj = ObjectiveSet.from_dict({"objectives": ["error", "macs"], "constraints": ["model_size_bytes <= 1e9"]})
    ev = Evaluator(supernet, tiny_batches(), bound, obj)
    assert bound.labels[3:] == ["sparsity[0]", "sparsity[1]", "sparsity[2]"]
    dense, sparse = ev.evaluate([1, 1, 1, 0, 0, 0]), ev.evaluate([1, 1, 1, 1, 1, 1])
    assert [l["sparsity"] for l in sparse.config["layers"]] == [0.5] * 3
    assert sparse.metrics["macs"] < dense.metrics["macs"]
    assert ev.forward_calls == 2


def test_cpu_latency_objective_from_a_saved_model(tmp_path):
    """cpu_latency_ms is the latency model's mean over the dev sentences at their lengths and exits."""
    from evosearch.latency import LatencyModel
    from evosearch.latency.machine import arch_shape
    from evosearch.latency.model import FEATURES

    space = {**SMALL, "genes": {**SMALL["genes"], "exit_threshold": {"choices": [0.0, 1.0], "tied": True}}}
    supernet, bound, _, _ = search_setup(space)
    coefficients = [0.1 if f in ("call", "fp32:T*ffn", "int8:T*ffn") else 0.0 for f in FEATURES]
    path = LatencyModel(arch_shape(supernet.arch), {"threads": 1}, coefficients).save(tmp_path / "m.json")
    obj = ObjectiveSet.from_dict({"objectives": ["error", "cpu_latency_ms"], "cpu_predictor": str(path)})
    ev = Evaluator(supernet, tiny_batches(), bound, obj)
    full = list(bound.encode(SubnetConfig.largest(supernet.arch), 0.0))
    early = list(full)
    early[bound.labels.index("exit_threshold")] = 1  # ln 2: everything leaves after layer 1
    a, b = ev.evaluate(full), ev.evaluate(early)
    config, thresholds = bound.decode(full)
    lengths = ev.workload.lengths
    assert a.metrics["cpu_latency_ms"] == pytest.approx(ev.latency_model.expected_ms(config, thresholds, lengths))
    _, early_thresholds = bound.decode(early)
    assert b.metrics["cpu_latency_ms"] == pytest.approx(
        ev.latency_model.expected_ms(config, early_thresholds, lengths, [0] * len(lengths)))
    assert b.metrics["cpu_latency_ms"] < a.metrics["cpu_latency_ms"]
    with pytest.raises(ObjectiveError, match="cpu_latency_ms"):
        Evaluator(supernet, tiny_batches(), bound, ObjectiveSet.from_dict(
            {"objectives": ["error", "cpu_latency_ms"], "cpu_predictor": str(tmp_path / "missing.json")}))


# ------------------------------------------------------------------ operators, local search, surrogate

def test_reset_mutation_changes_genes_at_the_stated_rate():
    from pymoo.core.problem import Problem

    from evosearch.search.operators import ChoiceResetMutation

    upper = np.array([3, 3, 1, 6, 2] * 6)
    problem = Problem(n_var=len(upper), n_obj=2, xl=np.zeros(len(upper)), xu=upper.astype(float), vtype=int)
    X = np.random.default_rng(0).integers(0, upper + 1, size=(4000, len(upper)))
    for rate, expected in ((None, 1 / len(upper)), (0.2, 0.2)):
        Y = ChoiceResetMutation(prob_var=rate)._do(problem, X.astype(float), random_state=np.random.default_rng(1))
        assert np.all(Y == np.rint(Y)) and np.all((Y >= 0) & (Y <= upper))  # valid choice indices
        changed = (Y != X).mean()
        assert abs(changed - expected) < 0.15 * expected, (rate, changed)


@pytest.mark.parametrize("crossover, mutation", [("uniform", "reset"), ("two-point", "reset"), ("sbx", "pm")])
def test_operators_give_valid_genomes(crossover, mutation, tmp_path):
    _, bound, obj, ev = search_setup()
    result = SearchRun(tmp_path / "r", bound, obj, ev, algorithm_options={"crossover": crossover, "mutation": mutation},
                       generations=3, population=8, progress=False).run()
    cands = pd.read_csv(tmp_path / "r" / "candidates.csv", dtype={"genome": str})
    for key in cands["genome"]:
        genome = np.array([int(g) for g in key.split("-")])
        assert genome.shape == bound.upper.shape and np.all((genome >= 0) & (genome <= bound.upper))
    assert result.front


def _dominates(a, b):
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def test_local_search_leaves_no_dominating_neighbour_and_resumes(tmp_path):
    from evosearch.search.run import one_gene_neighbours

    supernet, bound, obj, ev = search_setup()
    full_ev = Evaluator(supernet, tiny_batches(n_batches=3, seed=9), bound, obj)
    kw = dict(generations=2, population=8, seed=3, local_search=True, full_evaluator=full_ev, progress=False)
    result = SearchRun(tmp_path / "ls", bound, obj, ev, **kw).run()
    hv = pd.read_csv(tmp_path / "ls" / "hypervolume.csv")
    assert (hv["stage"] == "local").any() and hv["hypervolume"].is_monotonic_increasing
    fresh = Evaluator(supernet, tiny_batches(), bound, obj)  # a fresh, full evaluation of every neighbour
    for member in result.front:
        for n in one_gene_neighbours(member.genome, bound.upper):
            assert not _dominates(fresh.evaluate(n).F, member.F), (n, member.genome)
    # re-scored on the full dev set and filtered: what is kept is non-dominated there
    kept = [r for r, ok in zip(result.final_front, result.on_full_front) if ok]
    assert kept and not any(_dominates(a.F, b.F) for a in kept for b in kept)
    final = pd.read_csv(tmp_path / "ls" / "final_front.csv")
    assert final["on_full_front"].tolist() == [int(ok) for ok in result.on_full_front]
    baselines = pd.read_csv(tmp_path / "ls" / "baselines.csv")
    assert set(baselines["dev"]) == {"subset", "full"} and "uncompressed" in set(baselines["name"])
    # a crash inside the local-search stage resumes to the same front
    evolve = int((hv["stage"] == "evolve").sum())
    budget = len(pd.read_csv(tmp_path / "ls" / "candidates.csv")) - int(hv["new_candidates"].iloc[evolve:].sum()) + 3
    with pytest.raises(Crash):
        SearchRun(tmp_path / "crash", bound, obj, ev, pool=CrashingPool(ev, budget=budget), **kw).run()
    resumed = SearchRun(tmp_path / "crash", bound, obj, ev, resume=True, **kw).run()
    assert [(r.genome, r.F) for r in resumed.front] == [(r.genome, r.F) for r in result.front]


def test_local_search_moves_the_embedding_sparsity_gene(tmp_path):
    """The one-gene neighbours of local search come from the schema: embedding sparsity is one of
    them, a higher value counts as the cheaper move, and the run records the value per candidate."""
    from evosearch.report import load_run
    from evosearch.search.run import one_gene_neighbours

    space = {**SMALL, "genes": {**SMALL["genes"], "embedding_sparsity": {"choices": [0.0, 0.6]}}}
    supernet, bound, obj, ev = search_setup(space, {"objectives": ["error", "model_size_bytes"]})
    run = SearchRun(tmp_path / "emb", bound, obj, ev, generations=2, population=8, seed=1, local_search=True,
                    progress=False)
    genome = tuple(int(g) for g in bound.largest_genome())
    neighbours = one_gene_neighbours(genome, bound.upper)
    assert genome[:-1] + (1,) in neighbours
    run.in_archive = set()  # (set by run(); nothing scored yet)
    order = run._unscored(genome)
    assert genome[:-1] + (1,) in order[-2:]  # with embedding bits: the moves that need a full run come last
    result = run.run()
    candidates = load_run(tmp_path / "emb").candidates
    assert set(candidates["embedding_sparsity"]) == {0.0, 0.6}
    for member in result.front:  # no neighbour, embedding sparsity included, dominates a member
        for n in one_gene_neighbours(member.genome, bound.upper):
            assert not _dominates(ev.evaluate(n).F, member.F), (n, member.genome)


def test_local_search_front_is_bounded_non_dominated_and_locally_optimal(tmp_path):
    from evosearch.report import load_run
    from evosearch.search.run import one_gene_neighbours

    supernet, bound, obj, ev = search_setup()
    kw = dict(generations=2, population=8, seed=3, local_search=True, progress=False)
    unbounded = SearchRun(tmp_path / "all", bound, obj, ev, **kw).run()
    assert len(unbounded.front) > 3  # so a bound of 3 has something to leave out
    result = SearchRun(tmp_path / "b3", bound, obj, ev, front_size=3, **kw).run()
    hv = pd.read_csv(tmp_path / "b3" / "hypervolume.csv")
    local = hv[hv["stage"] == "local"]
    assert len(local) and (local["front_size"] <= 3).all() and len(result.front) == 3
    assert hv["hypervolume"].is_monotonic_increasing  # a member leaves only for a newcomer that adds more
    # every member is non-dominated among all the run scored, and no one-gene change dominates it
    cands = pd.read_csv(tmp_path / "b3" / "candidates.csv", dtype={"genome": str})
    F_all = cands[[c for c in cands.columns if c.startswith("F_")]].to_numpy(float)
    fresh = Evaluator(supernet, tiny_batches(), bound, obj)
    for member in result.front:
        assert not any(_dominates(f, member.F) for f in F_all)
        for n in one_gene_neighbours(member.genome, bound.upper):
            assert not _dominates(fresh.evaluate(n).F, member.F), (n, member.genome)
    # the report's search front is the bounded front
    run = load_run(tmp_path / "b3")
    assert sorted(run.candidates.loc[run.search_front_ids, "genome"]) == sorted("-".join(map(str, r.genome))
                                                                             for r in result.front)
    # killed in the middle of the bounded stage, resumed: the same front (the members are in the checkpoint)
    evolve = int((hv["stage"] == "evolve").sum())
    n_evolve = len(cands) - int(hv["new_candidates"].iloc[evolve:].sum())
    budget = n_evolve + int(hv["new_candidates"].iloc[evolve:].sum()) // 2
    with pytest.raises(Crash):
        SearchRun(tmp_path / "crash", bound, obj, ev, front_size=3, pool=CrashingPool(ev, budget=budget), **kw).run()
    resumed = SearchRun(tmp_path / "crash", bound, obj, ev, front_size=3, resume=True, **kw).run()
    assert [(r.genome, r.F) for r in resumed.front] == [(r.genome, r.F) for r in result.front]


def test_early_exit_evaluation_from_an_anchor_equals_the_full_one():
    supernet, bound, obj, ev = search_setup()
    rng = np.random.default_rng(4)
    from evosearch.search.run import one_gene_neighbours

    member = tuple(int(g) for g in bound.random_genomes(1, rng)[0])
    ev.anchor(bound.decode(member)[0])
    fresh = Evaluator(supernet, tiny_batches(), bound, obj)
    for n in one_gene_neighbours(member, bound.upper):
        assert ev.evaluate(n, early_exit_only=True).metrics == fresh.evaluate(n).metrics


def test_surrogate_screens_offspring_and_reports_tau(tmp_path):
    _, bound, obj, ev = search_setup()
    result = SearchRun(tmp_path / "s", bound, obj, ev, algorithm_options={"surrogate": True}, generations=6,
                       population=8, seed=1, progress=False).run()
    hv = pd.read_csv(tmp_path / "s" / "hypervolume.csv")
    assert hv["surrogate_tau_error"].iloc[:3].isna().all()  # no models before enough candidates are seen
    taus = hv["surrogate_tau_params"].dropna()  # held-out rank correlation once the models exist
    assert len(taus) >= 2 and (taus > 0.3).all()  # parameters follow the genome: the forest ranks them well
    assert result.front
