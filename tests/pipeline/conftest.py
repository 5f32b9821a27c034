"""Fixtures for the pipeline tests: the real recipes/ tree plus tests/pipeline/recipes (the cheap test recipe)
on Hydra's search path, with run.root and data.offline_root inside the test's tmp dir."""

from __future__ import annotations

import pytest
from cheap_recipe import REPO, cheap_overrides
from hydra import compose, initialize_config_dir


@pytest.fixture
def cheap_config(tmp_path):
    """cheap_config("recipe.stages.1.k=3") -> the validated config dict of the cheap recipe under tmp_path."""
    from copilot.config import validate_run_config

    def _config(*extra: str) -> dict:
        with initialize_config_dir(config_dir=str(REPO / "recipes"), version_base=None):
            return validate_run_config(compose("config", overrides=cheap_overrides(tmp_path, *extra)))

    return _config
