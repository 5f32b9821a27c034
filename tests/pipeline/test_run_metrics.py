"""copilot.run_metrics: the metrics.jsonl writer, the Trainer callback, and wandb modes (offline: real files)."""

from __future__ import annotations

import json
import sys

import pytest
from omegaconf import OmegaConf

from copilot.run_metrics import MetricsWriter, finish_wandb, init_wandb, read_metrics, wandb_mode


def run_config(mode: str):
    return OmegaConf.create({"run": {"name": "r"}, "stage": {"name": "s", "kind": "sample"},
                             "logger": {"wandb": {"mode": mode, "project": "test", "entity": None}}})


def test_writer_appends_lines_and_survives_reopen(tmp_path):
    with MetricsWriter(tmp_path) as writer:
        writer.log({"loss": 1.5, "note": "first"}, step=1)
    with MetricsWriter(tmp_path, run_config("disabled")) as writer:
        writer.log({"loss": 0.5, "path": tmp_path}, step=2)    # not JSON-native: written with str()
    records = read_metrics(tmp_path)
    assert [(r["step"], r["loss"]) for r in records] == [(1, 1.5), (2, 0.5)]
    assert records[1]["path"] == str(tmp_path) and all(isinstance(r["time"], float) for r in records)
    assert not (tmp_path / "wandb").exists()


def test_torn_last_line_is_reported_with_its_line_number(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 1}) + "\n{\"step\": 2, \"lo")
    with pytest.raises(ValueError, match=r"metrics.jsonl:2: not a JSON line"):
        read_metrics(tmp_path)


def test_online_without_key_falls_back_to_offline(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_mode(run_config("online")) == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode(run_config("online")) == "online"
    assert wandb_mode(None) == "disabled"
    with pytest.raises(ValueError, match="logger.wandb.mode: 'cloud' is unknown"):
        wandb_mode(run_config("cloud"))


def test_disabled_works_without_wandb_installed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)        # makes `import wandb` fail like a missing package
    assert init_wandb(run_config("disabled"), tmp_path, "sample") is None
    with pytest.raises(RuntimeError, match="needs the wandb package"):
        init_wandb(run_config("offline"), tmp_path, "sample")


def test_trainer_callback_writes_on_log_records(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from copilot.run_metrics import JsonlMetricsCallback

    callback = JsonlMetricsCallback(tmp_path)
    state = TrainerState()
    state.global_step, state.epoch = 7, 0.5
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[])
    callback.on_log(args, state, TrainerControl(), logs={"loss": 2.25, "learning_rate": 1e-4})
    (record,) = read_metrics(tmp_path)
    assert record["step"] == 7 and record["epoch"] == 0.5 and record["loss"] == 2.25


@pytest.mark.slow
def test_offline_wandb_run_lives_in_the_stage_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))     # restored after the test (init_wandb sets it)
    try:
        writer = MetricsWriter(tmp_path, run_config("offline"))
        writer.log({"success_rate": 0.25}, step=0)
        writer.close()
    finally:
        finish_wandb()
    assert read_metrics(tmp_path)[0]["success_rate"] == 0.25
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))
