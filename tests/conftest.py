"""Shared pytest configuration and fixtures."""

import pytest
import torch
from transformers import BertConfig, BertModel

from tests.tiny_models import TINY, save_tiny, write_keyword_task


def pytest_configure(config):
    config.addinivalue_line("markers", "network: needs PyPI or another network service; skips itself when offline")


@pytest.fixture(autouse=True)
def quick_latency_calibration(monkeypatch):
    """Tiny models calibrate in a second; the 90 s a real machine gets would only slow the tests."""
    monkeypatch.setenv("EVOSEARCH_CALIBRATION_BUDGET", "0")


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An empty evosearch cache for this test."""
    monkeypatch.setenv("EVOSEARCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tiny_task(tmp_path):
    """A learnable sentiment-like task: label 1 iff the sentence contains w1."""
    return write_keyword_task(tmp_path / "tiny.csv", 120)


@pytest.fixture
def tiny_model(tmp_path):
    """A tiny random 3-layer BERT with a tokenizer, saved like a user's model folder."""
    torch.manual_seed(0)
    return str(save_tiny(tmp_path, BertModel(BertConfig(num_hidden_layers=3, **TINY))))
