"""SFT stage on the tiny Qwen2: loss falls on a fixed batch, checkpoints reload exactly, LoRA merges, a
kill -9 mid-training resumes from the last checkpoint, bad inputs are clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stage_configs import make_cfg

from copilot.agent.trajectory import Trajectory
from copilot.sampling.trajectory_store import TrajectoryStore
from copilot.stages import sft
from copilot.stages.model_loading import StageInputError

HERE = Path(__file__).resolve().parent
# Small sequences and a high, constant learning rate: mechanics, not quality.
FAST = {"kind": "sft", "name": "sft", "learning_rate": 5e-3, "lr_scheduler_type": "constant", "warmup_steps": 0,
        "gradient_accumulation_steps": 1, "per_device_train_batch_size": 1, "logging_steps": 1,
        "max_length": 2048}


def one_trajectory_store(expert_store: Path, path: Path) -> Path:
    # the shortest kind (biostat, about 1,250 tiny-tokenizer tokens) keeps steps quick
    first = next(t for t in TrajectoryStore(expert_store, create=False) if t.dataset == "biostat")
    with TrajectoryStore(path) as store:
        store.append(first)
    return path


def losses(out_dir: Path, torn_ok: bool = False) -> list[tuple[int, float]]:
    """(step, loss) per logged step; torn_ok: tolerate the line a kill -9 may have cut (run_metrics documents
    it), which the resumed run then continues on the same line."""
    records = []
    for line in (out_dir / "metrics.jsonl").read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if not torn_ok:
                raise
    return [(r["step"], r["loss"]) for r in records if "loss" in r]


def logits(model_dir, text="SELECT answer FROM admissions"):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def test_loss_falls_on_a_fixed_batch_and_checkpoint_reloads_exactly(tiny_qwen2_dir, expert_store, tmp_path):
    import torch

    store = one_trajectory_store(expert_store, tmp_path / "one.jsonl")
    out = tmp_path / "sft"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 6, "save_steps": 4})   # 6: the final save
    outputs = sft.run(cfg, {"trajectories": store}, out)

    assert outputs["model"] == out / "model" and (out / "model" / "chat_template.jinja").is_file()
    logged = losses(out)
    assert [step for step, _ in logged] == [1, 2, 3, 4, 5, 6]
    assert logged[-1][1] < 0.7 * logged[0][1], logged          # the same example every step: loss must fall
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == 6 and summary["resumed_from"] is None and summary["examples"] == 1
    # the hand-off is the model of the last checkpoint, bit for bit
    assert torch.equal(logits(out / "checkpoints" / "checkpoint-6"), logits(out / "model"))
    assert not torch.equal(logits(tiny_qwen2_dir), logits(out / "model"))


def test_lora_adapter_merges_into_the_hand_off(tiny_qwen2_dir, expert_store, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    store = one_trajectory_store(expert_store, tmp_path / "one.jsonl")
    out = tmp_path / "lora"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {**FAST, "learning_rate": 2e-2, "max_steps": 2, "save_steps": 2}, lora=True)
    sft.run(cfg, {"trajectories": store}, out)

    checkpoint = out / "checkpoints" / "checkpoint-2"
    assert (checkpoint / "adapter_config.json").is_file()      # the checkpoint holds the adapter only
    merged_config = json.loads((out / "model" / "config.json").read_text())
    assert "quantization_config" not in merged_config and not (out / "model" / "adapter_config.json").exists()
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen2_dir, local_files_only=True)
    peft_model = PeftModel.from_pretrained(base, checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen2_dir, local_files_only=True)
    with torch.no_grad():
        adapter_logits = peft_model(**tokenizer("SELECT answer FROM admissions", return_tensors="pt")).logits
    merged_logits = logits(out / "model")
    merge_error = (adapter_logits - merged_logits).abs().max().item()    # fp32 rounding of W + BA, ~1e-4
    learnt = (logits(tiny_qwen2_dir) - merged_logits).abs().max().item()
    assert merge_error < 1e-3 and learnt > 100 * merge_error, (merge_error, learnt)   # the adapter learnt something


@pytest.mark.slow
def test_kill_9_mid_training_resumes_from_last_checkpoint(tiny_qwen2_dir, expert_store, tmp_path):
    from omegaconf import OmegaConf

    store = one_trajectory_store(expert_store, tmp_path / "one.jsonl")
    out = tmp_path / "sft"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 400, "save_steps": 2, "save_total_limit": 3})
    OmegaConf.save(cfg, tmp_path / "cfg.yaml")
    (tmp_path / "inputs.json").write_text(json.dumps({"trajectories": str(store)}))
    process = subprocess.Popen([sys.executable, str(HERE / "run_stage.py"), "sft", str(tmp_path / "cfg.yaml"),
                                str(tmp_path / "inputs.json"), str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while not list((out / "checkpoints").glob("checkpoint-*/trainer_state.json")):
            assert process.poll() is None, "training exited before saving a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.1)
        time.sleep(1.0)   # let it get past the checkpoint, possibly into the next save
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert not (out / "model").exists()
    logged_before = len(losses(out, torn_ok=True))
    from copilot.stages.model_loading import last_complete_checkpoint

    resume_step = int(last_complete_checkpoint(out / "checkpoints").name.split("-")[1])
    assert resume_step >= 2 and resume_step < 400

    cfg.stage.max_steps = resume_step + 2
    sft.run(cfg, {"trajectories": store}, out)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["resumed_from"] == f"checkpoint-{resume_step}"
    assert summary["global_step"] == resume_step + 2 and summary["steps_this_run"] == 2
    steps_after = [step for step, _ in losses(out, torn_ok=True)][logged_before:]
    assert steps_after == [resume_step + 1, resume_step + 2]          # continued, not restarted
    assert (out / "model" / "config.json").is_file()


def test_bad_inputs_are_clear_errors(tiny_qwen2_dir, expert_store, tmp_path):
    out = tmp_path / "sft"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {**FAST, "max_steps": 1})
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(StageInputError, match="is empty"):
        sft.run(cfg, {"trajectories": empty}, out)
    with pytest.raises(StageInputError, match="does not exist"):
        sft.run(cfg, {"trajectories": tmp_path / "missing.jsonl"}, out)
    with pytest.raises(StageInputError, match="no earlier stage produced 'trajectories'"):
        sft.run(cfg, {}, out)
    failed = tmp_path / "failed.jsonl"
    with TrajectoryStore(failed) as store:
        store.append(Trajectory(task_id="t1", dataset="ehr_sql", policy="p",
                                reward={"correct": False, "format_ok": True, "score": 0.0, "detail": {}}))
    with pytest.raises(StageInputError, match="none of the 1 trajectories"):
        sft.run(cfg, {"trajectories": failed}, out)
    with pytest.raises(StageInputError, match=r"unknown key\(s\) \['learning_rat'\]"):
        sft.run(make_cfg(tiny_qwen2_dir, {"kind": "sft", "name": "sft", "learning_rat": 1.0}),
                {"trajectories": expert_store}, out)
    with pytest.raises(StageInputError, match="does not exist"):
        sft.run(make_cfg(tmp_path / "no-model", {**FAST, "max_steps": 1}), {"trajectories": expert_store}, out)
    with pytest.raises(StageInputError, match="not a saved transformers model"):
        sft.run(cfg, {"trajectories": expert_store, "model": tmp_path}, out)
