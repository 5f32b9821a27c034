"""`python -m copilot.sample`: sample tasks x K rollouts into a trajectory store (Hydra; recipes/sample.yaml).

    python -m copilot.sample tasks.path=data/offline/ehr_sql policy.kind=expert k=4 store=runs/s/ehr_sql.jsonl

Rerunning the same command resumes: rollouts already in the store are skipped, never duplicated. Next to
the store it writes `<store stem>.sample_config.yaml` (the fully resolved config) and appends the exact
command line to `<store stem>.sample_commands.txt`. Resuming a store with a different policy, temperature,
episode settings or task set is an error (the store would mix two experiments) unless
allow_config_change=true; changing k, limit, workers or the sandbox is fine.

Configs are validated against the structured `SampleConfig`: a misspelt key fails naming the key. The
free-form maps take new keys with Hydra's "+" (`+policy.options.model=...`, `+episode.max_turns=10`);
`episode` keys are checked against `EpisodeSettings`, policy / sandbox options by the class they configure. At the end it prints the statistics table and one JSON
line with the run summary.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

log = logging.getLogger("copilot.sample")

# Settings that define what a stored trajectory means; resuming with different values would mix experiments.
IDENTITY_KEYS = ("tasks.path", "tasks.split", "policy", "temperature", "episode")


@dataclass
class TasksConfig:
    path: str = MISSING
    split: str = "train"
    limit: Optional[int] = None
    on_malformed: str = "error"            # skip: load the rest of the split, listing each malformed record
    audit: Optional[str] = None            # an audit.jsonl (python -m copilot.tasks.audit): leave out `exclude`
    exclude: List[str] = field(default_factory=lambda: ["ungradable", "label_disputed"])


@dataclass
class PolicyConfig:
    kind: str = "expert"
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ParallelConfig:
    backend: str = "joblib"
    prefer: str = "processes"
    workers: int = 2


@dataclass
class SandboxConfig:
    kind: str = "process"
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleConfig:
    tasks: TasksConfig = field(default_factory=TasksConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    k: int = 4
    temperature: float = 0.6
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    episode: Dict[str, Any] = field(default_factory=dict)
    store: str = "runs/sample/trajectories.jsonl"
    allow_config_change: bool = False
    progress: bool = True


ConfigStore.instance().store(name="sample_schema", node=SampleConfig)


class SampleConfigError(ValueError):
    """A sampling config value is wrong (names the key and what was expected)."""


def episode_settings(options: dict[str, Any]):
    from copilot.agent.episode import EpisodeSettings

    known = {f.name for f in dataclasses.fields(EpisodeSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SampleConfigError(f"episode.{unknown[0]}: unknown key; EpisodeSettings fields are {sorted(known)}")
    return EpisodeSettings(**options)


def side_files(store: Path) -> tuple[Path, Path]:
    return (store.parent / f"{store.stem}.sample_config.yaml", store.parent / f"{store.stem}.sample_commands.txt")


def check_and_save_config(cfg: dict[str, Any], store: Path, command: str) -> None:
    """Refuse to resume with a different experiment; then save the resolved config and the command."""
    config_path, commands_path = side_files(store)
    if config_path.exists() and store.exists() and store.stat().st_size > 0:
        previous = OmegaConf.to_container(OmegaConf.load(config_path), resolve=True)
        changed = [key for key in IDENTITY_KEYS
                   if OmegaConf.select(OmegaConf.create(previous), key) != OmegaConf.select(OmegaConf.create(cfg), key)]
        if changed and not cfg["allow_config_change"]:
            raise SampleConfigError(
                f"store {store} was sampled with different {', '.join(changed)} (see {config_path}); use a new "
                f"store path, or set allow_config_change=true to mix them knowingly")
    store.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
    with open(commands_path, "a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\tcwd={Path.cwd()}\t{command}\n")


def run(cfg: dict[str, Any], command: str = "") -> dict[str, Any]:
    """Everything after config parsing (also callable from Python with a plain dict)."""
    from copilot.sampling.rollouts import PARALLEL_BACKENDS, BackendFactory, PolicyFactory, sample
    from copilot.sampling.statistics import dataset_statistics, print_table
    from copilot.sampling.trajectory_store import TrajectoryStore
    from copilot.tasks.task_selection import DataSelectionError, select_tasks
    from sandbox import BACKENDS

    if cfg["k"] < 1:
        raise SampleConfigError(f"k: {cfg['k']} must be >= 1")
    if cfg["tasks"]["limit"] is not None and cfg["tasks"]["limit"] < 1:
        raise SampleConfigError(f"tasks.limit: {cfg['tasks']['limit']} must be >= 1 or null")
    # an absolute path, so that resuming from another directory is recognised as the same task set
    cfg["tasks"]["path"] = str(Path(cfg["tasks"]["path"]).resolve())
    choices = {"parallel.backend": PARALLEL_BACKENDS, "parallel.prefer": ("processes", "threads"),
               "sandbox.kind": tuple(BACKENDS)}
    for key, allowed in choices.items():
        value = OmegaConf.select(OmegaConf.create(cfg), key)
        if value not in allowed:
            raise SampleConfigError(f"{key}: {value!r} is unknown; expected one of {list(allowed)}")
    if cfg["parallel"]["workers"] < 1:
        raise SampleConfigError(f"parallel.workers: {cfg['parallel']['workers']} must be >= 1")
    settings = episode_settings(cfg["episode"])
    policy_factory = PolicyFactory(cfg["policy"]["kind"], cfg["policy"]["options"])
    sandbox_options = dict(cfg["sandbox"]["options"])
    if cfg["sandbox"]["kind"] == "process":
        # mount roots known up front, so the warm sandbox workers are never recycled mid-run
        sandbox_options.setdefault("data_roots", [str(Path(cfg["tasks"]["path"]).resolve())])
    backend_factory = BackendFactory(cfg["sandbox"]["kind"], sandbox_options)

    selected = cfg["tasks"]
    if selected["on_malformed"] not in ("error", "skip"):
        raise SampleConfigError(f"tasks.on_malformed: {selected['on_malformed']!r}; expected 'error' or 'skip'")
    try:
        task_list = select_tasks({"train": [selected["path"]], "audit": selected["audit"],
                                  "exclude": selected["exclude"]}, "train", selected["split"], selected["limit"],
                                 on_malformed=selected["on_malformed"]).tasks
    except DataSelectionError as err:
        raise SampleConfigError(str(err).replace("data.train", "tasks.path").replace("data.", "tasks.")) from err
    store_path = Path(cfg["store"])
    check_and_save_config(cfg, store_path, command)
    store = TrajectoryStore(store_path)
    summary = sample(task_list, policy_factory, backend_factory, settings, cfg["k"], store,
                     temperature=cfg["temperature"], parallel=cfg["parallel"]["backend"],
                     workers=cfg["parallel"]["workers"], prefer=cfg["parallel"]["prefer"],
                     progress=cfg["progress"])
    task_ids = {t.id for t in task_list}
    print_table(dataset_statistics(t for t in store if t.task_id in task_ids))
    result = {"store": str(store_path), **summary.to_dict()}
    print(json.dumps(result))
    return result


@hydra.main(version_base=None, config_path="../recipes", config_name="sample")
def main(cfg) -> None:
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "copilot.sample", *sys.argv[1:]])
    run(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True), command)


if __name__ == "__main__":
    main()
