"""Stage `rl`: a one-step TRL GRPO run on the tiny Qwen2 with our sandbox episode as its environment (tool calls
parsed by TRL, run by the episode, scored by reward.score; and the single-turn json episodes of the CPU demo)
changes the weights and hands a model over (full, and LoRA merged); the
verl backend on a machine without GPUs / vLLM writes its whole run dir, then fails with a message naming what
is missing; bad settings are clear errors.

How the random tiny model makes real tool calls: TRL's `generation_kwargs` (a real GRPOConfig option) get a
transformers `sequence_bias` that steers generation into one of two `final_answer` actions -- the task's
right answer or a wrong one -- with a temperature high enough that the branch between them is a coin flip
per rollout. Everything after generation (TRL's tool loop and parsing, our environment, the sandbox, the
reward, GRPO's update, the hand-off) is unmodified.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_configs import make_cfg

from copilot.rl.verl_merge import fold_lora_adapter
from copilot.stages import rl
from copilot.stages.model_loading import StageInputError

TOOL_EPISODE = {"action_format": "tool_call", "max_turns": 2}
JSON_EPISODE = {"action_format": "json", "max_turns": 1, "prompt_style": "compact"}   # the CPU demo's episodes


def call(name: str, **arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call><|im_end|>"


def steer_to(tokenizer_dir: Path, texts: list[str], step: float = 1e4) -> list:
    """transformers sequence_bias: the k-th token of each text gets bias step*(k+1) after its own prefix, so
    generation follows one of the texts token by token; where the texts part, both options weigh the same."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    bias: dict[tuple, float] = {}
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        for k in range(len(ids)):
            bias[tuple(ids[: k + 1])] = step * (k + 1)
    return [[list(key), value] for key, value in bias.items()]


def json_action(name: str, **params) -> str:
    return json.dumps({"action": name, "params": params}) + "<|im_end|>"


def grpo_cfg(model_dir, pack, tmp_path, *, lora=False, mode="tool_call", **stage):
    import copilot.tasks

    task = copilot.tasks.load(pack, "train")[0]
    write = call if mode == "tool_call" else json_action
    texts = [write("final_answer", answer=task.answer), write("final_answer", answer=-12345)]
    episode = TOOL_EPISODE if mode == "tool_call" else JSON_EPISODE
    knobs = {"kind": "rl", "name": "grpo", "backend": "trl", "num_generations": 4, "per_device_train_batch_size": 4,
             "gradient_accumulation_steps": 1, "max_steps": 1, "learning_rate": 1e-2, "max_completion_length": 256,
             "temperature": 100.0, "save_steps": 1, "episode": episode,
             "trl_overrides": {"generation_kwargs": {"sequence_bias": steer_to(model_dir, texts)}}, **stage}
    cfg = make_cfg(model_dir, knobs, train=[pack], test=[pack], lora=lora, data_roots=[pack.parent])
    cfg.data.limit_train = 1
    return cfg, task


def state(model_dir):
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tool_call", "json"])
def test_one_step_trl_grpo_runs_our_episode_and_changes_the_weights(mode, tiny_qwen2_dir, pack_dirs, tmp_path):
    import torch

    biostat = next(p for p in pack_dirs if p.name == "biostat")
    cfg, task = grpo_cfg(tiny_qwen2_dir, biostat, tmp_path, mode=mode)
    out = tmp_path / "grpo"
    out.mkdir()
    outputs = rl.run(cfg, {}, out)

    assert outputs["model"] == out / "model" and (out / "model" / "config.json").is_file()
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 4 and {e["task_id"] for e in episodes} == {task.id}
    for episode in episodes:   # TRL (tool_call) or our parser (json) read the call, the episode ran and ended it
        assert episode["kinds"] == ["final_answer"] and episode["termination"] == "answered", episode
        assert episode["format_ok"] and episode["score"] == (1.1 if episode["correct"] else 0.1)
    assert {e["correct"] for e in episodes} == {True, False}, "no reward variance in the group: GRPO cannot learn"
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("episode/correct" in m for m in metrics), metrics
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 1 and summary["backend"] == "trl" and summary["tasks"] == 1
    assert summary["action_format"] == mode
    before, after = state(tiny_qwen2_dir), state(out / "model")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before), "the GRPO step changed no weight"


@pytest.mark.slow
def test_lora_grpo_hands_off_a_merged_full_model(tiny_qwen2_dir, pack_dirs, tmp_path):
    import torch

    biostat = next(p for p in pack_dirs if p.name == "biostat")
    cfg, _ = grpo_cfg(tiny_qwen2_dir, biostat, tmp_path, lora=True)
    out = tmp_path / "grpo_lora"
    out.mkdir()
    rl.run(cfg, {}, out)
    assert not (out / "model" / "adapter_config.json").exists()
    before, after = state(tiny_qwen2_dir), state(out / "model")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before), "the merged LoRA step changed no weight"


@pytest.mark.slow
def test_verl_backend_without_gpus_writes_its_run_dir_then_names_what_is_missing(tiny_qwen2_dir, pack_dirs,
                                                                                  tmp_path):
    from omegaconf import OmegaConf

    sql = next(p for p in pack_dirs if p.name == "ehr_sql")
    stage = {"kind": "rl", "name": "grpo", "backend": "verl", "episode": {"action_format": "tool_call",
                                                                         "max_turns": 15},
             "reward_weights": {"correct": 1.0, "format": 0.2}, "verl_overrides": ["trainer.save_freq=7"]}
    cfg = make_cfg(tiny_qwen2_dir, stage, train=[sql], test=[sql], data_roots=[sql.parent])
    out = tmp_path / "grpo"
    out.mkdir()
    with pytest.raises(StageInputError, match=r"cannot start on this machine: .*'vllm'.*not installed.*no CUDA GPU"):
        rl.run(cfg, {}, out)
    verl_dir = out / "verl"
    for name in ("train.parquet", "test.parquet", "verl_tools.yaml", "verl_config.yaml", "command.txt"):
        assert (verl_dir / name).is_file(), name
    assert not (out / "model").exists()
    written = OmegaConf.load(verl_dir / "verl_config.yaml")
    assert written.actor_rollout_ref.model.path == str(tiny_qwen2_dir)
    assert written.actor_rollout_ref.actor.optim.lr == 1e-5 and written.actor_rollout_ref.actor.kl_loss_coef == 1e-3
    assert written.actor_rollout_ref.rollout.n == 8 and written.data.train_batch_size == 128
    assert written.actor_rollout_ref.rollout.multi_turn.max_assistant_turns == 15
    assert written.trainer.save_freq == 7 and written.trainer.default_local_dir == str(verl_dir / "checkpoints")
    assert dict(written.reward.custom_reward_function.reward_kwargs) == {
        "require_trajectory": True, "weights": {"correct": 1.0, "format": 0.2}}
    assert "verl.trainer.main_ppo" in (verl_dir / "command.txt").read_text()


@pytest.mark.parametrize("stage,message", [
    ({"backend": "trl", "algorithm": "ppo"}, "algorithm 'ppo' needs backend 'verl'"),
    ({"backend": "jax"}, "backend = 'jax'; expected one of \\['verl', 'trl'\\]"),
    ({"algorithm": "a2c"}, "algorithm = 'a2c'"),
    ({"backend": "trl", "episode": {"action_format": "json", "max_turns": 3}}, "json-action episodes run one"),
    ({"backend": "verl", "episode": {"action_format": "json", "max_turns": 1}}, "verl backend runs native tool"),
    ({"episode": {"max_turn": 3}}, "episode key\\(s\\) \\['max_turn'\\] unknown"),
    ({"reward_weights": {"correct": 1.0, "style": 1.0}}, "reward_weights has unknown key\\(s\\) \\['style'\\]"),
    ({"num_generations": 1}, "a group of one has no advantage"),
    ({"algorithm": "ppo", "num_generations": 4}, "PPO uses one rollout per task"),
    ({"max_length": 1024}, "max_length is not used by rl"),
    ({"backend": "trl", "episode": TOOL_EPISODE, "per_device_train_batch_size": 3, "num_generations": 2,
      "gradient_accumulation_steps": 1}, "3 completions is not a multiple of num_generations = 2"),
])
def test_bad_settings_are_clear_errors(stage, message, tiny_qwen2_dir, tmp_path):
    cfg = make_cfg(tiny_qwen2_dir, {"kind": "rl", "name": "grpo", **stage}, train=[tmp_path], test=[tmp_path])
    with pytest.raises(StageInputError, match=message):
        rl.run(cfg, {}, tmp_path)


def test_recipe_validation_names_the_bad_backend(tiny_qwen2_dir, tmp_path):
    from omegaconf import OmegaConf

    from copilot.config import ConfigError, validate_run_config

    cfg = OmegaConf.to_container(make_cfg(tiny_qwen2_dir, {"kind": "rl", "name": "grpo", "backend": "jax"}))
    cfg.pop("stage")
    with pytest.raises(ConfigError, match=r"recipe.stages\[0\].backend: 'jax' is not a valid choice; expected one "
                                          r"of \['verl', 'trl'\]"):
        validate_run_config(cfg, check_paths=False)


@pytest.mark.slow
def test_verl_lora_settings_and_the_adapter_fold_into_the_hand_off(tiny_qwen2_dir, pack_dirs, tmp_path):
    import shutil

    import torch
    from omegaconf import OmegaConf
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    sql = next(p for p in pack_dirs if p.name == "ehr_sql")
    stage = {"kind": "rl", "name": "grpo", "backend": "verl", "episode": {"action_format": "tool_call"}}
    cfg = make_cfg(tiny_qwen2_dir, stage, train=[sql], test=[sql], lora=True, data_roots=[sql.parent])
    prepared = rl.prepare_verl(cfg, {}, tmp_path / "grpo")          # validated with verl's own checks
    model = OmegaConf.load(prepared["verl_config"]).actor_rollout_ref.model
    assert (model.lora_rank, model.lora_alpha, model.target_modules) == (8, 16, "all-linear")

    # what verl's model merger writes for a LoRA run: the base weights plus lora_adapter/ (PEFT format)
    merged_dir = tmp_path / "model.partial"
    shutil.copytree(tiny_qwen2_dir, merged_dir)
    trained = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_qwen2_dir),
                             LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    trained.save_pretrained(merged_dir / "lora_adapter")
    trained.save_pretrained(tmp_path / "adapter")
    assert fold_lora_adapter(merged_dir) and not (merged_dir / "lora_adapter").exists()
    assert not fold_lora_adapter(merged_dir)                     # a plain model is left alone
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen2_dir, dtype=torch.bfloat16)
    expected = PeftModel.from_pretrained(base, tmp_path / "adapter").merge_and_unload().state_dict()
    folded = state(merged_dir)
    assert set(expected) >= set(folded) and all(torch.equal(expected[k], folded[k]) for k in folded)
    assert not torch.equal(state(tiny_qwen2_dir)["model.layers.0.mlp.up_proj.weight"].bfloat16(),
                           folded["model.layers.0.mlp.up_proj.weight"])
    assert (merged_dir / "tokenizer.json").is_file()


@pytest.mark.slow
def test_interrupted_trl_grpo_resumes_from_its_last_checkpoint(tiny_qwen2_dir, pack_dirs, tmp_path):
    # a run stopped after its step-1 checkpoint (before the hand-off) goes on from that checkpoint; the
    # kill -9 side of the shared resume mechanism is tested with SFT (test_sft.py)
    import shutil

    biostat = next(p for p in pack_dirs if p.name == "biostat")
    cfg, _ = grpo_cfg(tiny_qwen2_dir, biostat, tmp_path, mode="json")
    out = tmp_path / "grpo"
    out.mkdir()
    rl.run(cfg, {}, out)
    assert (out / "checkpoints" / "checkpoint-1" / "trainer_state.json").is_file()
    shutil.rmtree(out / "model")
    (out / "train_summary.json").unlink()

    cfg.stage.max_steps = 2
    rl.run(cfg, {}, out)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["resumed_from"] == "checkpoint-1", summary
    assert summary["global_step"] == 2 and summary["steps_this_run"] == 1
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 8          # step 1's four rollouts kept, step 2's four appended
    assert (out / "model" / "config.json").is_file()
