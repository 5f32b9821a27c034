"""Stage `evaluate`: greedy episodes on held-out tasks -> success rate per dataset (eval.json + eval.md).

    stages: [{kind: evaluate, name: eval_after, policy: hf, label: after}]
    outputs = run(cfg, {"model": model_dir?}, out_dir)          # -> {"eval": out_dir/eval.json}

- Tasks: the "test" split of every dir in cfg.data.test (a relative dir that does not exist is also looked
  up under cfg.data.offline_root), the first cfg.data.limit_test tasks of each when set.
- Policy: "hf" (default) = inputs["model"], else cfg.model.name_or_path, run locally with transformers
  (fp32 on CPU, bf16 on GPU, generation in eval() mode: copilot.policies.hf_local_policy); "expert" = the
  reference-solution policy, a sanity row whose SR must be 1.0 on offline packs.
- Episodes: temperature 0, one rollout per task, cfg.episode settings, the sandbox of cfg.sandbox. They run
  `batch_size` at a time in lockstep (copilot.agent.batched_rollout: one generate_batch per turn) and are
  appended to out_dir/trajectories.jsonl as each batch finishes; a re-run skips the episodes already there.
- Output: eval.json {"success_rate", "n", "correct", "overall", "macro", "model", "policy", "label",
  "wall_s", ...} and eval.md (copilot.evaluation.success_rate); a tqdm bar while episodes run; one metrics
  line with the SRs.

`open_sandbox`, `episode_settings`, `task_list` and `play_episodes` are shared with the idpo stage.

Simplified / not protected against: no Pass@K / Best@K (evaluation issue); the whole batch waits for its
slowest episode; a model too large for the machine fails in transformers, not here.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot.stages.model_loading import StageInputError, model_source, positive, stage_settings

log = logging.getLogger(__name__)

POLICIES = ("hf", "expert")
TRAJECTORIES = "trajectories.jsonl"


@dataclass
class Config:
    policy: str = "hf"                # hf | expert
    label: str | None = None          # the row name in eval.md (default: the model dir's name)
    split: str = "test"
    max_new_tokens: int = 512
    batch_size: int = 8               # episodes stepped together (rows per generate call)
    step_workers: int = 2             # threads running the sandbox steps of one turn


# ------------------------------------------------------------------------------- shared with idpo
def episode_settings(cfg):
    from omegaconf import OmegaConf

    from copilot.agent.episode import EpisodeSettings

    node = cfg.get("episode") or {}
    options = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    known = {f.name for f in dataclasses.fields(EpisodeSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise StageInputError(f"episode.{unknown[0]}: unknown key; EpisodeSettings fields are {sorted(known)}")
    try:
        return EpisodeSettings(**options).validate()
    except ValueError as err:
        raise StageInputError(f"episode: {err}") from err


def dataset_dirs(cfg, key: str) -> list[Path]:
    """cfg.data.<key> entries as existing directories (also tried under cfg.data.offline_root)."""
    data = cfg.get("data") or {}
    entries = list(data.get(key) or [])
    if not entries:
        raise StageInputError(f"data.{key} is empty; list dataset or offline pack directories to use")
    root = Path(str(data.get("offline_root") or "data/offline"))
    dirs = []
    for i, entry in enumerate(entries):
        path = Path(str(entry)).expanduser()
        if not path.is_dir() and not path.is_absolute() and (root / path).is_dir():
            path = root / path
        if not path.is_dir():
            raise StageInputError(f"data.{key}[{i}]: {entry!r} is not a directory (nor under data.offline_root "
                                  f"{root}); build the offline packs or point it to a dataset dir")
        dirs.append(path.resolve())
    return dirs


def task_list(cfg, key: str, split: str, limit_key: str) -> list:
    """The tasks of `split` of every dir in cfg.data.<key>, the first cfg.data.<limit_key> of each."""
    import copilot.tasks

    limit = (cfg.get("data") or {}).get(limit_key)
    if limit is not None:
        positive(f"data.{limit_key}", "data", limit)
    tasks = []
    for path in dataset_dirs(cfg, key):
        loaded = copilot.tasks.load(path, split)
        if not loaded:
            raise StageInputError(f"data.{key}: {path} has no {split!r} tasks")
        tasks.extend(loaded[:limit] if limit is not None else loaded)
    return tasks


def open_sandbox(cfg, roots: list[Path]):
    """The sandbox of cfg.sandbox; the process backend gets the task dirs as data roots and the reward's
    preloaded modules (so its warm workers never need recycling mid-run)."""
    from omegaconf import OmegaConf

    from sandbox import open_backend

    node = cfg.get("sandbox") or {}
    kind = str(node.get("kind", "process"))
    options_node = node.get("options") or {}
    options = OmegaConf.to_container(options_node, resolve=True) if OmegaConf.is_config(options_node) \
        else dict(options_node)
    if kind == "process":
        from reward.serve import REWARD_PRELOAD, available_modules

        options["data_roots"] = sorted({str(p) for p in [*(options.get("data_roots") or []), *roots]})
        options.setdefault("preload", available_modules(REWARD_PRELOAD))
    try:
        return open_backend(kind, **options)
    except (TypeError, ValueError) as err:
        raise StageInputError(f"sandbox: {kind!r} with options {sorted(options)}: {err}") from err


def play_episodes(jobs: list[tuple], policy, backend, settings, store, *, temperature: float,
                  max_new_tokens: int | None, batch_size: int, step_workers: int, desc: str) -> int:
    """Run (task, rollout_index) jobs `batch_size` at a time, appending each trajectory to `store`."""
    from tqdm import tqdm

    try:
        from copilot.agent.batched_rollout import run_episodes_batched
    except ImportError:   # batched rollouts not installed: one episode at a time, same results
        run_episodes_batched = None
    successes = 0
    with tqdm(total=len(jobs), desc=desc, unit="episode", dynamic_ncols=True) as bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            if run_episodes_batched is not None:
                trajectories = run_episodes_batched(chunk, policy, backend, settings, temperature=temperature,
                                                    max_new_tokens=max_new_tokens, step_workers=step_workers)
            else:
                from copilot.agent.rollout import run_episode

                trajectories = [run_episode(task, policy, backend, settings, rollout_index=index,
                                            temperature=temperature, max_new_tokens=max_new_tokens)
                                for task, index in chunk]
            for trajectory in trajectories:
                trajectory.meta["sampling"] = {"temperature": temperature}
                store.append(trajectory)
                successes += int(bool(trajectory.reward) and trajectory.reward.get("correct") is True)
            bar.update(len(chunk))
            bar.set_postfix_str(f"ok {successes}/{bar.n}")
    return successes


def make_policy_for(cfg, inputs: dict[str, Path], knobs: Config, name: str):
    from copilot.policies import make_policy

    if knobs.policy == "expert":
        settings = episode_settings(cfg)
        return make_policy("expert", action_format=settings.action_format), "expert (reference solutions)"
    source = model_source(cfg, inputs)
    dtype = (cfg.get("model") or {}).get("dtype")
    policy = make_policy("hf", model_path=source, dtype=None if dtype in (None, "auto") else str(dtype),
                         max_new_tokens=knobs.max_new_tokens, batch_size=knobs.batch_size, name=name)
    return policy, source


# ------------------------------------------------------------------------------------------- the stage
def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from copilot.evaluation.success_rate import success_rates, write_eval
    from copilot.run_metrics import MetricsWriter
    from copilot.sampling.trajectory_store import TrajectoryStore

    knobs: Config = stage_settings(cfg, Config)
    stage = str(cfg.stage.get("name", "evaluate"))
    if knobs.policy not in POLICIES:
        raise StageInputError(f"stage {stage!r}: policy = {knobs.policy!r}; expected one of {list(POLICIES)}")
    for key in ("max_new_tokens", "batch_size", "step_workers"):
        positive(key, stage, getattr(knobs, key))
    out_dir = Path(out_dir)
    settings = episode_settings(cfg)
    tasks = task_list(cfg, "test", knobs.split, "limit_test")
    # The policy name keys the stored rollouts: the stage name keeps "before" and "after" rows apart.
    policy, model = make_policy_for(cfg, inputs, knobs, name=f"{knobs.policy}:{stage}")
    label = knobs.label or (Path(model).name if knobs.policy == "hf" else "expert")
    store = TrajectoryStore(out_dir / TRAJECTORIES)
    done = store.done_keys()
    jobs = [(task, 0) for task in tasks if (task.id, policy.name, 0) not in done]
    if len(jobs) < len(tasks):
        log.info("stage %s: %d of %d episodes already in %s", stage, len(tasks) - len(jobs), len(tasks), store.path)
    started = time.perf_counter()
    try:
        if jobs:
            with open_sandbox(cfg, dataset_dirs(cfg, "test")) as backend:
                play_episodes(jobs, policy, backend, settings, store, temperature=0.0,
                              max_new_tokens=knobs.max_new_tokens, batch_size=knobs.batch_size,
                              step_workers=knobs.step_workers, desc=f"evaluate {label}")
    finally:
        policy.close()
    wanted = {task.id for task in tasks}
    trajectories = [t for t in store if t.task_id in wanted and t.policy == policy.name]
    result = success_rates(trajectories, model=str(model), policy=policy.name, label=label, split=knobs.split,
                           wall_s=round(time.perf_counter() - started, 2), episodes_run=len(jobs))
    json_path, _ = write_eval(result, out_dir, label)
    writer = MetricsWriter(out_dir, cfg)
    writer.log({"eval/overall": result["overall"], "eval/macro": result["macro"],
                **{f"eval/{name}": rate for name, rate in result["success_rate"].items()}})
    writer.close()
    log.info("stage %s: SR %s overall %.3f", stage, result["success_rate"], result["overall"])
    # The episodes stay in out_dir/trajectories.jsonl but are NOT an output: "trajectories" would replace the
    # training store of later stages with held-out test episodes.
    return {"eval": json_path}
