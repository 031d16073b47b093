"""Helpers for tests that edit a shipped hardware target: its YAML as a dict, and the error a
mutated copy raises."""

from __future__ import annotations

import copy

import pytest
import yaml

from evosearch.hardware import SHIPPED_TARGETS_DIR, HardwareTargetError, target_from_dict


def shipped_target_data(name: str = "edgebert-12nm") -> dict:
    """A shipped target's YAML, parsed (a fresh dict each call)."""
    return yaml.safe_load((SHIPPED_TARGETS_DIR / f"{name}.yaml").read_text())


def target_error(mutate, name: str = "edgebert-12nm") -> str:
    """The message of the HardwareTargetError that the shipped target raises once ``mutate`` edits it."""
    data = copy.deepcopy(shipped_target_data(name))
    mutate(data)
    with pytest.raises(HardwareTargetError) as info:
        target_from_dict(data)
    return str(info.value)
