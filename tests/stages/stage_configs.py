"""A run config shaped like the one the pipeline hands to stages (the issue-5 contract), for tests.

    cfg = make_cfg(model_dir, stage={"kind": "sft", "name": "sft", "max_steps": 4}, train=[pack], test=[pack])

Small values everywhere (2-turn episodes, 1 sandbox worker, wandb disabled); `lora=True` turns LoRA on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def make_cfg(model_dir: Path | str, stage: dict[str, Any], *, train: list[Path] = (), test: list[Path] = (),
             lora: bool = False, limit_test: int | None = None, data_roots: list[Path] = (), seed: int = 0):
    from omegaconf import OmegaConf

    return OmegaConf.create({
        "run": {"name": "test", "root": "runs", "seed": seed},
        "model": {"name_or_path": str(model_dir), "dtype": "auto", "chat_template": None,
                  "attn_implementation": None, "trust_remote_code": False,
                  "lora": {"enabled": lora, "r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"}},
        "data": {"offline_root": "data/offline", "train": [str(p) for p in train], "test": [str(p) for p in test],
                 "limit_train": None, "limit_test": limit_test},
        "sandbox": {"kind": "process", "options": {"workers": 1, "data_roots": [str(p) for p in data_roots]}},
        "episode": {"max_turns": 2, "action_format": "json"},
        "logger": {"wandb": {"mode": "disabled", "project": "med-copilot-tests", "entity": None}},
        "cluster": {"launcher": "python", "num_processes": 1, "accelerate_config": None, "deepspeed": None},
        "recipe": {"name": "test", "description": "stage tests", "stages": [stage]},
        "stage": stage,
    })
