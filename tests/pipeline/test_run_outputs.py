"""copilot.run_outputs: the model a run handed over, found from summary.json, also after the run dir moved."""

from __future__ import annotations

import json

import pytest

from copilot.run_outputs import RunDirError, run_summary, stage_model


def test_stage_model_reroots_recorded_paths_and_names_bad_stages(tmp_path):
    moved = tmp_path / "elsewhere" / "demo"
    (moved / "sft" / "model").mkdir(parents=True)
    (moved / "summary.json").write_text(json.dumps({"stages": [
        {"stage": "sft", "outputs": {"model": "runs/demo/sft/model"}},      # as recorded where it was launched
        {"stage": "eval", "outputs": {"eval": "runs/demo/eval/eval.json"}}]}))
    summary = run_summary(moved)
    assert stage_model(moved, summary) == ("sft", moved / "sft" / "model")
    assert stage_model(moved, summary, "sft") == ("sft", moved / "sft" / "model")
    with pytest.raises(RunDirError, match="handed over no model"):
        stage_model(moved, summary, "eval")
    with pytest.raises(RunDirError, match="has stages"):
        stage_model(moved, summary, "dpo")
    with pytest.raises(RunDirError, match="no stage of that run handed over a model"):
        stage_model(moved, {"stages": []})
    with pytest.raises(RunDirError, match="no summary.json"):
        run_summary(tmp_path)
