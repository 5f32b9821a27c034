"""Fixtures for the verifier tests: the tiny Qwen2 (random weights, real tokenizer + chat template); hand-built
scored trajectories come from scored_trajectories.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "models"
HERE = Path(__file__).resolve().parent
for extra in (MODELS, HERE):   # HERE: scored_trajectories (a module name no other test dir's conftest shadows)
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from tiny_qwen2 import build_tiny_qwen2  # noqa: E402


@pytest.fixture(scope="session")
def tiny_verifier_dir(tmp_path_factory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny_verifier"))
