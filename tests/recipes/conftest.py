"""Fixtures for the recipe tests: real Hydra composition of recipes/ and a fake-but-real file layout (dataset
dirs with a task file, a local model dir with config.json) so that path validation has something to find."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from recipe_files import MEDAGENTGYM_DATASETS, RECIPES


@pytest.fixture
def compose_config():
    """compose_config("recipe=demo", "model.dtype=float32") -> the DictConfig Hydra composes from recipes/."""

    def _compose(*overrides: str):
        with initialize_config_dir(config_dir=str(RECIPES), version_base=None):
            return compose("config", overrides=list(overrides))

    return _compose


@pytest.fixture
def file_layout(tmp_path, monkeypatch) -> dict[str, Path]:
    """MEDAGENTGYM_DIR with every dataset dir holding a task file; MEDCOPILOT_CACHE with a SmolLM2 model dir."""
    data = tmp_path / "medagentgym"
    for name in MEDAGENTGYM_DATASETS:
        (data / name).mkdir(parents=True)
        (data / name / "train_tasks.jsonl").write_text(json.dumps({"id": 1}) + "\n")
    cache = tmp_path / "cache"
    model = cache / "models" / "SmolLM2-135M-Instruct"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    monkeypatch.setenv("MEDAGENTGYM_DIR", str(data))
    monkeypatch.setenv("MEDCOPILOT_CACHE", str(cache))
    return {"data": data, "cache": cache, "model": model, "offline": tmp_path / "offline"}
