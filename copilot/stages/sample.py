"""Stage `sample`: K rollouts per task into out_dir/trajectories.jsonl (copilot.sampling.rollouts.sample).

    stages: [{kind: sample, name: sample_expert, policy: expert, k: 1}]
            [{kind: sample, name: sample_sft, policy: model, k: 4, temperature: 0.8}]
    outputs = run(cfg, inputs, out_dir)         # -> {"trajectories": out_dir/trajectories.jsonl}

- policy "expert": the reference-solution policy (copilot.policies.expert_policy), in cfg.episode's
  action_format; "model": the current model through the hf policy -- inputs["model"] (the last training
  stage's hand-off) or else cfg.model.name_or_path (a local dir); "openai" / "replay": those policy kinds
  with `policy_options` (e.g. {base_url, model}).
- Tasks: every dir of cfg.data.train (split "train") or cfg.data.test (split "test"), first
  `limit` tasks of each (null = cfg.data.limit_train / limit_test).
- The store is append-only and keyed (task, policy, rollout): a re-run of an interrupted stage continues
  where it stopped, never duplicating a rollout.
- Metrics: the sampling summary and the per-dataset success counts of this stage's tasks.

Not protected against: a model too big for the machine (the hf policy loads it whole); with
parallel=joblib and policy=model each worker process loads its own copy of the model (use serial or
threads for a local model on a small machine, as the demo does).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Literal, Optional

log = logging.getLogger(__name__)

STORE_FILE = "trajectories.jsonl"


@dataclass
class Config:
    policy: Literal["expert", "model", "openai", "replay"] = "expert"
    policy_options: Dict[str, Any] = field(default_factory=dict)
    split: Literal["train", "test"] = "train"
    limit: Optional[int] = None         # per dataset dir; null = cfg.data.limit_train / limit_test
    k: int = 4
    temperature: float = 0.6            # rollout 0 of each task is always greedy
    parallel: Literal["serial", "joblib", "ray"] = "joblib"
    prefer: Literal["processes", "threads"] = "processes"
    workers: int = 2
    progress: bool = True


def load_tasks(cfg, split: str, limit: Optional[int]) -> list:
    """cfg.data's train (or test) tasks, the audit's exclusions applied (data.audit / data.exclude), the first
    `limit` (null: data.limit_train / limit_test) of each dir (copilot.tasks.task_selection)."""
    from copilot.tasks.task_selection import DataSelectionError, select_tasks

    key = "train" if split == "train" else "test"
    if limit is None:
        limit = cfg.data.get(f"limit_{key}")
    on_malformed = str((cfg.get("tasks") or {}).get("on_malformed", "error"))
    try:
        return select_tasks(cfg.data, key, split, limit, on_malformed=on_malformed).tasks
    except DataSelectionError as err:
        raise ValueError(f"stage {cfg.stage.name!r}: {err}") from err


def policy_factory(cfg, inputs: dict[str, Path], knobs: dict[str, Any]):
    from copilot.sampling.rollouts import PolicyFactory

    options = dict(knobs["policy_options"])
    if knobs["policy"] == "expert":
        options.setdefault("action_format", cfg.episode.get("action_format", "json"))
        return PolicyFactory("expert", options)
    if knobs["policy"] == "model":
        source = inputs.get("model") or Path(str(cfg.model.name_or_path)).expanduser()
        options.setdefault("model_path", str(source))
        if cfg.model.dtype != "auto":
            options.setdefault("dtype", str(cfg.model.dtype))
        return PolicyFactory("hf", options)
    return PolicyFactory(knobs["policy"], options)


def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from omegaconf import OmegaConf

    from copilot.agent.episode import EpisodeSettings
    from copilot.run_metrics import MetricsWriter
    from copilot.sampling.rollouts import BackendFactory, sample
    from copilot.sampling.statistics import dataset_statistics, print_table
    from copilot.sampling.trajectory_store import TrajectoryStore

    knobs = OmegaConf.to_container(cfg.stage, resolve=True)
    if knobs["k"] < 1 or knobs["workers"] < 1:
        raise ValueError(f"stage {knobs['name']!r}: k and workers must be >= 1 (got k={knobs['k']}, "
                         f"workers={knobs['workers']})")
    task_list = load_tasks(cfg, knobs["split"], knobs["limit"])
    settings = EpisodeSettings(**OmegaConf.to_container(cfg.episode, resolve=True)).validate()
    sandbox_options = dict(OmegaConf.to_container(cfg.sandbox.options, resolve=True))
    if cfg.sandbox.kind == "process":
        # mount roots known up front, so the warm sandbox workers are never recycled mid-run
        roots = sorted({str(Path(str(d)).expanduser().resolve()) for d in [*cfg.data.train, *cfg.data.test]})
        sandbox_options.setdefault("data_roots", roots)
    store_path = Path(out_dir) / STORE_FILE
    store = TrajectoryStore(store_path)
    summary = sample(task_list, policy_factory(cfg, inputs, knobs), BackendFactory(str(cfg.sandbox.kind),
                     sandbox_options), settings, knobs["k"], store, temperature=knobs["temperature"],
                     parallel=knobs["parallel"], workers=knobs["workers"], prefer=knobs["prefer"],
                     progress=knobs["progress"])
    task_ids = {t.id for t in task_list}
    table = dataset_statistics(t for t in store if t.task_id in task_ids)
    print_table(table)
    writer = MetricsWriter(out_dir, cfg, job_type="sample")
    try:
        writer.log({"event": "summary", **summary.to_dict()})
        for dataset, stats in table.items():
            writer.log({"event": "dataset", "dataset": dataset, **stats})
    finally:
        writer.close()
    return {"trajectories": store_path.resolve()}
