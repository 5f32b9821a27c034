"""What the training stages share: reading a stage's keys, loading the model, LoRA, checkpoints, hand-off.

    knobs = stage_settings(cfg, Config)                      # cfg.stage -> the stage's Config dataclass
    model, tokenizer, source = load_model_and_tokenizer(cfg, inputs)
    args = SFTConfig(**training_arguments(knobs, cfg, out_dir, "sft"), ...)
    summary = train_and_hand_off(trainer, tokenizer, out_dir, base_model_loader(cfg, source))
    # -> resumes from the last complete checkpoint, trains, merges LoRA, saves out_dir/model, train_summary.json

- The model comes from inputs["model"] (the previous training stage's hand-off) or else cfg.model.name_or_path:
  a local directory, or a Hub name that is already in the local Hugging Face cache. Nothing is downloaded
  (DESIGN §5): a missing model is a clear error saying what to get and where to put it.
- dtype "auto" = fp32 on CPU (bf16 is several times slower on CPUs without bf16 units), bf16 on a GPU.
- LoRA: cfg.model.lora.enabled -> a PEFT LoraConfig handed to the TRL trainer; the hand-off merges the
  adapter into the base weights, so every later stage sees a plain full model.
- Checkpoints live in out_dir/checkpoints (TRL/transformers layout, checkpoint-<step>/). A re-run resumes
  from the newest COMPLETE one (trainer_state.json is the last file transformers writes into a checkpoint);
  a newer checkpoint dir without it (the process was killed while saving) is renamed aside, with a warning,
  rather than deleted or used.
- The hand-off (out_dir/model) is written by `trainer.save_model` (ZeRO-3 shards gathered, main process
  writes) to a temporary sibling and renamed into place, so a crash never leaves a half-written model that a
  later stage could pick up. A final checkpoint of the last step is always kept, so a crash during the
  hand-off resumes at the end instead of retraining.

Simplified / not protected against: one hand-off format (safetensors, full weights); a user changing the
training config between an interrupted run and its re-run (transformers resumes whatever the checkpoint
holds); two processes training into the same out_dir.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
HANDOFF = "model"
SUMMARY = "train_summary.json"
HOW_TO_GET_A_MODEL = (
    "nothing is downloaded at run time: download it on a machine with network access "
    "(`huggingface-cli download NAME --local-dir DIR`), copy DIR here and set model.name_or_path=DIR, or run an "
    "earlier stage that hands a model over")


class StageInputError(ValueError):
    """A stage's configuration or inputs are unusable (the message names the key / file and what was expected)."""


@dataclass
class TrainingKnobs:
    """Keys every TRL training stage has (the stage Configs subclass this and set the paper's defaults).

    Effective batch = per_device_train_batch_size x gradient_accumulation_steps x number of processes.
    max_steps: null = train num_train_epochs epochs; an int caps the run (the CPU demo and tests use it).
    """

    learning_rate: float = 1e-4
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    num_train_epochs: float = 3.0
    max_steps: int | None = None
    max_length: int | None = 40000
    warmup_steps: float = 0.0          # an int = steps, a float in [0, 1) = fraction of the total steps
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    optim: str = "adamw_torch"
    gradient_checkpointing: bool = False
    save_steps: int = 200
    save_total_limit: int = 2
    logging_steps: int = 10


# ------------------------------------------------------------------------------------------ stage keys
def stage_settings(cfg, config_cls: type) -> Any:
    """cfg.stage (minus kind/name) as an instance of the stage's Config dataclass; unknown keys are errors."""
    from omegaconf import DictConfig, OmegaConf

    node = cfg.get("stage") if isinstance(cfg, DictConfig) else (cfg or {}).get("stage")
    values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    name = values.pop("name", config_cls.__module__.rsplit(".", 1)[-1])
    values.pop("kind", None)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise StageInputError(f"stage {name!r}: unknown key(s) {unknown}; valid keys are {sorted(known)}")
    return config_cls(**values)


def positive(name: str, stage: str, value: int | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or value < 1:
        raise StageInputError(f"stage {stage!r}: {name} = {value!r}; expected an integer >= 1"
                              + (" or null" if allow_none else ""))


# ------------------------------------------------------------------------------------------ the model
def model_source(cfg, inputs: dict[str, Path]) -> str:
    """Where the model comes from: the previous stage's hand-off, else cfg.model.name_or_path (checked)."""
    if inputs.get("model") is not None:
        path = Path(inputs["model"])
        if not (path / "config.json").is_file():
            raise StageInputError(f"input 'model' (handed over by an earlier stage) {path} is not a saved "
                                  f"transformers model (no config.json); re-run the stage that produced it")
        return str(path)
    name = cfg.model.get("name_or_path") if cfg.get("model") is not None else None
    if not name:
        raise StageInputError("model.name_or_path is not set and no earlier stage handed over a model")
    path = Path(str(name)).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise StageInputError(f"model.name_or_path: {path} has no config.json, so it is not a saved "
                                  f"transformers model; {HOW_TO_GET_A_MODEL}")
        return str(path)
    looks_like_path = str(name).startswith(("/", ".", "~")) or str(name).count("/") != 1
    if looks_like_path:
        raise StageInputError(f"model.name_or_path: directory {path} does not exist; {HOW_TO_GET_A_MODEL}")
    try:   # a Hub name: accepted only when already in the local cache
        from huggingface_hub import snapshot_download

        return snapshot_download(str(name), local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any failure here means "not available offline"
        raise StageInputError(f"model.name_or_path: {name!r} is not a local directory and not in the local "
                              f"Hugging Face cache ({type(err).__name__}); {HOW_TO_GET_A_MODEL}") from err


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def torch_dtype(name: str | None):
    import torch

    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if name in (None, "auto"):
        return torch.bfloat16 if on_gpu() else torch.float32
    if name not in table:
        raise StageInputError(f"model.dtype: {name!r} is unknown; expected auto or one of {sorted(table)}")
    return table[name]


def load_tokenizer(cfg, source: str):
    from transformers import AutoTokenizer

    model_cfg = cfg.get("model") or {}
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True,
                                              trust_remote_code=bool(model_cfg.get("trust_remote_code", False)))
    template = model_cfg.get("chat_template")
    if template:
        template_path = Path(str(template)).expanduser()
        if not template_path.is_file():
            raise StageInputError(f"model.chat_template: {template_path} is not a file (expected a Jinja chat "
                                  f"template)")
        tokenizer.chat_template = template_path.read_text(encoding="utf-8")
    if not getattr(tokenizer, "chat_template", None):
        raise StageInputError(f"the tokenizer of {source} has no chat template; set model.chat_template to a "
                              f"Jinja file (with {{% generation %}} markers for assistant-only loss)")
    if tokenizer.pad_token is None:
        # Training batches need padding; EOS as pad is the usual fallback (the collators mask pads by position).
        log.warning("tokenizer of %s has no pad token; using its EOS token %r as pad", source, tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model_and_tokenizer(cfg, inputs: dict[str, Path]):
    """(model, tokenizer, source) in cfg.model.dtype (auto: fp32 on CPU, bf16 on GPU); model in train mode."""
    from transformers import AutoModelForCausalLM

    source = model_source(cfg, inputs)
    model_cfg = cfg.get("model") or {}
    tokenizer = load_tokenizer(cfg, source)
    kwargs: dict[str, Any] = {"dtype": torch_dtype(model_cfg.get("dtype")), "local_files_only": True,
                              "trust_remote_code": bool(model_cfg.get("trust_remote_code", False))}
    if model_cfg.get("attn_implementation"):
        kwargs["attn_implementation"] = str(model_cfg.get("attn_implementation"))
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    return model, tokenizer, source


def base_model_loader(cfg, source: str) -> Callable[[], Any]:
    """A function loading the model at `source` again as the stage did (for merging a LoRA adapter)."""
    def load():
        from transformers import AutoModelForCausalLM

        model_cfg = cfg.get("model") or {}
        return AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype(model_cfg.get("dtype")),
                                                    local_files_only=True,
                                                    trust_remote_code=bool(model_cfg.get("trust_remote_code", False)))
    return load


def lora_config(cfg):
    """A PEFT LoraConfig when cfg.model.lora.enabled, else None (full fine-tuning)."""
    from omegaconf import OmegaConf

    lora = (cfg.get("model") or {}).get("lora")
    if lora is None or not lora.get("enabled", False):
        return None
    from peft import LoraConfig

    targets = lora.get("target_modules", "all-linear")
    if not isinstance(targets, str):
        targets = list(OmegaConf.to_container(targets) if OmegaConf.is_config(targets) else targets)
    return LoraConfig(task_type="CAUSAL_LM", r=int(lora.get("r", 16)), lora_alpha=int(lora.get("alpha", 32)),
                      lora_dropout=float(lora.get("dropout", 0.05)), target_modules=targets)


# ---------------------------------------------------------------------------------- trainer arguments
def training_arguments(knobs: TrainingKnobs, cfg, out_dir: Path, job_type: str) -> dict[str, Any]:
    """Keyword arguments shared by SFTConfig and DPOConfig (precision, checkpoints, logging, seed)."""
    stage = job_type
    positive("save_steps", stage, knobs.save_steps)
    positive("logging_steps", stage, knobs.logging_steps)
    positive("save_total_limit", stage, knobs.save_total_limit)
    positive("max_steps", stage, knobs.max_steps, allow_none=True)
    positive("per_device_train_batch_size", stage, knobs.per_device_train_batch_size)
    positive("gradient_accumulation_steps", stage, knobs.gradient_accumulation_steps)
    gpu = on_gpu()
    run_cfg = cfg.get("run") or {}
    return {
        "output_dir": str(Path(out_dir) / CHECKPOINTS),
        "learning_rate": knobs.learning_rate,
        "per_device_train_batch_size": knobs.per_device_train_batch_size,
        "gradient_accumulation_steps": knobs.gradient_accumulation_steps,
        "num_train_epochs": knobs.num_train_epochs,
        "max_steps": knobs.max_steps if knobs.max_steps is not None else -1,
        "max_length": knobs.max_length,
        "warmup_steps": knobs.warmup_steps,
        "lr_scheduler_type": knobs.lr_scheduler_type,
        "weight_decay": knobs.weight_decay,
        "optim": knobs.optim,
        "gradient_checkpointing": knobs.gradient_checkpointing,
        "save_strategy": "steps",
        "save_steps": knobs.save_steps,
        "save_total_limit": knobs.save_total_limit,
        "logging_steps": knobs.logging_steps,
        "logging_first_step": True,
        "seed": int(run_cfg.get("seed", 0) or 0),
        "bf16": gpu,            # fp32 on CPU: bf16 matmuls are 5-6x slower there (machine-facts.md)
        "use_cpu": not gpu,
        "report_to": report_to(cfg, out_dir, job_type),
        "dataloader_num_workers": 0,
    }


def report_to(cfg, out_dir: Path, job_type: str) -> list[str]:
    """["wandb"] when cfg.logger.wandb.mode is offline/online (the run is opened here), else []."""
    from copilot.run_metrics import init_wandb, wandb_mode

    if wandb_mode(cfg) == "disabled":
        return []
    return ["wandb"] if init_wandb(cfg, out_dir, job_type) is not None else []


def metrics_callback(out_dir: Path):
    from copilot.run_metrics import JsonlMetricsCallback

    return JsonlMetricsCallback(Path(out_dir))


# ------------------------------------------------------------------------------- checkpoints, hand-off
def is_main_process() -> bool:
    """Rank 0 of an accelerate / torchrun launch (or a plain single process)."""
    return os.environ.get("RANK", "0") == "0"


def last_complete_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest checkpoint-<step> holding trainer_state.json; the main process renames incomplete newer
    ones aside (other ranks skip them the same way, so every rank picks the same checkpoint)."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for child in checkpoint_dir.iterdir():
        prefix, _, step = child.name.partition("-")
        if child.is_dir() and prefix == "checkpoint" and step.isdigit():
            found.append((int(step), child))
    for _, child in sorted(found, reverse=True):
        if (child / "trainer_state.json").is_file():
            return child
        if is_main_process():
            aside = checkpoint_dir / f"incomplete-{child.name}-{int(time.time())}"
            log.warning("checkpoint %s has no trainer_state.json (interrupted while saving); moved to %s and "
                        "resuming from an older one", child, aside)
            child.rename(aside)
    return None


def save_hand_off(trainer, tokenizer, target: Path, load_base: Callable[[], Any]) -> Path:
    """Full weights + tokenizer + chat template at `target`, written atomically; a LoRA adapter is merged.

    `trainer.save_model` does the saving (it gathers ZeRO-3 shards and writes on the main process only); when
    it wrote an adapter, the main process loads the base model (`load_base()`), applies the adapter, merges
    it and saves the merged full model instead, so later stages never see an adapter.
    """
    target = Path(target)
    staging = target.with_name(target.name + ".partial")
    if is_main_process() and staging.exists():
        shutil.rmtree(staging)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging))
    if is_main_process():
        if (staging / "adapter_config.json").is_file():
            from peft import PeftModel

            merged = PeftModel.from_pretrained(load_base(), staging).merge_and_unload()
            shutil.rmtree(staging)
            merged.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    trainer.accelerator.wait_for_everyone()
    return target


def train_and_hand_off(trainer, tokenizer, out_dir: Path, load_base: Callable[[], Any],
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resume from the last complete checkpoint (if any), train, save the hand-off, write train_summary.json.

    load_base: builds the untrained base model again (used to merge a LoRA adapter into full weights)."""
    out_dir = Path(out_dir)
    if trainer.train_dataset is not None and len(trainer.train_dataset) == 0:
        # TRL drops examples whose trainable part was cut off by max_length; none left is not a training run.
        raise StageInputError(
            f"{out_dir.name}: every training example was dropped while tokenizing: with max_length = "
            f"{trainer.args.max_length} tokens the prompts leave no trainable (assistant / completion) tokens; "
            f"raise max_length")
    resume = last_complete_checkpoint(out_dir / CHECKPOINTS)
    if resume is not None:
        log.info("resuming %s from %s", out_dir, resume)
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    wall = time.perf_counter() - start
    # Always leave a checkpoint of the final step, so a re-run after a crash during the hand-off resumes
    # at the end instead of retraining the last (up to save_steps - 1) steps.
    final = out_dir / CHECKPOINTS / f"checkpoint-{trainer.state.global_step}"
    if not (final / "trainer_state.json").is_file():
        trainer._save_checkpoint(trainer.model, trial=None)
    handed = save_hand_off(trainer, tokenizer, out_dir / HANDOFF, load_base)
    start_step = _checkpoint_step(resume)
    steps_run = trainer.state.global_step - start_step
    summary = {
        "global_step": int(trainer.state.global_step),
        "resumed_from": resume.name if resume is not None else None,
        "steps_this_run": int(steps_run),
        "train_wall_s": round(wall, 3),
        "s_per_step": round(wall / steps_run, 4) if steps_run > 0 else None,
        "train_loss": float(result.training_loss) if result.training_loss is not None else None,
        "model": str(handed),
        **(extra or {}),
    }
    if is_main_process():
        (out_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _checkpoint_step(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    return int(checkpoint.name.rsplit("-", 1)[-1])


def read_trajectories(path: Path | str, what: str) -> list:
    """Every trajectory of a store that must exist and be non-empty (clear errors otherwise)."""
    from copilot.sampling.trajectory_store import TrajectoryStore

    path = Path(path)
    if not path.is_file():
        raise StageInputError(f"{what}: trajectory store {path} does not exist; run a sampling stage first")
    trajectories = list(TrajectoryStore(path, create=False))
    if not trajectories:
        raise StageInputError(f"{what}: trajectory store {path} is empty; the sampling stage produced nothing")
    return trajectories
