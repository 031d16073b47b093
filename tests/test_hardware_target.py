"""Hardware target files: the shipped ones load, and schema errors name the field."""

from __future__ import annotations

import pytest
import yaml

from evosearch.errors import EvosearchError
from evosearch.hardware import (
    SHIPPED_TARGETS_DIR,
    HardwareTargetError,
    list_shipped_targets,
    load_target,
)

from .hardware_targets import shipped_target_data, target_error


def test_shipped_targets_load_by_name_and_path():
    names = list_shipped_targets()
    assert {"edgebert-12nm", "generic-45nm"} <= set(names)
    for name in names:
        t = load_target(name)
        assert t.name == name
        assert load_target(SHIPPED_TARGETS_DIR / f"{name}.yaml") == t
        assert load_target(str(SHIPPED_TARGETS_DIR / f"{name}.yaml")) == t


def test_edgebert_target_matches_the_paper_shape():
    t = load_target("edgebert-12nm")
    assert (t.array_rows, t.array_cols) == (16, 16)
    assert t.datapath_bits == 8 and t.activation_bits == 8 and t.accumulator_bits == 16
    assert t.level_of("embeddings").name == "rram"
    assert t.level_of("weights").on_chip
    assert len(t.dvfs_points) >= 2
    assert t.nominal_point.voltage == max(p.voltage for p in t.dvfs_points)


def test_edgebert_dvfs_points_follow_the_stated_alpha_power_law():
    """The YAML's clocks are f = 1 GHz * ((V - 0.3)^1.3 / V) / ((0.8 - 0.3)^1.3 / 0.8), rounded to 1 MHz,
    at 16 voltages from 0.5 to 0.8 V (EdgeBERT's 16-entry DVFS table)."""
    t = load_target("edgebert-12nm")
    assert len(t.dvfs_points) == 16 and t.nominal_point.voltage == 0.8 and t.nominal_point.frequency_mhz == 1000

    def law(v):
        return 1000.0 * ((v - 0.3) ** 1.3 / v) / ((0.8 - 0.3) ** 1.3 / 0.8)

    for i, p in enumerate(t.dvfs_points):
        assert p.voltage == pytest.approx(0.5 + 0.02 * i)
        assert abs(p.frequency_mhz - law(p.voltage)) <= 0.5, p


def test_every_number_in_shipped_files_has_a_comment():
    """Each numeric line cites its source (or says ASSUMPTION) in a trailing comment."""
    for name in list_shipped_targets():
        for line in (SHIPPED_TARGETS_DIR / f"{name}.yaml").read_text().splitlines():
            body = line.split("#", 1)[0].strip()
            if ":" not in body or body.startswith(("name:", "description:", "source:")):
                continue
            if any(ch.isdigit() for ch in body.split(":", 1)[1]) or body.startswith("- {"):
                assert "#" in line, f"{name}: no source comment on {line.strip()!r}"


def test_user_target_from_a_path(tmp_path):
    data = shipped_target_data()
    data["name"] = "my-chip"
    data["compute"]["mac_array"] = [32, 32]
    path = tmp_path / "my-chip.yaml"
    path.write_text(yaml.safe_dump(data))
    t = load_target(path)
    assert t.name == "my-chip" and t.macs_per_cycle == 1024


def test_unknown_name_lists_the_shipped_targets():
    with pytest.raises(HardwareTargetError, match="edgebert-12nm"):
        load_target("no-such-chip")


def test_hardware_target_error_is_an_evosearch_error():
    assert issubclass(HardwareTargetError, EvosearchError)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d["compute"].pop("mac_energy_pj"), ["missing", "compute.mac_energy_pj"]),
        (lambda d: d.pop("placement"), ["missing", "placement"]),
        (lambda d: d["compute"].update(mac_energy_pj="cheap"), ["compute.mac_energy_pj", "wrong type", "number"]),
        (lambda d: d["compute"].update(datapath_bits=8.5), ["compute.datapath_bits", "integer"]),
        (lambda d: d["memory"]["act_sram"].update(read_pj_per_bit=-0.1), ["memory.act_sram.read_pj_per_bit", ">= 0"]),
        (lambda d: d["compute"].update(mac_array=[16]), ["compute.mac_array", "rows, cols"]),
        (lambda d: d["placement"].update(embeddings="flash"), ["placement.embeddings", "flash", "rram", "act_sram"]),
        (lambda d: d["placement"].update(activations="rram") or d["memory"]["rram"].update(on_chip=False),
         ["placement.activations", "on-chip"]),
        (lambda d: d["memory"]["rram"].update(bandwidth_gb_per_s=10), ["memory.rram", "exactly one"]),
        (lambda d: d["memory"]["rram"].update(speed=3), ["speed", "memory.rram"]),
        (lambda d: d.update(colour="red"), ["colour", "allowed"]),
        (lambda d: d["dvfs"].update(nominal=99), ["dvfs.nominal", "[0, 15]"]),
        (lambda d: d["dvfs"]["points"][0].pop("voltage"), ["dvfs.points[0].voltage"]),
        (lambda d: d["dvfs"]["points"][1].update(frequency_mhz=0), ["frequency_mhz", "> 0"]),
        (lambda d: d["dvfs"].update(points=[]), ["dvfs.points"]),
        (lambda d: d["vector_unit"]["ops_per_element"].pop("gelu"), ["vector_unit.ops_per_element.gelu"]),
        (lambda d: d["compute"].update(zero_skipping="yes"), ["compute.zero_skipping", "true or false"]),
        (lambda d: d["memory"]["act_sram"].update(capacity_kb=float("inf")), ["capacity_kb", "finite"]),
        (lambda d: d["compute"].update(activation_bits_supported=[16]), ["compute.activation_bits_supported", "(8)"]),
        (lambda d: d["compute"].update(activation_bits_supported=8), ["compute.activation_bits_supported", "list"]),
        (lambda d: d["compute"].update(number_format="posit"), ["compute.number_format", "posit", "int, adaptivfloat"]),
        (lambda d: d["compute"].pop("format_mac_energy_factor"), ["missing", "compute.format_mac_energy_factor"]),
        (lambda d: d["compute"].update(number_format="int"), ["compute.format_mac_energy_factor", "'int'"]),
        (lambda d: d["compute"].update(format_mac_energy_factor=0), ["compute.format_mac_energy_factor", "> 0"]),
    ],
)
def test_schema_errors_name_the_field(mutate, words):
    message = target_error(mutate)
    for word in words:
        assert word in message, (word, message)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\ncompute: [1, 2\n")
    with pytest.raises(HardwareTargetError, match="broken.yaml"):
        load_target(path)
    data = shipped_target_data()
    del data["memory"]["rram"]["read_pj_per_bit"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(HardwareTargetError, match=r"broken.yaml.*memory.rram.read_pj_per_bit"):
        load_target(path)
    path.write_text("- a list\n")
    with pytest.raises(HardwareTargetError, match="mapping"):
        load_target(path)


def test_bad_dvfs_point_argument():
    t = load_target("generic-45nm")
    with pytest.raises(HardwareTargetError, match="dvfs_point"):
        t.resolve_dvfs(7)
    with pytest.raises(HardwareTargetError, match="dvfs_point"):
        t.resolve_dvfs("fast")
    assert t.resolve_dvfs((0.8, 400)).frequency_mhz == 400
