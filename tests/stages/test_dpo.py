"""DPO stage on the tiny Qwen2 with real pairs (expert successes vs the tiny model's failures on the same
tasks): the loss falls and the reward margin grows; no pairs is an error that says what was found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_configs import make_cfg

from copilot.sampling.trajectory_store import TrajectoryStore
from copilot.stages import dpo
from copilot.stages.model_loading import StageInputError

FAST = {"kind": "dpo", "name": "dpo", "learning_rate": 1e-3, "lr_scheduler_type": "constant", "warmup_steps": 0,
        "gradient_accumulation_steps": 1, "per_device_train_batch_size": 2, "logging_steps": 1, "save_steps": 4,
        "max_length": 2048}


def biostat_only(source: Path, path: Path) -> Path:
    """The shorter pack's trajectories only (quicker steps; still two policies per task)."""
    with TrajectoryStore(path) as store:
        for trajectory in TrajectoryStore(source, create=False):
            if trajectory.dataset == "biostat":
                store.append(trajectory)
    return path


def test_dpo_on_expert_vs_model_pairs_lowers_loss_and_widens_margin(tiny_qwen2_dir, mixed_store, tmp_path):
    store = biostat_only(mixed_store, tmp_path / "biostat.jsonl")
    out = tmp_path / "dpo"
    out.mkdir()
    outputs = dpo.run(make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 4}), {"trajectories": store}, out)

    assert outputs["model"] == out / "model" and (out / "model" / "config.json").is_file()
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["pairs"] == 4 and summary["pair_kinds"] == {"correct_vs_incorrect (expert > tiny)": 4}
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "rewards/margins" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert steps[0]["loss"] == pytest.approx(0.6931, abs=1e-3)   # policy == reference at the first step
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert steps[-1]["rewards/margins"] > steps[0]["rewards/margins"]


def test_pairs_carry_shared_prompt_and_both_policies(mixed_store):
    trajectories = list(TrajectoryStore(mixed_store, create=False))
    dataset, kinds = dpo.build_pairs(trajectories, "dpo")
    assert len(dataset) == len({t.task_id for t in trajectories})   # one pair per task
    row = dataset[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["chosen"][0]["role"] == "assistant" and row["rejected"][0]["role"] == "assistant"
    assert row["chosen_score"] > row["rejected_score"]


def test_no_pairs_is_an_error_listing_outcomes_per_task(tiny_qwen2_dir, expert_store, tmp_path):
    out = tmp_path / "dpo"
    out.mkdir()
    with pytest.raises(StageInputError, match=r"no DPO pairs from 8 trajectories.*correct/incorrect rollouts per "
                                              r"task: .* 1/0"):
        dpo.run(make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 1}), {"trajectories": expert_store}, out)
    with pytest.raises(StageInputError, match="beta"):
        dpo.run(make_cfg(tiny_qwen2_dir, {**FAST, "beta": 0.0}), {"trajectories": expert_store}, out)
