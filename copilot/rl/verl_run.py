"""Everything a verl RL stage does, in order, minus the stage plumbing: prepare a run dir, launch, merge.

    from copilot.rl.verl_run import prepare_verl_run, launch_verl, merge_after_training
    prepared = prepare_verl_run(out_dir, algorithm="grpo", model="Qwen/Qwen2.5-7B-Instruct",
                                train_tasks=[...], test_tasks=[...], sandbox={"kind": "process", "options": {}},
                                episode={"max_turns": 15}, overrides=["trainer.nnodes=2"])
    launch_verl(prepared["verl_config"], log_path=out_dir / "verl.log")     # needs GPUs (vLLM, FSDP)
    merge_after_training(out_dir / "checkpoints", out_dir / "model")       # HF model dir for the next stage

The tasks are the run's selection (copilot.tasks.task_selection: the audit's exclusions and limits applied).
prepare_verl_run writes, under out_dir: train.parquet / test.parquet (copilot.rl.verl_data), verl_tools.yaml
(our tool config: the run's sandbox and episode settings, sandbox metrics to sandbox_metrics.jsonl),
verl_config.yaml (verl's resolved config, validated with verl's own checks) and command.txt (the launch
command). The episode's turn budget is also verl's multi_turn.max_assistant_turns; an override that makes
them differ is refused (verl would stop on one budget, the episode on the other).

Not covered: the launch itself is verl's (Ray is started by verl on one node, or joined when
RAY_ADDRESS is set, e.g. by slurm/grpo_7b.sh); resuming is verl's trainer.resume_mode=auto on
trainer.default_local_dir (= out_dir/checkpoints).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from copilot.rl.verl_config import (
    VerlConfigError, compose_verl_config, launch_command, save_verl_config, validate_verl_config,
)
from copilot.rl.verl_data import export_parquet
from copilot.rl.verl_merge import merge_checkpoint
from copilot.tasks.task import Task
from copilot.rl.verl_tool import write_tool_config

TURNS_KEY = "actor_rollout_ref.rollout.multi_turn.max_assistant_turns"


def prepare_verl_run(out_dir: str | Path, *, algorithm: str, model: str, train_tasks: Sequence[Task],
                     test_tasks: Sequence[Task], sandbox: dict[str, Any], episode: dict[str, Any] | None = None,
                     overrides: Sequence[str] = (),
                     max_concurrency: int = 32, experiment_name: str = "med-copilot",
                     local_model_dir: str | Path | None = None) -> dict[str, Path]:
    """Write the run's data, tool config and validated verl config; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    episode = {"max_turns": 15, **(episode or {}), "action_format": "tool_call"}
    train = export_parquet(list(train_tasks), out_dir / "train.parquet")
    test = export_parquet(list(test_tasks), out_dir / "test.parquet")
    tools = write_tool_config(out_dir / "verl_tools.yaml", sandbox_kind=sandbox.get("kind", "process"),
                              sandbox_options=dict(sandbox.get("options") or {}), episode=episode,
                              max_concurrency=max_concurrency, metrics_jsonl=str(out_dir / "sandbox_metrics.jsonl"))
    ours = [f"{TURNS_KEY}={int(episode['max_turns'])}"]
    cfg = compose_verl_config(algorithm, model, {"train": [str(train)], "val": [str(test)]},
                              overrides=ours + list(overrides), tool_config_path=tools,
                              experiment_name=experiment_name, checkpoint_dir=out_dir / "checkpoints")
    turns = cfg.actor_rollout_ref.rollout.multi_turn.max_assistant_turns
    if turns != episode["max_turns"]:
        raise VerlConfigError(f"{TURNS_KEY}={turns} differs from episode.max_turns={episode['max_turns']}: set "
                              f"episode.max_turns instead (both budgets must agree)")
    validate_verl_config(cfg, local_model_dir=local_model_dir)
    config_path = save_verl_config(cfg, out_dir)
    command_path = out_dir / "command.txt"
    command_path.write_text(shlex.join(launch_command(config_path)) + "\n")
    return {"train_parquet": train, "test_parquet": test, "tool_config": tools, "verl_config": config_path,
            "command": command_path}


# torch.distributed / accelerate settings of a launcher this process may run under (the pipeline's
# `accelerate launch`): verl is a job of its own that places its workers through Ray, so they must not leak in
LAUNCHER_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
                "MASTER_ADDR", "MASTER_PORT")
LAUNCHER_ENV_PREFIXES = ("TORCHELASTIC_", "ACCELERATE_")


def launch_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV and not k.startswith(LAUNCHER_ENV_PREFIXES)}


def launch_verl(config_path: str | Path, *, log_path: str | Path | None = None, extra_args: Sequence[str] = ()) -> None:
    """Run verl's trainer on a saved config (blocking); output goes to log_path when given, else inherited."""
    command = launch_command(config_path) + list(extra_args)
    if log_path is None:
        done = subprocess.run(command, env=launch_env())
    else:
        with open(log_path, "ab") as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=launch_env())
    if done.returncode != 0:
        where = f"; see {log_path}" if log_path else ""
        raise RuntimeError(f"verl trainer exited {done.returncode}: {shlex.join(command)}{where}")


def merge_after_training(checkpoint_dir: str | Path, target_dir: str | Path) -> Path:
    return merge_checkpoint(checkpoint_dir, target_dir)
