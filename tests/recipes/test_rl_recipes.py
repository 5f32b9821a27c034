"""The RL recipes: every one composes through our Hydra config, validates, and its rl stage's verl run dir
(parquet, tool config, verl's config composed with the stage's keys and checked with verl's own checks) is
written without launching anything; backend=trl is one command-line override; nnodes follows Slurm."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from recipe_files import REPO

from copilot.config import validate_run_config

RL_RECIPES = {"grpo_7b": ("grpo", 0), "ppo_7b": ("ppo", 0), "grpo_14b": ("grpo", 0), "ppo_14b": ("ppo", 0),
              "pipeline_7b": ("grpo", 5), "pipeline_14b": ("grpo", 5)}
HUB = {"7b": "Qwen/Qwen2.5-7B-Instruct", "14b": "Qwen/Qwen2.5-14B-Instruct"}


@pytest.fixture(scope="module")
def sql_pack(tmp_path_factory) -> Path:
    from copilot.tasks.packs import load_pack_module

    out = tmp_path_factory.mktemp("rl_recipe_packs")
    load_pack_module("ehr_sql").build(out, 0, 4, 2)
    return out / "ehr_sql"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "models"))
    from tiny_qwen2 import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny_qwen2"))


def rl_stage(config: dict, index: int) -> dict:
    from copilot.pipeline import stage_config

    node = stage_config(config, index)
    assert node["stage"]["kind"] == "rl"
    return node


def test_rl_recipes_are_shipped():
    assert set(RL_RECIPES) <= {p.stem for p in (REPO / "recipes" / "recipe").glob("*.yaml")}
    for name in ("grpo_7b", "ppo_7b", "grpo_14b", "ppo_14b"):
        assert (REPO / "slurm" / f"{name}.sh").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RL_RECIPES))
def test_rl_recipe_composes_and_its_verl_config_validates(name, compose_config, sql_pack, tiny_model, tmp_path,
                                                         monkeypatch):
    from copilot.stages import rl

    algorithm, index = RL_RECIPES[name]
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    cfg = compose_config(f"recipe={name}", f"data.train=[{sql_pack}]", f"data.test=[{sql_pack}]")
    config = validate_run_config(cfg)
    node = rl_stage(config, index)
    stage = node["stage"]
    assert stage["backend"] == "verl" and stage["algorithm"] == algorithm
    assert stage["learning_rate"] == pytest.approx(1e-5) and stage["kl_coef"] == pytest.approx(1e-3)
    assert stage["temperature"] == pytest.approx(0.6) and stage["train_batch_size"] == 128
    assert stage["nnodes"] == 2 and stage["n_gpus_per_node"] == 8
    assert config["model"]["name_or_path"] == HUB[name.rsplit("_", 1)[1]]
    if name.startswith("pipeline"):
        assert config["cluster"]["launcher"] == "accelerate"   # rank 0 launches verl, the others return
        assert stage["episode"] == {"action_format": "tool_call", "max_turns": 15}
        assert [s["kind"] for s in config["recipe"]["stages"]][-2:] == ["rl", "evaluate"]
    else:
        assert config["cluster"]["launcher"] == "python"
        assert config["episode"]["max_turns"] == 15 and config["episode"]["action_format"] == "tool_call"

    prepared = rl.prepare_verl(OmegaConf.create(node), {}, tmp_path, local_model_dir=tiny_model)
    verl = OmegaConf.load(prepared["verl_config"])
    assert verl.actor_rollout_ref.model.path == config["model"]["name_or_path"]   # the Hub name is kept
    assert verl.trainer.nnodes == 2 and verl.trainer.n_gpus_per_node == 8
    assert verl.actor_rollout_ref.rollout.multi_turn.max_assistant_turns == 15
    assert verl.actor_rollout_ref.rollout.name == "vllm" and verl.actor_rollout_ref.actor.strategy == "fsdp"
    assert verl.algorithm.adv_estimator == ("grpo" if algorithm == "grpo" else "gae")
    assert verl.actor_rollout_ref.rollout.n == (8 if algorithm == "grpo" else 1)
    if name.endswith("14b"):
        assert verl.actor_rollout_ref.actor.fsdp_config.param_offload is True
        if algorithm == "ppo":
            assert verl.critic.fsdp.param_offload is True and verl.critic.fsdp.optimizer_offload is True
    assert verl.reward.custom_reward_function.reward_kwargs.require_trajectory is True


@pytest.mark.parametrize("name,index", [("grpo_7b", 0), ("grpo_14b", 0), ("pipeline_7b", 5)])
def test_backend_trl_is_one_override(name, index, compose_config, file_layout):
    config = validate_run_config(compose_config(f"recipe={name}", f"recipe.stages.{index}.backend=trl"))
    assert config["recipe"]["stages"][index]["backend"] == "trl"
    assert config["recipe"]["stages"][index]["kind"] == "rl"


def test_nnodes_defaults_to_one_outside_slurm(compose_config, file_layout, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_NUM_NODES", raising=False)
    config = validate_run_config(compose_config("recipe=grpo_7b"))
    assert config["recipe"]["stages"][0]["nnodes"] == 1
