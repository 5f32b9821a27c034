"""`python -m copilot.export`: a run's model exported as a plain Hugging Face dir with a model card reloads
with transformers and reproduces the run's evaluation; a LoRA checkpoint is merged; push_to_hub uploads to a
Hub stand-in on 127.0.0.1 (tests/hf_hub_server.py); bad inputs exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
for extra in (TESTS, TESTS / "models"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from hf_hub_server import HubServer  # noqa: E402
from tiny_qwen2 import build_tiny_qwen2  # noqa: E402


def run_cli(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "0", **(env or {})})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A real two-stage run of the tiny Qwen2: 2 SFT steps on expert episodes, then a greedy evaluation."""
    from copilot.tasks.packs import load_pack_module

    root = tmp_path_factory.mktemp("export_run")
    model = build_tiny_qwen2(root / "tiny")
    load_pack_module("biostat").build(root / "packs", 0, 4, 2)
    pack = root / "packs" / "biostat"
    stages = ("[{kind: sample, name: sample_expert, policy: expert, k: 1, parallel: serial},"
              "{kind: sft, name: sft, max_steps: 2, per_device_train_batch_size: 1, gradient_accumulation_steps: 1,"
              " max_length: 2048, learning_rate: 1.0e-3, warmup_steps: 0, save_steps: 2},"
              "{kind: evaluate, name: eval_after, label: after, max_new_tokens: 24, batch_size: 2}]")
    done = run_cli("copilot.train", "recipe=demo", "run.name=exp", f"run.root={root / 'runs'}", "logger=none",
                   f"model.name_or_path={model}", f"data.train=[{pack}]", f"data.test=[{pack}]",
                   "data.limit_train=4", "data.limit_test=2", "episode.max_turns=1", f"recipe.stages={stages}")
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "runs" / "exp"


def test_export_reloads_and_reproduces_the_evaluation(trained_run, tmp_path):
    out = tmp_path / "export"
    done = run_cli("copilot.export", str(trained_run), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "README.md"} <= \
        {p.name for p in out.iterdir()}
    card = (out / "README.md").read_text()
    assert "library_name: transformers" in card and "stage `sft`" in card and "| sft (exported) | sft |" in card
    assert "| eval_after (after) |" in card and "recipe=demo" in card
    # plain transformers, same logits as the run's hand-off
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    ids = tokenizer("answer = 1", return_tensors="pt")
    exported = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    handed = AutoModelForCausalLM.from_pretrained(trained_run / "sft" / "model", local_files_only=True).eval()
    with torch.no_grad():
        assert torch.equal(exported(**ids).logits, handed(**ids).logits)
    # the run's evaluation, reproduced from the exported dir: same answers, same success rate
    evaluation = run_cli("copilot.evaluate", f"model.name_or_path={out}", f"run_dir={trained_run}",
                         "max_new_tokens=24", "batch_size=2", "logger=none", f"run.root={tmp_path / 'runs'}",
                         "run.name=reproduced", "label=after")
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    original = json.loads((trained_run / "eval_after" / "eval.json").read_text())
    again = json.loads((tmp_path / "runs" / "reproduced" / "eval" / "eval.json").read_text())
    assert again["success_rate"] == original["success_rate"] and again["n"] == original["n"]

    def answers(path: Path) -> dict:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return {r["task_id"]: r["actions"][0]["raw"] for r in rows}

    assert answers(tmp_path / "runs" / "reproduced" / "eval" / "trajectories.jsonl") == \
        answers(trained_run / "eval_after" / "trajectories.jsonl")


def test_lora_checkpoint_is_merged(trained_run, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir = trained_run / "sft" / "model"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(base_dir, local_files_only=True).save_pretrained(adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base_dir)
    out = tmp_path / "merged"
    done = run_cli("copilot.export", str(trained_run), "--checkpoint", str(adapter), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (out / "adapter_config.json").exists()
    ids = torch.tensor([[1, 2, 3, 4]])
    merged = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, model.eval()(ids).logits, atol=1e-4)


def test_push_to_hub_uploads_the_export(trained_run, tmp_path):
    out = tmp_path / "export"
    with HubServer() as hub:
        env = {"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": "hf_test"}
        done = run_cli("copilot.export", str(trained_run), "--out", str(out), "--push-to-hub", "me/tiny-agent",
                       "--private", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        repo = hub.repos["me/tiny-agent"]
        assert hub.validated[-1]["library_name"] == "transformers"      # the card's front matter is valid YAML
    assert repo["private"] and len(repo["commits"]) == 1 and "pushed: " in done.stdout
    assert repo["files"]["model.safetensors"] == (out / "model.safetensors").read_bytes()
    assert set(repo["files"]) == {p.name for p in out.iterdir()}


def test_bad_inputs_exit_2(trained_run, tmp_path):
    done = run_cli("copilot.export", str(tmp_path), "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "no summary.json" in done.stderr
    done = run_cli("copilot.export", str(trained_run), "--stage", "nope", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "has stages" in done.stderr
    done = run_cli("copilot.export", str(trained_run), "--stage", "eval_after", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "handed over no model" in done.stderr
    done = run_cli("copilot.export", str(trained_run), "--checkpoint", str(tmp_path), "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "neither a model dir" in done.stderr
    env = {"HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": ""}
    done = run_cli("copilot.export", str(trained_run), "--out", str(tmp_path / "x"), "--push-to-hub", "me/x", env=env)
    assert done.returncode == 2 and "HF_TOKEN" in done.stderr and not (tmp_path / "x").exists()
