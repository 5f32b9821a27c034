"""Stage `verifier`: train an outcome reward model (YES/NO) on scored trajectories, then measure it on held-out tasks.

    stages: [{kind: verifier, name: verifier, max_tokens: 32768, learning_rate: 1e-5, eval_fraction: 0.1}]
    outputs = run(cfg, {"trajectories": store, ...}, out_dir)   # -> {"verifier": out_dir/model, "verifier_eval": ...}

Data (the paper's recipe): trajectories from inputs["trajectories"] plus `extra_stores` (off-policy ones from
a stronger policy such as the expert, on-policy ones from the agent's own sampling), rendered as interleaved
actions / observations (copilot.sampling.converters.verifier.trajectory_text), labelled YES when the strict
reward scored them correct and NO otherwise, classes balanced by down-sampling, each prompt capped at
`max_tokens` by trimming the middle of the trajectory (verifier.prompt.fit_to_tokens; the end is kept).
Tasks, not trajectories, are split into train and held-out (`eval_fraction`, seeded), so a held-out task's
rollouts are never seen in training.

Training: TRL SFTTrainer on conversational prompt/completion rows (prompt = verifier.prompt.verifier_messages,
completion = "YES" / "NO"), loss on the completion only; full fine-tuning or LoRA (cfg.model.lora), fp32 on
CPU, bf16 on GPU, resumable checkpoints, hand-off at out_dir/model (copilot.stages.model_loading). The base
model is `base_model` when set, else cfg.model.name_or_path -- never the policy an earlier stage handed over
(the verifier is its own model).

Held-out measurement (rank 0): P(YES) of every held-out trajectory with verifier.scoring (the scoring used for
Best@K), accuracy at 0.5, ROC AUC (sklearn; null when the held-out set has one class) and the class counts, in
out_dir/verifier_eval.json.

Simplified / not protected against: no near-duplicate removal between train and held-out tasks of the same
template; balancing is global, not per dataset; held-out rows are not balanced (AUC is the figure to read).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from copilot.stages import sft as sft_stage
from copilot.stages.model_loading import (StageInputError, TrainingKnobs, base_model_loader, is_main_process,
                                          load_model_and_tokenizer, lora_config, metrics_callback, stage_settings,
                                          train_and_hand_off, training_arguments)

log = logging.getLogger(__name__)

EVAL_FILE = "verifier_eval.json"


@dataclass
class Config(TrainingKnobs):
    learning_rate: float = 1e-5
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 16
    num_train_epochs: float = 2.0
    max_tokens: int = 32768                   # prompt cap (the middle of longer trajectories is trimmed)
    warmup_steps: float = 0.03
    eval_fraction: float = 0.1                # share of tasks held out for the measurement
    eval_batch_size: int = 8
    base_model: Optional[str] = None          # null: cfg.model.name_or_path
    balance: bool = True
    extra_stores: list[str] = field(default_factory=list)


def split_by_task(trajectories: list, fraction: float, seed: int) -> tuple[list, list]:
    """(train, held_out): whole tasks go to one side; at least one task is held out when fraction > 0."""
    task_ids = sorted({t.task_id for t in trajectories})
    random.Random(seed).shuffle(task_ids)
    n_held = 0 if fraction <= 0 else max(1, round(fraction * len(task_ids)))
    if n_held >= len(task_ids):
        raise StageInputError(f"eval_fraction = {fraction} holds out all {len(task_ids)} tasks; nothing is left "
                              f"to train on")
    held = set(task_ids[:n_held])
    return [t for t in trajectories if t.task_id not in held], [t for t in trajectories if t.task_id in held]


def training_rows(trajectories: list, tokenizer, knobs: Config, seed: int, stage: str) -> list[dict[str, Any]]:
    """Prompt / completion rows (balanced unless knobs.balance is off), each prompt within max_tokens."""
    from copilot.sampling.converters.verifier import verifier_rows
    from verifier.prompt import answer_message, fit_to_tokens, prompt_overhead, verifier_messages

    try:   # characters first (cheap, generous: ~4 characters a token), then the exact token cap
        rows = verifier_rows(trajectories, max_chars=8 * knobs.max_tokens, seed=seed, balance=knobs.balance)
    except ValueError as err:
        raise StageInputError(f"stage {stage!r}: {err}") from err
    overhead = prompt_overhead(tokenizer)
    out = []
    for row in rows:
        text, trimmed = fit_to_tokens(row["text"], tokenizer, knobs.max_tokens, overhead=overhead)
        out.append({"prompt": verifier_messages(text), "completion": [answer_message(row["label"])],
                    "label": row["label"], "task_id": row["task_id"], "trimmed": trimmed or row["trimmed"]})
    return out


def rows_dataset(rows: list[dict[str, Any]]):
    import datasets

    features = datasets.Features({"prompt": datasets.Json(), "completion": datasets.Json(),
                                  "label": datasets.Value("string"), "task_id": datasets.Value("string"),
                                  "trimmed": datasets.Value("bool")})
    return datasets.Dataset.from_list(rows, features=features)


def measure(model_dir: str, held_out: list, knobs: Config) -> dict[str, Any]:
    """Accuracy at 0.5 and ROC AUC of the trained verifier on held-out trajectories."""
    from sklearn.metrics import roc_auc_score

    from verifier.scoring import Verifier

    labels = [bool(t.reward.get("correct") is True) for t in held_out]
    if not held_out:
        return {"n": 0, "note": "eval_fraction = 0: nothing held out"}
    scorer = Verifier.load(model_dir, batch_size=knobs.eval_batch_size, max_tokens=knobs.max_tokens)
    scores = list(scorer.score_trajectories(held_out).values())
    accuracy = sum((s >= 0.5) == y for s, y in zip(scores, labels)) / len(labels)
    auc = float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None
    return {"n": len(labels), "positives": sum(labels), "negatives": len(labels) - sum(labels),
            "accuracy": round(accuracy, 4), "auc": None if auc is None else round(auc, 4),
            "mean_score_correct": _mean([s for s, y in zip(scores, labels) if y]),
            "mean_score_incorrect": _mean([s for s, y in zip(scores, labels) if not y]),
            "tasks": len({t.task_id for t in held_out})}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from trl import SFTConfig, SFTTrainer

    knobs: Config = stage_settings(cfg, Config)
    stage = str(cfg.stage.get("name", "verifier"))
    if not 0.0 <= knobs.eval_fraction < 1.0:
        raise StageInputError(f"stage {stage!r}: eval_fraction = {knobs.eval_fraction}; expected in [0, 1)")
    if knobs.max_tokens < 64:
        raise StageInputError(f"stage {stage!r}: max_tokens = {knobs.max_tokens}; expected >= 64")
    out_dir = Path(out_dir)
    seed = int((cfg.get("run") or {}).get("seed", 0) or 0)
    trajectories = sft_stage.load_all(sft_stage.trajectory_paths(inputs, knobs.extra_stores, out_dir, stage), stage)
    unscored = [t for t in trajectories if not t.reward or not isinstance(t.reward.get("correct"), bool)]
    if unscored:
        raise StageInputError(f"stage {stage!r}: {len(unscored)} trajectories are not scored (first: task "
                              f"{unscored[0].task_id!r}, rollout {unscored[0].rollout_index}); score them first")
    train, held_out = split_by_task(trajectories, knobs.eval_fraction, seed)
    if knobs.base_model:   # a local dir or a Hub name in the local cache, resolved like model.name_or_path
        from omegaconf import OmegaConf

        cfg = OmegaConf.merge(cfg, {"model": {"name_or_path": str(knobs.base_model)}})
    model, tokenizer, source = load_model_and_tokenizer(cfg, {})
    rows = training_rows(train, tokenizer, knobs, seed, stage)
    log.info("stage %s: %d training rows (%d YES) from %d trajectories; %d held-out trajectories", stage, len(rows),
             sum(r["label"] == "YES" for r in rows), len(train), len(held_out))
    args = SFTConfig(**{**training_arguments(knobs, cfg, out_dir, "verifier"), "max_length": knobs.max_tokens},
                     completion_only_loss=True, assistant_only_loss=False, packing=False,
                     dataset_num_proc=None, remove_unused_columns=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=rows_dataset(rows), processing_class=tokenizer,
                         peft_config=lora_config(cfg), callbacks=[metrics_callback(out_dir)])
    summary = train_and_hand_off(trainer, tokenizer, out_dir, base_model_loader(cfg, source),
                                 extra={"base_model": source, "examples": len(rows),
                                        "trimmed": sum(r["trimmed"] for r in rows)})
    outputs = {"verifier": Path(summary["model"])}
    if is_main_process():
        result = {**measure(summary["model"], held_out, knobs), "train_examples": len(rows),
                  "global_step": summary["global_step"]}
        (out_dir / EVAL_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        log.info("stage %s: held-out %s", stage, result)
        outputs["verifier_eval"] = out_dir / EVAL_FILE
    return outputs
