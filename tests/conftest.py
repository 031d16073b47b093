"""Shared pytest configuration."""


def pytest_configure(config):
    config.addinivalue_line("markers", "network: needs PyPI or another network service; skips itself when offline")
