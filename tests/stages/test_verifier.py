"""Verifier stage on the tiny Qwen2: trains YES/NO on balanced expert (correct) vs tiny-model (incorrect)
trajectories with trimmed prompts, hands the verifier over, measures it on held-out tasks; bad inputs are
clear errors."""

from __future__ import annotations

import json

import pytest
from stage_configs import make_cfg

from copilot.sampling.trajectory_store import TrajectoryStore
from copilot.stages import verifier as verifier_stage
from copilot.stages.model_loading import StageInputError

FAST = {"kind": "verifier", "name": "verifier", "learning_rate": 5e-3, "lr_scheduler_type": "constant",
        "warmup_steps": 0, "gradient_accumulation_steps": 1, "per_device_train_batch_size": 2,
        "logging_steps": 1, "max_tokens": 600, "eval_fraction": 0.25, "eval_batch_size": 4}


def test_trains_hands_over_and_measures_on_held_out_tasks(tiny_qwen2_dir, mixed_store, tmp_path):
    from verifier.scoring import Verifier

    out = tmp_path / "verifier"
    out.mkdir()
    outputs = verifier_stage.run(make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 6, "save_steps": 6}),
                                 {"trajectories": mixed_store, "model": tmp_path / "not-the-policy"}, out)
    assert outputs["verifier"] == out / "model" and (out / "model" / "config.json").is_file()
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 6 and summary["examples"] % 2 == 0 and summary["examples"] >= 4
    assert summary["trimmed"] > 0                               # 600 tokens: the long expert trajectories were cut
    assert summary["base_model"] == str(tiny_qwen2_dir)         # the base model, not the policy hand-off
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert losses[-1] < losses[0]
    measured = json.loads((out / "verifier_eval.json").read_text())
    held_out = [t for t in TrajectoryStore(mixed_store, create=False)]
    assert measured["n"] > 0 and measured["positives"] + measured["negatives"] == measured["n"]
    assert 0.0 <= measured["accuracy"] <= 1.0 and measured["tasks"] >= 1
    assert measured["n"] < len(held_out)                       # only the held-out tasks' rollouts
    scorer = Verifier.load(outputs["verifier"], max_tokens=600)
    assert 0.0 < scorer.score_texts(["user:\nanything"])[0] < 1.0


def test_split_keeps_whole_tasks_apart(mixed_store):
    trajectories = list(TrajectoryStore(mixed_store, create=False))
    train, held = verifier_stage.split_by_task(trajectories, 0.25, seed=0)
    assert held and train and not ({t.task_id for t in train} & {t.task_id for t in held})
    with pytest.raises(StageInputError, match="holds out all"):
        verifier_stage.split_by_task(trajectories[:1], 0.5, seed=0)


def test_bad_inputs_are_clear_errors(tiny_qwen2_dir, expert_store, tmp_path):
    cfg = make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 1})
    with pytest.raises(StageInputError, match="both classes"):       # the expert store is all successes
        verifier_stage.run(cfg, {"trajectories": expert_store}, tmp_path)
    with pytest.raises(StageInputError, match="eval_fraction"):
        verifier_stage.run(make_cfg(tiny_qwen2_dir, {**FAST, "eval_fraction": 1.0}), {"trajectories": expert_store},
                           tmp_path)
    unscored = tmp_path / "unscored.jsonl"
    first = next(iter(TrajectoryStore(expert_store, create=False)))
    first.reward = None
    with TrajectoryStore(unscored) as store:
        store.append(first)
    with pytest.raises(StageInputError, match="not scored"):
        verifier_stage.run(cfg, {"trajectories": unscored}, tmp_path)
    with pytest.raises(StageInputError, match="no trajectories"):
        verifier_stage.run(cfg, {}, tmp_path)
