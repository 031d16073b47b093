"""The hardware-only activation_bits gene: declared in a space, carried to the hardware metrics."""

from __future__ import annotations

import pytest

from evosearch.search import Evaluator, ObjectiveSet, SearchSpace, SearchSpaceError, reference_point
from evosearch.supernet import SubnetConfig

from .tiny_models import SMALL, tiny_batches, tiny_supernet

ACT = {**SMALL, "genes": {**SMALL["genes"], "activation_bits": {"choices": [8, 16]}}}
ENERGY = {"objectives": ["error", "energy_uj"], "target": "edgebert-12nm"}


def test_the_gene_is_one_global_slot_and_round_trips():
    bound = SearchSpace.from_dict(ACT).bind(tiny_supernet().arch)
    assert bound.labels[-1] == "activation_bits" and bound.upper[-1] == 1
    config = SubnetConfig.largest(bound.arch)
    genome = bound.encode(config, 0.0, activation_bits=16)
    assert bound.activation_bits(genome) == 16 and bound.decode(genome) == bound.decode(bound.encode(config, 0.0, 8))
    assert bound.activation_bits(bound.largest_genome()) == 16
    plain = SearchSpace.from_dict(SMALL).bind(bound.arch)
    assert plain.activation_bits([0] * plain.n_var) is None
    with pytest.raises(SearchSpaceError, match="activation_bits gene; give activation_bits"):
        bound.encode(config, 0.0)


@pytest.mark.parametrize("spec, words", [
    ({"choices": [8, 64]}, ["activation_bits", "64", "[1, 32]"]),
    ({"choices": [8, "16"]}, ["activation_bits", "'16'"]),
    ({"choices": [8, 16], "tied": True}, ["activation_bits", "tied"]),
    ({"fractions": [0.5]}, ["activation_bits", "fractions"]),
])
def test_bad_gene_values_name_the_gene(spec, words):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_dict({**SMALL, "genes": {**SMALL["genes"], "activation_bits": spec}})
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_activation_width_reaches_the_hardware_metrics_without_a_model_run():
    supernet = tiny_supernet()
    bound = SearchSpace.from_dict(ACT).bind(supernet.arch)
    ev = Evaluator(supernet, tiny_batches(), bound, ObjectiveSet.from_dict(ENERGY), lazy=False)
    config = SubnetConfig.largest(supernet.arch).with_layers(bits=8)
    narrow, wide = (ev.evaluate(bound.encode(config, 0.0, activation_bits=bits)) for bits in (8, 16))
    assert ev.forward_calls == 1  # the supernet runs float activations either way
    assert narrow.metrics["activation_bits"] == 8 and wide.metrics["activation_bits"] == 16
    assert wide.metrics["energy_uj"] > narrow.metrics["energy_uj"]
    assert wide.metrics["error"] == narrow.metrics["error"]
    # the hypervolume reference is priced at the widest activations
    ref = reference_point(bound, ev.objectives, ev)
    config, thresholds = bound.largest()
    at16, _ = ev.metrics(config, (0.0,) * len(thresholds), None, activation_bits=16)
    assert ref[1] == pytest.approx(1.1 * at16["energy_uj"])


def test_the_target_must_run_the_genes_widths():
    space = {**SMALL, "genes": {**SMALL["genes"], "activation_bits": {"choices": [4, 8]}}}
    supernet = tiny_supernet()
    bound = SearchSpace.from_dict(space).bind(supernet.arch)
    with pytest.raises(SearchSpaceError, match=r"activation_bits=4.*8, 16.*compute.activation_bits_supported"):
        Evaluator(supernet, tiny_batches(), bound, ObjectiveSet.from_dict(ENERGY))
    bound = SearchSpace.from_dict(ACT).bind(supernet.arch)
    with pytest.raises(SearchSpaceError, match="changes only hardware metrics"):
        Evaluator(supernet, tiny_batches(), bound, ObjectiveSet.from_dict({"objectives": ["error", "params"]}))
