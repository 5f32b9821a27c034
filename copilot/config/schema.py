"""Dataclass schemas of the run config's top-level nodes (the issue-5 contract; recipes/config.yaml composes them).

The validator (copilot.config.validation) reads the field types: `Literal[...]` = a choice (an error lists
the valid ones), `Optional[X]` = X or null, `List[X]` / `Dict[str, X]` checked per element. Stage nodes
are not here: each stage kind's keys are the `Config` dataclass of its module (copilot.stages registry).
`episode` keys are `copilot.agent.episode.EpisodeSettings` fields.

Additions to the contract (optional keys, all defaulted): model.prepare_command (the command that creates a
local model dir, quoted in the "missing model path" error); top-level force_stage / allow_config_change
(pipeline resume controls, set with `+force_stage=NAME` / `+allow_config_change=true`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Union

MISSING_VALUE = "???"


@dataclass
class RunSection:
    name: str
    root: str = "runs"
    seed: int = 0


@dataclass
class LoraSection:
    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: Union[str, List[str]] = "all-linear"


@dataclass
class ModelSection:
    name_or_path: str
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    chat_template: Optional[str] = None
    attn_implementation: Optional[str] = None
    trust_remote_code: bool = False
    lora: LoraSection = field(default_factory=LoraSection)
    prepare_command: Optional[str] = None


Verdict = Literal["gradable", "ungradable", "label_disputed", "needs_data", "malformed"]   # copilot.tasks.audit


@dataclass
class DataSection:
    offline_root: str = "data/offline"
    train: List[str] = field(default_factory=list)
    test: List[str] = field(default_factory=list)
    limit_train: Optional[int] = None
    limit_test: Optional[int] = None
    audit: Optional[str] = None          # audit.jsonl of `python -m copilot.tasks.audit` (copilot.tasks.task_selection)
    exclude: List[Verdict] = field(default_factory=lambda: ["ungradable", "label_disputed"])


@dataclass
class TasksSection:
    on_malformed: Literal["error", "skip"] = "error"     # skip: load the rest of a split, listing what was skipped


@dataclass
class SandboxSection:
    kind: Literal["process", "docker", "http"] = "process"
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class WandbSection:
    mode: Literal["offline", "online", "disabled"] = "offline"
    project: str = "med-copilot"
    entity: Optional[str] = None


@dataclass
class LoggerSection:
    wandb: WandbSection = field(default_factory=WandbSection)


@dataclass
class ClusterSection:
    launcher: Literal["python", "accelerate"] = "python"
    num_processes: int = 1
    accelerate_config: Optional[str] = None
    deepspeed: Optional[str] = None


@dataclass
class RecipeSection:
    name: str
    description: str = ""
    stages: List[Dict[str, Any]] = field(default_factory=list)   # each checked against its kind's Config


@dataclass
class RunConfig:
    run: RunSection
    model: ModelSection
    data: DataSection
    sandbox: SandboxSection
    logger: LoggerSection
    cluster: ClusterSection
    recipe: RecipeSection
    tasks: TasksSection = field(default_factory=TasksSection)
    episode: Dict[str, Any] = field(default_factory=dict)         # checked against EpisodeSettings
    force_stage: Optional[str] = None
    allow_config_change: bool = False
