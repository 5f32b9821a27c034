"""Stage `sft`: supervised fine-tuning on successful trajectories (TRL SFTTrainer), the paper's warm-up.

    stages: [{kind: sft, name: sft, learning_rate: 1e-4, max_steps: null, ...}]     # recipes/recipe/*.yaml
    outputs = run(cfg, {"trajectories": store, "model": prev_model?}, out_dir)    # -> {"model": out_dir/model}

Data: `copilot.sampling.converters.sft_dataset` of the successful (scored correct) trajectories of
inputs["trajectories"] (plus `extra_stores`): whole multi-turn chats, tool messages and tool calls kept, with
the tool schemas in a "tools" column for tool-call-format episodes. Loss on assistant tokens only
(`assistant_only_loss=True`: the chat template must mark assistant turns with {% generation %}).
Full fine-tuning, or LoRA when cfg.model.lora.enabled (merged into the hand-off). fp32 on CPU, bf16 on GPU.
Checkpoints under out_dir/checkpoints (save_steps, save_total_limit); a re-run resumes from the last
complete one. Metrics: every trainer log line goes to out_dir/metrics.jsonl (JsonlMetricsCallback), and to
wandb when cfg.logger.wandb.mode is offline/online. Progress: the trainer's tqdm bar.

Paper defaults (MedAgentGym Med-Copilot SFT): lr 1e-4, batch 8 (1 per device x 8 accumulation on one
device: set gradient_accumulation_steps = 8 / num_processes on a multi-GPU node), 40k max tokens, AdamW.
The number of epochs is our assumption (3). `packing` is off by default: with assistant-only loss it is
only safe with padding-free attention (flash-attention on GPU); turn it on in GPU recipes.

Simplified / not protected against: no evaluation split during training; sequences longer than max_length
are truncated (the end of a long trajectory is lost); duplicate successful trajectories are all kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.stages.model_loading import (StageInputError, TrainingKnobs, base_model_loader,
                                          load_model_and_tokenizer, lora_config, metrics_callback,
                                          read_trajectories, stage_settings, train_and_hand_off,
                                          training_arguments)

log = logging.getLogger(__name__)


@dataclass
class Config(TrainingKnobs):
    learning_rate: float = 1e-4
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    num_train_epochs: float = 3.0
    max_length: int | None = 40000
    warmup_steps: float = 0.03
    packing: bool = False
    assistant_only_loss: bool = True
    extra_stores: list[str] = field(default_factory=list)   # more trajectory stores (relative: to the run dir)


def trajectory_paths(inputs: dict[str, Path], extra: list[str], out_dir: Path, stage: str) -> list[Path]:
    """inputs["trajectories"] plus extra stores (relative paths are taken from the run dir, out_dir's parent)."""
    paths = [Path(inputs["trajectories"])] if inputs.get("trajectories") is not None else []
    for item in extra:
        path = Path(item).expanduser()
        paths.append(path if path.is_absolute() else Path(out_dir).parent / path)
    if not paths:
        raise StageInputError(f"stage {stage!r}: no trajectories: no earlier stage produced 'trajectories' and "
                              f"extra_stores is empty; put a sample stage before it")
    return paths


def load_all(paths: list[Path], stage: str) -> list:
    trajectories = []
    for path in paths:
        trajectories.extend(read_trajectories(path, f"stage {stage!r}"))
    return trajectories


def build_dataset(trajectories: list, stage: str):
    from copilot.sampling.converters import sft_dataset

    dataset = sft_dataset(trajectories)
    if len(dataset) == 0:
        datasets_seen = sorted({t.dataset for t in trajectories})
        raise StageInputError(f"stage {stage!r}: none of the {len(trajectories)} trajectories (datasets "
                              f"{datasets_seen}) is a success (scored correct), so there is nothing to fine-tune on")
    if all(row is None for row in dataset["tools"]):
        dataset = dataset.remove_columns("tools")   # JSON-format episodes: the template needs no tool schemas
    return dataset


def train_sft(cfg, inputs: dict[str, Path], out_dir: Path, knobs: Config, dataset, job_type: str = "sft"
              ) -> dict[str, Any]:
    """Fine-tune on `dataset` (rows with "messages"); hand the model over at out_dir/model. Used by idpo too."""
    from trl import SFTConfig, SFTTrainer

    model, tokenizer, source = load_model_and_tokenizer(cfg, inputs)
    args = SFTConfig(**training_arguments(knobs, cfg, out_dir, job_type), packing=knobs.packing,
                     assistant_only_loss=knobs.assistant_only_loss, dataset_num_proc=None,
                     remove_unused_columns=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(cfg), callbacks=[metrics_callback(out_dir)])
    return train_and_hand_off(trainer, tokenizer, out_dir, base_model_loader(cfg, source),
                              extra={"base_model": source, "examples": len(dataset), "lora": lora_config(cfg) is not None})


def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    knobs: Config = stage_settings(cfg, Config)
    stage = str(cfg.stage.get("name", "sft"))
    trajectories = load_all(trajectory_paths(inputs, knobs.extra_stores, out_dir, stage), stage)
    dataset = build_dataset(trajectories, stage)
    log.info("stage %s: %d successful trajectories of %d", stage, len(dataset), len(trajectories))
    summary = train_sft(cfg, inputs, Path(out_dir), knobs, dataset)
    return {"model": Path(summary["model"]), "checkpoint_dir": Path(out_dir) / "checkpoints"}
