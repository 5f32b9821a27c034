"""Stage `rl`: online RL with our sandbox episode -- GRPO / PPO through verl (cluster), or GRPO through TRL.

    stages: [{kind: rl, name: grpo, backend: verl, algorithm: grpo}]       # recipes/recipe/grpo_7b.yaml
            [{kind: rl, name: grpo, backend: trl, max_steps: 20, ...}]     # one node / CPU
    outputs = run(cfg, {"model": prev_model?}, out_dir)     # -> {"model": out_dir/model, "checkpoint_dir": ...}

The model is inputs["model"] (an earlier stage's hand-off) or cfg.model.name_or_path (a local dir, or a Hub
name already in the local HF cache: nothing is downloaded). Tasks: the train split of cfg.data.train (first
cfg.data.limit_train of each dir); verl also validates on the test split of cfg.data.test. Episodes:
cfg.episode, updated with this stage's `episode` keys (e.g. {action_format: tool_call, max_turns: 15} when
the rest of a pipeline runs json episodes); the turn budget is episode.max_turns. Reward: reward.score
(correct + format) with `reward_weights`.

backend "verl" (the paper's path; copilot.rl.verl_run):
1. prepare: out_dir/verl/ gets train.parquet / test.parquet, verl_tools.yaml (sandbox-backed tools),
   verl_config.yaml (verl's own config composed with the paper's settings, this stage's keys, then
   `verl_overrides` -- any verl key -- and validated with verl's checks) and command.txt (the launch command);
2. check the machine: the rollout engine (vLLM unless overridden) must be installed and, on one node,
   n_gpus_per_node CUDA GPUs visible; otherwise a clear error naming what is missing (the config stays written);
3. launch verl's trainer (blocking; output in out_dir/verl/verl.log; Ray: started by verl on one node, joined
   via RAY_ADDRESS on a cluster, see slurm/ray_cluster.sh); re-running resumes from out_dir/verl/checkpoints;
4. merge the last actor checkpoint with verl's model merger into out_dir/model (written aside, then renamed);
   with cfg.model.lora (verl's FSDP LoRA: lora_rank / lora_alpha / target_modules) the adapter verl's merger
   writes next to the base weights is merged into them with PEFT, so the hand-off is a plain full model.
The pipeline runs this backend in its own process even with cluster.launcher=accelerate (verl places its
own workers through Ray); started under `accelerate launch` anyway, only rank 0 does this, the others return.

backend "trl" (copilot.rl.trl_grpo): TRL's GRPOTrainer with our episode as its environment; LoRA or full
(cfg.model.lora), fp32 on CPU / bf16 on GPU, checkpoints in out_dir/checkpoints with resume, hand-off via
train_and_hand_off, metrics.jsonl + out_dir/episodes.jsonl. Batch: per_device_train_batch_size x
gradient_accumulation_steps x processes completions per optimizer step (default 8 x 16 = 128 on one process,
i.e. 16 tasks x 8 rollouts); `trl_overrides` = any GRPOConfig key.

Paper defaults (MedAgentGym online RL): lr 1e-5, batch 128 (verl: data.train_batch_size prompts), rollout
temperature 0.6, KL 1e-3 (GRPO: in the actor loss; PPO: in the reward), 15 turns, vLLM, FSDP. Ours: GRPO
group size 8, 4096 prompt / 8192 completion tokens, 1 epoch.

Simplified / not protected against: PPO only through verl; verl's own logging (console, in verl.log) is not
mirrored to metrics.jsonl or wandb (add `trainer.logger=[console,wandb]` to verl_overrides); TRL prompts
are not length-filtered (max_prompt_length is verl's); a verl run killed during the merge is merged again.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional

from copilot.stages.evaluate import dataset_dirs, open_sandbox, task_list
from copilot.stages.model_loading import StageInputError, TrainingKnobs, model_source, positive, stage_settings

log = logging.getLogger(__name__)

BACKENDS = ("verl", "trl")
ALGORITHMS = ("grpo", "ppo")
VERL_DIR = "verl"
HANDOFF = "model"


@dataclass
class Config(TrainingKnobs):
    backend: Literal["verl", "trl"] = "verl"
    algorithm: Literal["grpo", "ppo"] = "grpo"        # ppo: verl only
    learning_rate: float = 1e-5                        # paper
    train_batch_size: int = 128                        # paper; verl: prompts per step (TRL: see the docstring)
    num_generations: Optional[int] = None              # rollouts per task; null = 8 for GRPO, 1 for PPO
    temperature: float = 0.6                           # paper (rollouts)
    kl_coef: float = 1e-3                              # paper
    max_prompt_length: int = 4096                      # verl
    max_completion_length: int = 8192                  # the whole multi-turn response, observations included
    num_train_epochs: float = 1.0
    max_steps: Optional[int] = None                    # null = num_train_epochs over the tasks
    max_length: Optional[int] = None                   # unused: the budgets above apply (set = error)
    per_device_train_batch_size: int = 8               # TRL
    gradient_accumulation_steps: int = 16              # TRL: x per_device x processes = 128 completions
    lr_scheduler_type: str = "constant"
    warmup_steps: float = 0.0
    save_steps: int = 20                               # TRL save_steps / verl trainer.save_freq
    logging_steps: int = 1
    reward_weights: Dict[str, float] = field(default_factory=lambda: {"correct": 1.0, "format": 0.1})
    episode: Dict[str, Any] = field(default_factory=dict)   # EpisodeSettings keys overriding cfg.episode here
    max_concurrency: int = 32                          # verl: sandbox steps at once per rollout worker
    nnodes: int = 1                                    # verl trainer.nnodes
    n_gpus_per_node: int = 8                           # verl trainer.n_gpus_per_node
    verl_overrides: List[str] = field(default_factory=list)     # any verl key: "trainer.save_freq=50"
    trl_overrides: Dict[str, Any] = field(default_factory=dict)  # any GRPOConfig key: {use_vllm: true}


# ------------------------------------------------------------------------------------------ checks
def stage_name(cfg) -> str:
    return str((cfg.get("stage") or {}).get("name", "rl"))


def check_knobs(knobs: Config, stage: str) -> None:
    if knobs.backend not in BACKENDS:
        raise StageInputError(f"stage {stage!r}: backend = {knobs.backend!r}; expected one of {list(BACKENDS)}")
    if knobs.algorithm not in ALGORITHMS:
        raise StageInputError(f"stage {stage!r}: algorithm = {knobs.algorithm!r}; expected one of {list(ALGORITHMS)}")
    if knobs.algorithm == "ppo" and knobs.backend != "verl":
        raise StageInputError(f"stage {stage!r}: algorithm 'ppo' needs backend 'verl' (the TRL backend is GRPO "
                              f"only: TRL's GRPOTrainer runs tool environments, its PPO trainer does not); set "
                              f"backend: verl or algorithm: grpo")
    if knobs.max_length is not None:
        raise StageInputError(f"stage {stage!r}: max_length is not used by rl; set max_prompt_length / "
                              f"max_completion_length instead")
    for key in ("train_batch_size", "max_prompt_length", "max_completion_length", "max_concurrency", "nnodes",
                "n_gpus_per_node"):
        positive(key, stage, getattr(knobs, key))
    positive("num_generations", stage, knobs.num_generations, allow_none=True)
    if knobs.algorithm == "ppo" and knobs.num_generations not in (None, 1):
        raise StageInputError(f"stage {stage!r}: num_generations = {knobs.num_generations} with PPO; PPO uses one "
                              f"rollout per task (leave it null)")
    if knobs.algorithm == "grpo" and knobs.num_generations == 1:
        raise StageInputError(f"stage {stage!r}: num_generations = 1 with GRPO: a group of one has no advantage; "
                              f"use >= 2")
    unknown = sorted(set(knobs.reward_weights) - {"correct", "format"})
    if unknown:
        raise StageInputError(f"stage {stage!r}: reward_weights has unknown key(s) {unknown}; expected 'correct' "
                              f"and 'format'")
    if knobs.backend == "trl" and knobs.verl_overrides:
        log.warning("stage %s: backend trl ignores verl_overrides %s", stage, knobs.verl_overrides)
    if knobs.backend == "verl" and knobs.trl_overrides:
        log.warning("stage %s: backend verl ignores trl_overrides %s", stage, sorted(knobs.trl_overrides))


def generations(knobs: Config) -> int:
    if knobs.num_generations is not None:
        return knobs.num_generations
    return 8 if knobs.algorithm == "grpo" else 1


def episode_settings(cfg, knobs: Config, stage: str):
    """cfg.episode updated with the stage's `episode` keys, validated for the backend."""
    from omegaconf import OmegaConf

    from copilot.agent.episode import EpisodeSettings

    node = cfg.get("episode") or {}
    options = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    options.update(knobs.episode)
    known = {f.name for f in dataclasses.fields(EpisodeSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise StageInputError(f"stage {stage!r}: episode key(s) {unknown} unknown; EpisodeSettings fields are "
                              f"{sorted(known)}")
    try:
        settings = EpisodeSettings(**options).validate()
    except ValueError as err:
        raise StageInputError(f"stage {stage!r}: episode: {err}") from err
    if settings.action_format != "tool_call" and knobs.backend == "verl":
        raise StageInputError(f"stage {stage!r}: the verl backend runs native tool calls: set episode.action_format "
                              f"= tool_call (got {settings.action_format!r}; the stage's own `episode: "
                              f"{{action_format: tool_call}}` changes it for this stage only)")
    if settings.action_format != "tool_call" and settings.max_turns != 1:
        raise StageInputError(f"stage {stage!r}: json-action episodes run one generation per rollout with TRL (its "
                              f"tool loop parses only native tool calls), but episode.max_turns = "
                              f"{settings.max_turns}: set episode.action_format = tool_call for multi-turn "
                              f"episodes, or max_turns = 1")
    return settings


# ------------------------------------------------------------------------------------------ verl
def verl_overrides(knobs: Config, lora=None) -> list[str]:
    """This stage's keys (and cfg.model.lora, a PEFT LoraConfig or None) as verl overrides, before the user's
    verl_overrides, which win."""
    from copilot.rl.verl_config import REWARD_KWARGS, hydra_value

    if float(knobs.num_train_epochs) != int(knobs.num_train_epochs) or knobs.num_train_epochs < 1:
        raise StageInputError(f"num_train_epochs = {knobs.num_train_epochs}: verl trains whole epochs (>= 1)")
    values: dict[str, Any] = {
        "actor_rollout_ref.actor.optim.lr": knobs.learning_rate,
        "data.train_batch_size": knobs.train_batch_size,
        "data.max_prompt_length": knobs.max_prompt_length,
        "data.max_response_length": knobs.max_completion_length,
        "actor_rollout_ref.rollout.temperature": knobs.temperature,
        "actor_rollout_ref.rollout.n": generations(knobs),
        "trainer.total_epochs": int(knobs.num_train_epochs),
        "trainer.save_freq": knobs.save_steps,
        "trainer.nnodes": knobs.nnodes,
        "trainer.n_gpus_per_node": knobs.n_gpus_per_node,
    }
    if knobs.algorithm == "grpo":
        values["actor_rollout_ref.actor.kl_loss_coef"] = knobs.kl_coef
    else:
        values["algorithm.kl_ctrl.kl_coef"] = knobs.kl_coef
        values["critic.optim.lr"] = knobs.learning_rate
    if knobs.max_steps is not None:
        values["trainer.total_training_steps"] = knobs.max_steps
    if lora is not None:   # verl's FSDP LoRA; vLLM then loads the base weights from safetensors
        targets = lora.target_modules
        values.update({"actor_rollout_ref.model.lora_rank": lora.r,
                       "actor_rollout_ref.model.lora_alpha": lora.lora_alpha,
                       "actor_rollout_ref.model.target_modules": targets if isinstance(targets, str)
                       else sorted(targets),
                       "actor_rollout_ref.rollout.load_format": "safetensors"})
    overrides = [f"{key}={hydra_value(value)}" for key, value in values.items()]
    overrides.append(f"++{REWARD_KWARGS}.weights={hydra_value(dict(knobs.reward_weights))}")
    return overrides + list(knobs.verl_overrides)


def verl_sandbox(cfg, roots: list[Path]) -> dict[str, Any]:
    """cfg.sandbox for the verl tool config; the process backend gets the task dirs as data roots."""
    from omegaconf import OmegaConf

    node = cfg.get("sandbox") or {}
    options_node = node.get("options") or {}
    options = OmegaConf.to_container(options_node, resolve=True) if OmegaConf.is_config(options_node) \
        else dict(options_node)
    kind = str(node.get("kind", "process"))
    if kind == "process":
        options["data_roots"] = sorted({str(p) for p in [*(options.get("data_roots") or []), *roots]})
    return {"kind": kind, "options": options}


def prepare_verl(cfg, inputs: dict[str, Path], out_dir: Path, *, local_model_dir: str | Path | None = None
                 ) -> dict[str, Path]:
    """Step 1: write out_dir/verl/ (data, tools, validated verl_config.yaml, command.txt); returns the paths.

    local_model_dir: check a config whose model is a Hub name not on this machine (verl's checks read the
    stand-in's HF config; the written config keeps the Hub name). Without it the model must be local.
    """
    from copilot.rl.verl_config import VerlConfigError
    from copilot.rl.verl_run import prepare_verl_run
    from copilot.stages.model_loading import lora_config

    knobs: Config = stage_settings(cfg, Config)
    stage = stage_name(cfg)
    check_knobs(knobs, stage)
    settings = episode_settings(cfg, knobs, stage)
    if local_model_dir is not None and inputs.get("model") is None:
        model = str(cfg.model.name_or_path)
    else:
        model = model_source(cfg, inputs)
    train_dirs, test_dirs = dataset_dirs(cfg, "train"), dataset_dirs(cfg, "test")
    try:
        return prepare_verl_run(Path(out_dir) / VERL_DIR, algorithm=knobs.algorithm, model=model,
                                train_tasks=task_list(cfg, "train", "train", "limit_train"),
                                test_tasks=task_list(cfg, "test", "test", "limit_test"),
                                sandbox=verl_sandbox(cfg, train_dirs + test_dirs), episode=settings.to_dict(),
                                overrides=verl_overrides(knobs, lora_config(cfg)),
                                max_concurrency=knobs.max_concurrency,
                                experiment_name=f"{(cfg.get('run') or {}).get('name', 'run')}-{stage}",
                                local_model_dir=local_model_dir)
    except VerlConfigError as err:
        raise StageInputError(f"stage {stage!r}: {err}") from err


def check_verl_machine(config_path: Path) -> None:
    """Step 2: what verl's launch needs on this machine, checked before it starts (it would hang or crash)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(config_path)
    engine = str(cfg.actor_rollout_ref.rollout.name)
    nnodes, per_node = int(cfg.trainer.nnodes), int(cfg.trainer.n_gpus_per_node)
    missing = []
    if importlib.util.find_spec(engine) is None:
        missing.append(f"the rollout engine {engine!r} (actor_rollout_ref.rollout.name) is not installed: install the "
                       f"{engine} release that verl {_verl_version()} supports")
    try:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        gpus = 0
    if gpus == 0:
        missing.append("no CUDA GPU is visible (torch.cuda.is_available() is False)")
    elif nnodes == 1 and not os.environ.get("RAY_ADDRESS") and gpus < per_node:
        missing.append(f"trainer.n_gpus_per_node = {per_node} but this node has {gpus} GPU(s) (set n_gpus_per_node)")
    if missing:
        raise StageInputError(
            "the verl backend cannot start on this machine: " + "; ".join(missing) + f". Its config is written "
            f"({config_path}); launch it where these exist (e.g. sbatch slurm/grpo_7b.sh), or use backend: trl "
            f"(recipe.stages.<i>.backend=trl) for a single-node / CPU run")


def _verl_version() -> str:
    from copilot.rl.verl_version import installed_verl_version

    return installed_verl_version() or "?"


def run_verl(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from copilot.rl.verl_merge import fold_lora_adapter
    from copilot.rl.verl_run import launch_verl, merge_after_training

    out_dir = Path(out_dir)
    if int(os.environ.get("RANK", "0")) != 0:
        log.info("rank %s: verl places its own workers (Ray); only rank 0 launches it", os.environ.get("RANK"))
        return {}
    prepared = prepare_verl(cfg, inputs, out_dir)
    log.info("verl run prepared in %s; command: %s", prepared["verl_config"].parent,
             prepared["command"].read_text().strip())
    check_verl_machine(prepared["verl_config"])
    verl_dir = prepared["verl_config"].parent
    launch_verl(prepared["verl_config"], log_path=verl_dir / "verl.log")
    staging = out_dir / (HANDOFF + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    merge_after_training(verl_dir / "checkpoints", staging)
    fold_lora_adapter(staging)
    target = out_dir / HANDOFF
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return {"model": target, "checkpoint_dir": verl_dir / "checkpoints"}


# ------------------------------------------------------------------------------------------ trl
def run_trl(cfg, inputs: dict[str, Path], out_dir: Path, knobs: Config, settings) -> dict[str, Path]:
    from copilot.rl.trl_grpo import train_grpo

    stage = stage_name(cfg)
    per_step = knobs.per_device_train_batch_size * knobs.gradient_accumulation_steps * \
        int(os.environ.get("WORLD_SIZE", "1"))
    if per_step % generations(knobs):
        raise StageInputError(f"stage {stage!r}: per_device_train_batch_size x gradient_accumulation_steps x "
                              f"processes = {per_step} completions is not a multiple of num_generations = "
                              f"{generations(knobs)} (each task's rollouts must share a batch)")
    knobs = dataclasses.replace(knobs, num_generations=generations(knobs))
    tasks = task_list(cfg, "train", "train", "limit_train")
    backend = open_sandbox(cfg, dataset_dirs(cfg, "train"))
    try:
        summary = train_grpo(cfg, inputs, Path(out_dir), knobs, settings, tasks, backend)
    finally:
        backend.close()
    return {"model": Path(summary["model"]), "checkpoint_dir": Path(out_dir) / "checkpoints"}


# ------------------------------------------------------------------------------------------ the stage
def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    knobs: Config = stage_settings(cfg, Config)
    stage = stage_name(cfg)
    check_knobs(knobs, stage)
    settings = episode_settings(cfg, knobs, stage)
    log.info("stage %s: %s %s, %d turns, %s episodes", stage, knobs.backend, knobs.algorithm, settings.max_turns,
             settings.action_format)
    if knobs.backend == "verl":
        return run_verl(cfg, inputs, out_dir)
    return run_trl(cfg, inputs, out_dir, knobs, settings)
