"""Stage `dpo`: direct preference optimisation on (successful, erroneous) trajectory pairs (TRL DPOTrainer).

    stages: [{kind: dpo, name: dpo, learning_rate: 5e-6, beta: 0.1, ...}]
    outputs = run(cfg, {"trajectories": store, "model": sft_model}, out_dir)      # -> {"model": out_dir/model}

Pairs, from every scored trajectory in inputs["trajectories"] (plus `extra_stores`, e.g. the expert's store
when a later sample stage's store replaced it in the inputs):
1. "correct_vs_incorrect": per task that has at least one correct AND one incorrect rollout, the
   highest-scored correct rollout is preferred to the lowest-scored incorrect one (any policies: an expert /
   stronger policy's success against the current model's failure = the paper's offline pairs; the model's
   own success against its own failure = online pairs). Prompt = the shared start of the two chats (system +
   task prompt at least); chosen / rejected = the two continuations (several messages each: the loss then
   covers the observations inside them too, as the converter documents).
2. "intermediate_error" (when `intermediate_errors`): inside each successful trajectory, its final code
   turn preferred to each earlier erroneous turn (copilot.sampling.converters.dpo, the paper's construction).
No pairs at all is an error that lists, per task, how many correct / incorrect rollouts were found.

Training as in `sft`: fp32 on CPU / bf16 on GPU, LoRA when cfg.model.lora.enabled (the reference model is then
the adapter-free base), checkpoints under out_dir/checkpoints with resume, metrics.jsonl (loss,
rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies), wandb per cfg.logger.

Paper defaults: lr 5e-6, batch 64 (1 per device x 64 accumulation on one device; divide the accumulation by
the number of processes on a node), beta 0.1, AdamW. One epoch is our assumption.

Simplified / not protected against: one cross-rollout pair per task (the extreme ones); pairs are not
filtered by length or similarity; a store mixing tasks from different prompt versions yields pairs whose
"shared prompt" is only the system message (the converter refuses pairs sharing nothing).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.stages.model_loading import (StageInputError, TrainingKnobs, base_model_loader,
                                          load_model_and_tokenizer, lora_config, metrics_callback,
                                          stage_settings, train_and_hand_off, training_arguments)
from copilot.stages.sft import load_all, trajectory_paths

log = logging.getLogger(__name__)


@dataclass
class Config(TrainingKnobs):
    learning_rate: float = 5e-6
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 64
    num_train_epochs: float = 1.0
    max_length: int | None = 40000
    lr_scheduler_type: str = "linear"
    warmup_steps: float = 0.1
    beta: float = 0.1
    loss_type: str = "sigmoid"
    intermediate_errors: bool = True
    extra_stores: list[str] = field(default_factory=list)   # more trajectory stores (relative: to the run dir)


# ------------------------------------------------------------------------------------------------ pairs
def _score(trajectory) -> float:
    return float(trajectory.reward.get("score", 1.0 if trajectory.reward.get("correct") else 0.0))


def check_scored(trajectories: list, stage: str) -> None:
    from copilot.sampling.converters.turns import describe

    unscored = [t for t in trajectories if not t.reward or "correct" not in t.reward]
    if unscored:
        raise StageInputError(f"stage {stage!r}: {len(unscored)} trajectories are not scored (e.g. "
                              f"{describe(unscored[0])}); DPO pairs need reward.score results in trajectory.reward")


def correct_vs_incorrect_rows(trajectories: list, scores: dict | None = None) -> list[dict[str, Any]]:
    """One pair per task: highest-scored correct vs lowest-scored incorrect (scores: key -> score override)."""
    from copilot.sampling.converters.dpo import best_vs_worst_pairs
    from copilot.sampling.converters.sft import tools_of
    from copilot.sampling.trajectory_store import trajectory_key

    def score(t) -> float:
        return float(scores[trajectory_key(t)]) if scores is not None else _score(t)

    by_task: dict[str, list] = defaultdict(list)
    for trajectory in trajectories:
        by_task[trajectory.task_id].append(trajectory)
    rows = []
    for task_id, group in by_task.items():
        correct = [t for t in group if t.reward.get("correct") is True]
        wrong = [t for t in group if t.reward.get("correct") is not True]
        if not correct or not wrong:
            continue
        best = max(correct, key=score)            # max/min keep the first of equals: store order decides ties
        worst = min(wrong, key=score)
        # The converter pairs best vs worst by score; give the chosen one a strictly higher score so that a
        # correct rollout with a low format score still beats an incorrect one.
        pair_scores = {trajectory_key(best): 1.0 + abs(score(best)), trajectory_key(worst): -abs(score(worst))}
        for row in best_vs_worst_pairs([best, worst], pair_scores):
            row.update(kind="correct_vs_incorrect", chosen_score=score(best), rejected_score=score(worst),
                       tools=tools_of(best))
            row["policy"] = f"{best.policy} > {worst.policy}"
            rows.append(row)
    return rows


def intermediate_error_rows(trajectories: list) -> list[dict[str, Any]]:
    from copilot.sampling.converters.dpo import intermediate_error_pairs
    from copilot.sampling.converters.sft import tools_of

    rows = []
    for trajectory in trajectories:
        for row in intermediate_error_pairs(trajectory):
            row["tools"] = tools_of(trajectory)
            rows.append(row)
    return rows


def outcome_table(trajectories: list) -> str:
    """'task: correct/incorrect' per task, for error messages."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in trajectories:
        counts[t.task_id][0 if t.reward.get("correct") is True else 1] += 1
    items = [f"{task} {ok}/{bad}" for task, (ok, bad) in sorted(counts.items())]
    shown = ", ".join(items[:20]) + (f", ... ({len(items) - 20} more tasks)" if len(items) > 20 else "")
    return f"correct/incorrect rollouts per task: {shown}"


def pairs_dataset(rows: list[dict[str, Any]]):
    """The rows as a datasets.Dataset (Json chat columns; "tools" only when some pair needs tool schemas)."""
    import datasets

    from copilot.sampling.converters import rows_to_dataset
    from copilot.sampling.converters.dpo import dpo_features

    features = dpo_features()
    if any(row.get("tools") is not None for row in rows):
        features["tools"] = datasets.Json()
    else:
        rows = [{k: v for k, v in row.items() if k != "tools"} for row in rows]
    return rows_to_dataset(rows, features)


def build_pairs(trajectories: list, stage: str, intermediate_errors: bool = True):
    check_scored(trajectories, stage)
    rows = correct_vs_incorrect_rows(trajectories)
    if intermediate_errors:
        rows += intermediate_error_rows(trajectories)
    if not rows:
        raise StageInputError(f"stage {stage!r}: no DPO pairs from {len(trajectories)} trajectories: no task has "
                              f"both a correct and an incorrect rollout"
                              + (", and no successful trajectory has an erroneous earlier turn" if intermediate_errors
                                 else "") + f". {outcome_table(trajectories)}")
    kinds: dict[str, int] = defaultdict(int)
    for row in rows:
        kinds[f"{row['kind']} ({row['policy']})"] += 1
    log.info("stage %s: %d DPO pairs: %s", stage, len(rows), dict(kinds))
    return pairs_dataset(rows), dict(kinds)


# ------------------------------------------------------------------------------------------------ training
def train_dpo(cfg, inputs: dict[str, Path], out_dir: Path, knobs: Config, dataset, job_type: str = "dpo",
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """DPO on `dataset` (prompt/chosen/rejected rows); hand the model over at out_dir/model. Used by idpo too."""
    from trl import DPOConfig, DPOTrainer

    model, tokenizer, source = load_model_and_tokenizer(cfg, inputs)
    args = DPOConfig(**training_arguments(knobs, cfg, out_dir, job_type), beta=knobs.beta,
                     loss_type=[knobs.loss_type], dataset_num_proc=None)
    peft = lora_config(cfg)
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=peft, callbacks=[metrics_callback(out_dir)])
    return train_and_hand_off(trainer, tokenizer, out_dir, base_model_loader(cfg, source),
                              extra={"base_model": source, "pairs": len(dataset), "lora": peft is not None,
                                     **(extra or {})})


def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    knobs: Config = stage_settings(cfg, Config)
    stage = str(cfg.stage.get("name", "dpo"))
    if knobs.beta <= 0:
        raise StageInputError(f"stage {stage!r}: beta = {knobs.beta}; expected > 0")
    trajectories = load_all(trajectory_paths(inputs, knobs.extra_stores, out_dir, stage), stage)
    dataset, kinds = build_pairs(trajectories, stage, knobs.intermediate_errors)
    summary = train_dpo(cfg, inputs, Path(out_dir), knobs, dataset, extra={"pair_kinds": kinds})
    return {"model": Path(summary["model"]), "checkpoint_dir": Path(out_dir) / "checkpoints"}
