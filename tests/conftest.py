"""Shared pytest configuration and fixtures."""

import csv
import random

import pytest
import torch
from transformers import BertConfig, BertModel

from tests.tiny_models import TINY, save_tiny


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
    rng = random.Random(0)
    path = tmp_path / "tiny.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(120):
            words = [f"w{rng.randint(2, 50)}" for _ in range(rng.randint(3, 12))]
            label = i % 2
            if label:
                words.insert(rng.randint(0, len(words)), "w1")
            writer.writerow([" ".join(words), label])
    return str(path)


@pytest.fixture
def tiny_model(tmp_path):
    """A tiny random 3-layer BERT with a tokenizer, saved like a user's model folder."""
    torch.manual_seed(0)
    return str(save_tiny(tmp_path, BertModel(BertConfig(num_hidden_layers=3, **TINY))))
