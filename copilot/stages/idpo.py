"""Stage `idpo`: iterative DPO on the current model's own rollouts (the paper's self-improvement loop).

    stages: [{kind: idpo, name: idpo, iterations: 2, k: 4, temperature: 0.6, rejection_sft: false,
              dpo: {learning_rate: 5e-6, beta: 0.1}, sft: {}}]
    outputs = run(cfg, {"model": dpo_model, "trajectories": expert_store?}, out_dir)  # -> {"model": last model}

Optional first round (`rejection_sft: true`), in out_dir/rejection_sft/: sample K rollouts per training task
with the current model, keep the correct ones (rejection sampling) and fine-tune on them with the `sft`
stage's trainer (`sft` = overrides of copilot.stages.sft.Config); with a verifier, only the top-scored
correct rollout of each task is kept.
Then `iterations` times, each in out_dir/iter_<i>/ (i = 0, 1, ...):
1. sample K rollouts per task of cfg.data.train (first cfg.data.limit_train of each dir) with the current
   model at `temperature` (episodes in lockstep batches, appended to iter_<i>/trajectories.jsonl, resumable);
2. score: the correctness reward the episode already computed (reward.score); with `verifier` set (a saved
   verifier dir), the verifier's P(YES) ranks the rollouts instead (`rollout_scores`);
3. pairs: per task, the highest-scored correct rollout vs the lowest-scored incorrect one
   (copilot.stages.dpo.correct_vs_incorrect_rows);
4. DPO with the `dpo` stage's trainer (`dpo` = overrides of copilot.stages.dpo.Config) from the current
   model; the result (iter_<i>/model) is the next iteration's model.
No pairs in an iteration (e.g. every rollout failed, as with an untrained model) is never silent: with
`offline_fallback` (default) and offline trajectories available (inputs["trajectories"] / extra_stores, e.g.
the expert's store) their successes are paired against this iteration's failures on the same tasks
(logged as a fallback); otherwise the iteration is recorded as skipped, with the reason, in
iter_<i>/DONE and metrics.jsonl, and the model is carried over unchanged.
Each round writes its own DONE (JSON summary) last, so a re-run skips finished rounds and resumes an
unfinished one (sampling skips stored rollouts, DPO resumes from its last checkpoint).

Simplified / not protected against: the policy used for sampling is reloaded from disk each iteration (no
weight sync with a live trainer: that is the RL stage's job); all K rollouts use `temperature` (no greedy
rollout 0); the verifier is loaded once per round, after the policy is freed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from copilot.stages import dpo as dpo_stage
from copilot.stages import sft as sft_stage
from copilot.stages.evaluate import episode_settings, open_sandbox, play_episodes, task_list, dataset_dirs
from copilot.stages.model_loading import StageInputError, model_source, positive, stage_settings

log = logging.getLogger(__name__)

DONE = "DONE"


@dataclass
class Config:
    iterations: int = 2
    k: int = 4                                  # rollouts per training task per iteration
    temperature: float = 0.6
    max_new_tokens: int = 512
    batch_size: int = 8                         # episodes stepped together (rows per generate call)
    step_workers: int = 2
    tasks_per_dataset: Optional[int] = None     # sample on the first N training tasks of each dataset (null: data.limit_train)
    rejection_sft: bool = False                 # a rejection-sampling SFT round before the DPO iterations
    offline_fallback: bool = True               # no on-policy pairs -> offline successes vs this round's failures
    verifier: Optional[str] = None              # a verifier dir | auto (an earlier stage's): ranks rollouts
    dpo: Dict[str, Any] = field(default_factory=dict)   # overrides of copilot.stages.dpo.Config
    sft: Dict[str, Any] = field(default_factory=dict)   # overrides of copilot.stages.sft.Config
    extra_stores: list = field(default_factory=list)    # offline trajectory stores (relative: to the run dir)


def sub_config(cls: type, overrides: dict[str, Any], key: str, stage: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise StageInputError(f"stage {stage!r}: {key}.{unknown[0]} is not a key of {cls.__module__}.Config; "
                              f"valid keys are {sorted(known)}")
    return cls(**overrides)


# ------------------------------------------------------------------------------------------ scoring hook
def rollout_scores(trajectories: list, verifier: str | None) -> dict:
    """(task_id, policy, rollout_index) -> the score that ranks rollouts of one task.

    Without a verifier: the reward's score (correctness + format), computed by the episode with reward.score.
    With `verifier` (a saved verifier dir): its P(YES) (verifier.scoring, the paper's
    exp(l_YES) / (exp(l_YES) + exp(l_NO))). Either way the pairs still require the chosen rollout to be correct
    and the rejected one incorrect: the score only picks WHICH correct / incorrect rollouts are paired.
    """
    from copilot.sampling.trajectory_store import trajectory_key

    if verifier is None:
        return {trajectory_key(t): float(t.reward.get("score", 0.0)) for t in trajectories}
    from verifier.scoring import Verifier

    return Verifier.load(verifier).score_trajectories(trajectories)


def check_verifier(verifier: str | None, stage: str) -> None:
    if verifier is not None and not (Path(verifier).expanduser() / "config.json").is_file():
        raise StageInputError(f"stage {stage!r}: verifier = {verifier!r} is not a saved model dir (no config.json); "
                              f"train one with a verifier stage, or set verifier: null to rank rollouts by the "
                              f"correctness reward")


# ------------------------------------------------------------------------------------------ one round
def first_per_dataset(tasks: list, n: int) -> list:
    """The first n tasks of each dataset, in the given order."""
    seen: dict[str, int] = {}
    kept = []
    for task in tasks:
        seen[task.dataset] = seen.get(task.dataset, 0) + 1
        if seen[task.dataset] <= n:
            kept.append(task)
    return kept


def sample_round(cfg, knobs: Config, model_dir: str, round_dir: Path, tasks: list, name: str) -> list:
    """K rollouts per task with the model at model_dir, into round_dir/trajectories.jsonl (resumable)."""
    from copilot.policies import make_policy
    from copilot.sampling.trajectory_store import TrajectoryStore

    store = TrajectoryStore(round_dir / "trajectories.jsonl")
    policy_name = f"hf:{name}"
    done = store.done_keys()
    jobs = [(task, r) for task in tasks for r in range(knobs.k) if (task.id, policy_name, r) not in done]
    if jobs:
        dtype = (cfg.get("model") or {}).get("dtype")
        policy = make_policy("hf", model_path=model_dir, dtype=None if dtype in (None, "auto") else str(dtype),
                             max_new_tokens=knobs.max_new_tokens, batch_size=knobs.batch_size, name=policy_name)
        try:
            with open_sandbox(cfg, dataset_dirs(cfg, "train")) as backend:
                play_episodes(jobs, policy, backend, episode_settings(cfg), store, temperature=knobs.temperature,
                              max_new_tokens=knobs.max_new_tokens, batch_size=knobs.batch_size,
                              step_workers=knobs.step_workers, desc=f"idpo {name}: sampling")
        finally:
            policy.close()
    wanted = {task.id for task in tasks}
    return [t for t in store if t.policy == policy_name and t.task_id in wanted]


def round_pairs(rollouts: list, offline: list, knobs: Config, name: str) -> tuple[list, str, str]:
    """(pair rows, source, reason): on-policy pairs, else the offline fallback, else none with the reason."""
    scores = rollout_scores(rollouts, knobs.verifier)
    rows = dpo_stage.correct_vs_incorrect_rows(rollouts, scores)
    correct = sum(1 for t in rollouts if t.reward.get("correct") is True)
    summary = f"{correct} of {len(rollouts)} rollouts correct"
    if rows:
        return rows, "on_policy", summary
    if not knobs.offline_fallback:
        return [], "none", f"no on-policy pairs ({summary}) and offline_fallback is off"
    successes = [t for t in offline if t.reward and t.reward.get("correct") is True]
    if not successes:
        return [], "none", (f"no on-policy pairs ({summary}) and no offline successes to fall back on "
                            f"(inputs['trajectories'] / extra_stores)")
    # Offline successes only win where this round has no correct rollout, so these pairs are exactly
    # "stronger policy's success vs the current model's failure on the same task".
    rows = dpo_stage.correct_vs_incorrect_rows(successes + rollouts)
    if not rows:
        return [], "none", (f"no on-policy pairs ({summary}) and no task has both an offline success and a "
                            f"failure of this round")
    log.warning("idpo %s: no on-policy pairs (%s); falling back to %d offline pairs", name, summary, len(rows))
    return rows, "offline_fallback", summary


def finish_round(round_dir: Path, summary: dict[str, Any], writer) -> dict[str, Any]:
    writer.log({f"idpo/{k}": v for k, v in summary.items() if isinstance(v, (int, float, bool))} |
               {"idpo/round": summary["round"], "idpo/pair_source": summary.get("pair_source", "")})
    tmp = round_dir / (DONE + ".partial")
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    tmp.replace(round_dir / DONE)
    return summary


def dpo_round(cfg, knobs: Config, model_dir: str, round_dir: Path, tasks: list, offline: list, stage: str,
              writer) -> dict[str, Any]:
    name = round_dir.name
    rollouts = sample_round(cfg, knobs, model_dir, round_dir, tasks, name)
    rows, source, reason = round_pairs(rollouts, offline, knobs, name)
    summary: dict[str, Any] = {"round": name, "model_in": model_dir, "rollouts": len(rollouts),
                               "correct": sum(1 for t in rollouts if t.reward.get("correct") is True),
                               "pairs": len(rows), "pair_source": source, "detail": reason}
    if not rows:
        log.warning("idpo %s: SKIPPED, model carried over unchanged: %s", name, reason)
        return finish_round(round_dir, {**summary, "skipped": True, "model_out": model_dir}, writer)
    dpo_knobs = sub_config(dpo_stage.Config, knobs.dpo, "dpo", stage)
    trained = dpo_stage.train_dpo(cfg, {"model": Path(model_dir)}, round_dir, dpo_knobs,
                                  dpo_stage.pairs_dataset(rows), job_type="idpo")
    return finish_round(round_dir, {**summary, "skipped": False, "model_out": trained["model"],
                                    "global_step": trained["global_step"]}, writer)


def rejection_sft_round(cfg, knobs: Config, model_dir: str, round_dir: Path, tasks: list, stage: str,
                        writer) -> dict[str, Any]:
    from copilot.sampling.converters import sft_dataset

    rollouts = sample_round(cfg, knobs, model_dir, round_dir, tasks, round_dir.name)
    if knobs.verifier is not None:   # rejection sampling: the verifier's top-scored success of each task
        from verifier.selection import rejection_sample

        dataset = sft_dataset(rejection_sample(rollouts, rollout_scores(rollouts, knobs.verifier), per_task=1))
    else:
        dataset = sft_dataset(rollouts)
    summary: dict[str, Any] = {"round": round_dir.name, "model_in": model_dir, "rollouts": len(rollouts),
                               "correct": len(dataset)}
    if len(dataset) == 0:
        reason = f"none of the {len(rollouts)} rollouts is correct: nothing to fine-tune on"
        log.warning("idpo %s: SKIPPED, model carried over unchanged: %s", round_dir.name, reason)
        return finish_round(round_dir, {**summary, "skipped": True, "detail": reason, "model_out": model_dir}, writer)
    if all(row is None for row in dataset["tools"]):
        dataset = dataset.remove_columns("tools")
    sft_knobs = sub_config(sft_stage.Config, knobs.sft, "sft", stage)
    trained = sft_stage.train_sft(cfg, {"model": Path(model_dir)}, round_dir, sft_knobs, dataset, job_type="idpo")
    return finish_round(round_dir, {**summary, "skipped": False, "model_out": trained["model"],
                                    "global_step": trained["global_step"]}, writer)


# ------------------------------------------------------------------------------------------ the stage
def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from copilot.run_metrics import MetricsWriter

    knobs: Config = stage_settings(cfg, Config)
    stage = str(cfg.stage.get("name", "idpo"))
    positive("iterations", stage, knobs.iterations)
    positive("k", stage, knobs.k)
    positive("batch_size", stage, knobs.batch_size)
    positive("tasks_per_dataset", stage, knobs.tasks_per_dataset, allow_none=True)
    if knobs.temperature <= 0:
        raise StageInputError(f"stage {stage!r}: temperature = {knobs.temperature}; iterative DPO needs diverse "
                              f"rollouts, expected > 0")
    if knobs.verifier == "auto":   # the verifier an earlier stage trained, if any
        knobs.verifier = str(inputs["verifier"]) if inputs.get("verifier") is not None else None
    check_verifier(knobs.verifier, stage)
    sub_config(dpo_stage.Config, knobs.dpo, "dpo", stage)     # fail fast on a misspelt override
    sub_config(sft_stage.Config, knobs.sft, "sft", stage)
    out_dir = Path(out_dir)
    model_dir = model_source(cfg, inputs)
    tasks = task_list(cfg, "train", "train", "limit_train")
    if knobs.tasks_per_dataset is not None:
        tasks = first_per_dataset(tasks, knobs.tasks_per_dataset)
    has_offline = inputs.get("trajectories") is not None or bool(knobs.extra_stores)
    offline = sft_stage.load_all(sft_stage.trajectory_paths(inputs, knobs.extra_stores, out_dir, stage), stage) \
        if has_offline else []
    rounds = (["rejection_sft"] if knobs.rejection_sft else []) + [f"iter_{i}" for i in range(knobs.iterations)]
    writer = MetricsWriter(out_dir, cfg)
    try:
        for name in rounds:
            round_dir = out_dir / name
            if (round_dir / DONE).is_file():
                summary = json.loads((round_dir / DONE).read_text(encoding="utf-8"))
                log.info("idpo %s: already done (%s)", name, summary.get("detail", ""))
            else:
                round_dir.mkdir(parents=True, exist_ok=True)
                if name == "rejection_sft":
                    summary = rejection_sft_round(cfg, knobs, model_dir, round_dir, tasks, stage, writer)
                else:
                    summary = dpo_round(cfg, knobs, model_dir, round_dir, tasks, offline, stage, writer)
            model_dir = str(summary["model_out"])
    finally:
        writer.close()
    return {"model": Path(model_dir)}
