"""Shared pytest configuration."""

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "network: needs PyPI or another network service; skips itself when offline")


@pytest.fixture(autouse=True)
def quick_latency_calibration(monkeypatch):
    """Tiny models calibrate in a second; the 90 s a real machine gets would only slow the tests."""
    monkeypatch.setenv("EVOSEARCH_CALIBRATION_BUDGET", "0")
