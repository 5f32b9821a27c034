"""prepare_verl_run: the run dir a verl RL stage hands to verl (parquet, tool config, validated resolved
config, command), and verl's own entry point accepting that config (Hydra's --cfg job: compose, print,
run nothing)."""

from __future__ import annotations

import subprocess

import pytest
from omegaconf import OmegaConf

from copilot.tasks import load

pytestmark = pytest.mark.slow


def test_prepared_run_dir_is_what_verls_entry_point_reads(tmp_path, pack_root, tiny_qwen2_dir):
    from copilot.rl.verl_run import prepare_verl_run

    prepared = prepare_verl_run(tmp_path / "rl", algorithm="grpo", model="Qwen/Qwen2.5-7B-Instruct",
                                train_tasks=load(pack_root / "ehr_sql", "train"),
                                test_tasks=load(pack_root / "ehr_sql", "test")[:3],
                                sandbox={"kind": "process", "options": {"workers": 16}},
                                episode={"max_turns": 12}, overrides=["trainer.nnodes=2"],
                                local_model_dir=tiny_qwen2_dir)
    for path in prepared.values():
        assert path.is_file(), path
    cfg = OmegaConf.load(prepared["verl_config"])
    assert cfg.actor_rollout_ref.rollout.multi_turn.max_assistant_turns == 12 and cfg.trainer.nnodes == 2
    assert cfg.trainer.default_local_dir == str(tmp_path / "rl" / "checkpoints")
    tools = OmegaConf.load(prepared["tool_config"])
    assert tools.tools[0].config.episode.max_turns == 12 and tools.tools[0].config.sandbox.options.workers == 16
    assert tools.tools[0].config.metrics_jsonl == str(tmp_path / "rl" / "sandbox_metrics.jsonl")
    import pyarrow.parquet as pq
    assert pq.read_table(prepared["test_parquet"]).num_rows == 3

    command = prepared["command"].read_text().split()
    assert command[1:4] == ["-m", "verl.trainer.main_ppo", f"--config-path={tmp_path / 'rl'}"]
    shown = subprocess.run(command + ["--cfg", "job"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "default_agent_loop: copilot_tool_agent" in shown.stdout and "max_assistant_turns: 12" in shown.stdout


def test_turn_budgets_must_agree(tmp_path, pack_root):
    from copilot.rl.verl_config import VerlConfigError
    from copilot.rl.verl_run import prepare_verl_run

    with pytest.raises(VerlConfigError, match="differs from episode.max_turns=15"):
        prepare_verl_run(tmp_path / "rl", algorithm="grpo", model="Qwen/Qwen2.5-7B-Instruct",
                         train_tasks=load(pack_root / "ehr_sql", "train"),
                         test_tasks=load(pack_root / "ehr_sql", "test"),
                         sandbox={"kind": "process"},
                         overrides=["actor_rollout_ref.rollout.multi_turn.max_assistant_turns=5"])
