"""Evaluate stage: the expert's SR is 1.0 on every pack, the tiny model's episodes run (batched) and are
counted, a re-run reuses stored episodes, the markdown table is right, and bad inputs are clear errors."""

from __future__ import annotations

import json

import pytest
from stage_configs import make_cfg

from copilot.agent.trajectory import Trajectory
from copilot.evaluation.success_rate import (UnscoredTrajectoryError, load_eval, markdown_table, success_rates,
                                             write_eval)
from copilot.stages import evaluate
from copilot.stages.model_loading import StageInputError


def test_expert_policy_scores_one_on_every_pack(tiny_qwen2_dir, pack_dirs, tmp_path):
    out = tmp_path / "eval_expert"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {"kind": "evaluate", "name": "eval_expert", "policy": "expert"},
                   test=pack_dirs, data_roots=pack_dirs)
    outputs = evaluate.run(cfg, {}, out)

    result = json.loads(outputs["eval"].read_text())
    assert result["success_rate"] == {"biostat": 1.0, "ehr_sql": 1.0}
    assert result["n"] == {"biostat": 2, "ehr_sql": 2} and result["overall"] == 1.0
    table = (out / "eval.md").read_text()
    assert "| model | biostat | ehr_sql | overall | macro |" in table
    assert "| expert | 100.0 (2/2) | 100.0 (2/2) | 100.0 | 100.0 |" in table
    assert len((out / "trajectories.jsonl").read_text().splitlines()) == 4
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["eval/overall"] == 1.0


def test_model_policy_runs_batched_greedy_episodes_and_resumes(tiny_qwen2_dir, pack_dirs, tmp_path):
    out = tmp_path / "eval_tiny"
    out.mkdir()
    stage = {"kind": "evaluate", "name": "eval_before", "label": "before", "max_new_tokens": 16, "batch_size": 4}
    cfg = make_cfg(tiny_qwen2_dir, stage, test=pack_dirs, data_roots=pack_dirs, limit_test=1)
    first = json.loads(evaluate.run(cfg, {"model": tiny_qwen2_dir}, out)["eval"].read_text())
    assert first["n"] == {"biostat": 1, "ehr_sql": 1} and first["episodes_run"] == 2
    assert first["overall"] == 0.0 and first["model"] == str(tiny_qwen2_dir) and first["label"] == "before"
    stored = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    assert {r["meta"]["sampling"]["temperature"] for r in stored} == {0.0}
    again = json.loads(evaluate.run(cfg, {"model": tiny_qwen2_dir}, out)["eval"].read_text())
    assert again["episodes_run"] == 0 and again["n"] == first["n"]   # nothing re-run


def test_success_rates_and_table():
    def traj(task, dataset, ok):
        return Trajectory(task_id=task, dataset=dataset, reward={"correct": ok, "score": float(ok)})

    result = success_rates([traj("a", "x", True), traj("b", "x", False), traj("c", "y", True)], model="m")
    assert result["success_rate"] == {"x": 0.5, "y": 1.0} and result["overall"] == pytest.approx(2 / 3)
    assert result["macro"] == 0.75 and result["model"] == "m"
    table = markdown_table({"before": {**result, "success_rate": {"x": 0.0}, "n": {"x": 2}, "correct": {"x": 0},
                                       "overall": 0.0, "macro": 0.0}, "after": result})
    assert table.splitlines()[2] == "| before | 0.0 (0/2) | – | 0.0 | 0.0 |"
    assert table.splitlines()[3] == "| after | 50.0 (1/2) | 100.0 (1/1) | 66.7 | 75.0 |"
    with pytest.raises(UnscoredTrajectoryError, match="task 'u'"):
        success_rates([Trajectory(task_id="u", dataset="x")])


def test_write_and_load_eval(tmp_path):
    result = success_rates([Trajectory(task_id="a", dataset="x", reward={"correct": True})])
    write_eval(result, tmp_path, "after")
    assert load_eval(tmp_path)["overall"] == 1.0
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="missing key"):
        load_eval(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="run an evaluate stage"):
        load_eval(tmp_path / "nothing")


def test_bad_inputs_are_clear_errors(tiny_qwen2_dir, pack_dirs, tmp_path):
    stage = {"kind": "evaluate", "name": "eval"}
    with pytest.raises(StageInputError, match="does not exist"):
        evaluate.run(make_cfg(tmp_path / "no-model", stage, test=pack_dirs), {}, tmp_path)
    with pytest.raises(StageInputError, match=r"data.test\[0\]: .*is not a directory"):
        evaluate.run(make_cfg(tiny_qwen2_dir, stage, test=[tmp_path / "nope"]), {}, tmp_path)
    with pytest.raises(StageInputError, match="data.test is empty"):
        evaluate.run(make_cfg(tiny_qwen2_dir, stage), {}, tmp_path)
    with pytest.raises(StageInputError, match="policy = 'gpt'"):
        evaluate.run(make_cfg(tiny_qwen2_dir, {**stage, "policy": "gpt"}, test=pack_dirs), {}, tmp_path)
