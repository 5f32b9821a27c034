"""`python -m copilot.evaluate`: short flags reach the evaluate stage, run_dir finds the run's last model and
its episode / data settings, an expert evaluation runs end to end as a subprocess, bad flags exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.evaluate import EvaluateArgsError, compose, main, model_of_run, split_args

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def biostat_pack(tmp_path_factory) -> Path:
    from copilot.tasks.packs import load_pack_module

    out = tmp_path_factory.mktemp("packs")
    load_pack_module("biostat").build(out, 0, 4, 3)
    return out / "biostat"


def fake_run(root: Path, model_dir: Path) -> Path:
    run = root / "demo"
    (run / "sft").mkdir(parents=True)
    (run / "sft" / "config.yaml").write_text(
        "episode:\n  max_turns: 1\n  action_format: json\n  prompt_style: compact\n"
        "data:\n  offline_root: data/offline\n  train: [data/offline/biostat]\n  test: [data/offline/biostat]\n"
        "  limit_train: 48\n  limit_test: 16\n")
    (run / "summary.json").write_text(json.dumps({"stages": [
        {"stage": "packs", "outputs": {"offline_root": "data/offline"}},
        {"stage": "sft", "outputs": {"model": str(model_dir)}},
        {"stage": "eval_after", "outputs": {"eval": "x/eval.json"}}]}))
    return run


def test_flags_and_run_dir_compose_into_the_evaluate_stage(tmp_path):
    run = fake_run(tmp_path, tmp_path / "demo" / "sft" / "model")
    assert model_of_run(run) == (str(run / "sft" / "model"), run / "sft")
    flags, overrides = split_args([f"run_dir={run}", "k=8", "verifier=null", "data.limit_test=4", "logger=none"])
    cfg = compose(flags, overrides)
    stage = cfg.recipe.stages[-1]
    assert stage.kind == "evaluate" and stage.k == 8 and stage.verifier is None
    assert cfg.model.name_or_path == str(run / "sft" / "model")
    assert cfg.episode.max_turns == 1 and cfg.episode.prompt_style == "compact"      # the run's episodes
    assert list(cfg.data.test) == ["data/offline/biostat"] and cfg.data.limit_test == 4   # the user's wins
    assert cfg.run.name == "eval_demo_sft"
    other = compose(*split_args([f"run_dir={run}", "data=offline_packs", "data.offline_root=/elsewhere"]))
    assert other.data.offline_root == "/elsewhere" and other.data.limit_test is None   # the run's data is replaced
    assert other.episode.max_turns == 1                                                 # its episodes are kept


def test_bad_flags_are_clear_errors(tmp_path, capsys):
    with pytest.raises(EvaluateArgsError, match="expected KEY=VALUE"):
        split_args(["k"])
    assert main(["k=eight"]) == 2
    assert "k='eight': expected an integer" in capsys.readouterr().err
    assert main([f"run_dir={tmp_path}"]) == 2
    assert "no summary.json" in capsys.readouterr().err
    (tmp_path / "summary.json").write_text(json.dumps({"stages": [{"stage": "packs", "outputs": {}}]}))
    assert main([f"run_dir={tmp_path}"]) == 2
    assert "handed over a model" in capsys.readouterr().err
    assert main(["k=2", "episode.max_turnz=3"]) == 2


def test_expert_evaluation_end_to_end(biostat_pack, tmp_path):
    command = [sys.executable, "-m", "copilot.evaluate", "policy=expert", "k=2", "label=expert",
               f"data.test=[{biostat_pack}]", f"data.train=[{biostat_pack}]", "logger=none",
               f"run.root={tmp_path}", "episode.max_turns=2"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "eval_expert" / "eval"
    results = json.loads((out / "results.json").read_text())
    assert results["success_rate"] == {"biostat": 1.0} and results["curves"]["all"]["pass_at_k"] == [1.0, 1.0]
    assert "| expert | 100.00 | 100.00 | 100.00 |" in done.stdout
    assert (out / "curves.png").is_file() and (out / "leaderboard.csv").is_file()
