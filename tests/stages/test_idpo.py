"""Iterative DPO on the tiny Qwen2, one iteration end to end: the random model's rollouts all fail, so the
round falls back to offline pairs (expert success vs this round's failure) -- or, without offline data, is
recorded as skipped with its reason. A re-run resumes after the finished round."""

from __future__ import annotations

import json

import pytest
from stage_configs import make_cfg

from copilot.stages import idpo
from copilot.stages.model_loading import StageInputError

DPO_FAST = {"learning_rate": 1e-3, "lr_scheduler_type": "constant", "warmup_steps": 0, "max_steps": 2,
            "gradient_accumulation_steps": 1, "per_device_train_batch_size": 1, "logging_steps": 1,
            "save_steps": 2, "max_length": 2048}
STAGE = {"kind": "idpo", "name": "idpo", "iterations": 1, "k": 2, "max_new_tokens": 16, "batch_size": 4,
         "dpo": DPO_FAST}


@pytest.mark.slow
def test_one_iteration_falls_back_to_offline_pairs_then_resumes(tiny_qwen2_dir, packs_dir, expert_store, tmp_path):
    out = tmp_path / "idpo"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, STAGE, train=[packs_dir / "biostat"], data_roots=[packs_dir])
    cfg.data.limit_train = 2
    outputs = idpo.run(cfg, {"trajectories": expert_store}, out)

    done = json.loads((out / "iter_0" / "DONE").read_text())
    assert done["rollouts"] == 4 and done["correct"] == 0                  # 2 tasks x k=2, all failed
    assert done["pair_source"] == "offline_fallback" and done["pairs"] == 2 and done["skipped"] is False
    assert outputs["model"] == out / "iter_0" / "model" and (outputs["model"] / "config.json").is_file()
    summary = json.loads((out / "iter_0" / "train_summary.json").read_text())
    assert summary["global_step"] == 2
    temperatures = {json.loads(line)["meta"]["sampling"]["temperature"]
                    for line in (out / "iter_0" / "trajectories.jsonl").read_text().splitlines()}
    assert temperatures == {0.6}
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["idpo/pair_source"] == "offline_fallback"

    before = (out / "iter_0" / "DONE").stat().st_mtime_ns
    assert idpo.run(cfg, {"trajectories": expert_store}, out) == outputs     # resumes: the round is done
    assert (out / "iter_0" / "DONE").stat().st_mtime_ns == before


def test_rounds_without_data_are_recorded_as_skipped(tiny_qwen2_dir, packs_dir, tmp_path):
    out = tmp_path / "idpo"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {**STAGE, "k": 1, "rejection_sft": True}, train=[packs_dir / "biostat"],
                   data_roots=[packs_dir])
    cfg.data.limit_train = 1
    outputs = idpo.run(cfg, {}, out)

    rejection = json.loads((out / "rejection_sft" / "DONE").read_text())
    assert rejection["skipped"] is True and "none of the 1 rollouts is correct" in rejection["detail"]
    done = json.loads((out / "iter_0" / "DONE").read_text())
    assert done["skipped"] is True and done["pairs"] == 0
    assert "no on-policy pairs (0 of 1 rollouts correct) and no offline successes" in done["detail"]
    assert outputs["model"] == tiny_qwen2_dir                                # carried over unchanged
    assert not (out / "iter_0" / "checkpoints").exists()


def test_bad_configs_fail_before_any_work(tiny_qwen2_dir, packs_dir, tmp_path):
    train = [packs_dir / "biostat"]
    with pytest.raises(StageInputError, match=r"dpo.learning_rat is not a key"):
        idpo.run(make_cfg(tiny_qwen2_dir, {**STAGE, "dpo": {"learning_rat": 1}}, train=train), {}, tmp_path)
    with pytest.raises(StageInputError, match="temperature"):
        idpo.run(make_cfg(tiny_qwen2_dir, {**STAGE, "temperature": 0.0}, train=train), {}, tmp_path)
    with pytest.raises(StageInputError, match="verifier = 'runs/x/verifier' is not a saved model dir"):
        idpo.run(make_cfg(tiny_qwen2_dir, {**STAGE, "verifier": "runs/x/verifier"}, train=train), {}, tmp_path)
    with pytest.raises(StageInputError, match="data.train is empty"):
        idpo.run(make_cfg(tiny_qwen2_dir, STAGE), {}, tmp_path)


def test_a_verifier_ranks_the_rollouts(tiny_qwen2_dir, mixed_store):
    from copilot.sampling.trajectory_store import TrajectoryStore
    from verifier.scoring import Verifier

    rollouts = [t for t in TrajectoryStore(mixed_store, create=False) if t.dataset == "biostat"]
    scores = idpo.rollout_scores(rollouts, str(tiny_qwen2_dir))     # the tiny model stands in as a verifier
    assert scores == Verifier.load(tiny_qwen2_dir).score_trajectories(rollouts)
    assert all(0.0 < s < 1.0 for s in scores.values())
    # pairs still need a correct chosen and an incorrect rejected rollout, whatever the verifier says
    from copilot.stages.dpo import correct_vs_incorrect_rows

    rows = correct_vs_incorrect_rows(rollouts, scores)
    assert rows
    for row in rows:
        assert row["chosen_score"] == scores[(row["task_id"], row["policy"].split(" > ")[0], row["chosen_rollout"])]
