"""Shared test options: ``--update-golden`` rewrites golden files instead of comparing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

torch.set_num_threads(1)  # small tensors: threads only add contention


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files under tests/golden")


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))
