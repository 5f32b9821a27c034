"""Tasks: the `Task` type and the loaders that read MedAgentGym datasets and offline packs into it.

    from copilot import tasks
    train = tasks.load("data/mimic_iii", split="train")      # release layout: data/<dataset>/...
    test = tasks.load("data/offline/ehr_sql", split="test")   # offline pack: format from its pack.json

A directory's format comes from its pack.json ("format") when it has one, else from its own name; see
`LOADERS` for the names. Importing this package is light: loaders are imported when first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from copilot.tasks.task import Task, TaskFormatError

# dataset format -> "module:function" of its loader; each loader reads one split of one directory.
LOADERS: dict[str, str] = {
    "mimic_iii": "copilot.tasks.loaders.ehrsql_loader:load_mimic_iii",
    "eicu": "copilot.tasks.loaders.ehrsql_loader:load_eicu",
    "treqs": "copilot.tasks.loaders.ehrsql_loader:load_treqs",
    "ehr_seqsql": "copilot.tasks.loaders.ehrsql_loader:load_ehr_seqsql",
    "ehrcon": "copilot.tasks.loaders.ehrcon_loader:load_ehrcon",
    "medcalcbench": "copilot.tasks.loaders.medcalc_loader:load_medcalcbench",
    "npowerai": "copilot.tasks.loaders.npowerai_loader:load_npowerai",
    "biocoder": "copilot.tasks.loaders.biocoder_loader:load_biocoder",
    "biodsbench": "copilot.tasks.loaders.biodsbench_loader:load_biodsbench",
    "medagentbench": "copilot.tasks.loaders.medagentbench_loader:load_medagentbench",
    "ehrshot": "copilot.tasks.loaders.ml_prediction_loader:load_ehrshot",
    "mimic_extract": "copilot.tasks.loaders.ml_prediction_loader:load_mimic_extract",
}

__all__ = ["LOADERS", "Task", "TaskDataMissingError", "TaskFormatError", "TaskList", "available_splits",
           "get_loader", "load", "open_dataset"]


def get_loader(fmt: str) -> Callable:
    if fmt not in LOADERS:
        raise KeyError(f"no loader for format {fmt!r}; known formats: {sorted(LOADERS)}")
    module_name, func_name = LOADERS[fmt].split(":")
    return getattr(importlib.import_module(module_name), func_name)


class TaskList(list):
    """The tasks of one split (a plain list) plus `skipped`: the malformed records left out under
    on_malformed="skip" (`SkippedRecord`s: "<file>:<line>" and the error), empty otherwise."""

    def __init__(self, tasks=(), skipped=()):
        super().__init__(tasks)
        self.skipped = list(skipped)


def open_dataset(path: str | Path, *, require_resources: bool = True, on_malformed: str = "error"):
    """The `DatasetDir` for `path` (its format, Task.dataset name and pack manifest)."""
    from copilot.tasks.loaders.release_layout import open_dataset_dir

    return open_dataset_dir(path, tuple(LOADERS), require_resources=require_resources, on_malformed=on_malformed)


def load(path: str | Path, split: str = "train", *, require_resources: bool = True,
         on_malformed: str = "error") -> TaskList:
    """All tasks of one split ("train" or "test") of a dataset directory or offline pack.

    require_resources=False lists tasks even when the data files they mount (EHR tables, features) are not
    installed; their resources then hold only the files that exist. Task files are always required.
    on_malformed="error" (default): the first malformed record raises TaskFormatError naming file, line and
    field. "skip": malformed records are left out, each logged as a warning and listed in the result's
    `skipped`; a missing or non-UTF-8 file is still an error.
    """
    dataset = open_dataset(path, require_resources=require_resources, on_malformed=on_malformed)
    dataset.task_file(split)   # fail early, naming the file and what to download, before any parsing
    loaded = get_loader(dataset.format)(dataset, split)
    return TaskList(loaded, dataset.skipped)


def available_splits(path: str | Path) -> list[str]:
    """The splits whose task file exists in `path` (e.g. ["train", "test"]; EHRSHOT has only "test")."""
    return open_dataset(path, require_resources=False).available_splits()


def __getattr__(name: str):
    # TaskDataMissingError lives with the layout code; exposing it lazily keeps `import copilot.tasks` light.
    if name == "TaskDataMissingError":
        from copilot.tasks.loaders.release_layout import TaskDataMissingError

        return TaskDataMissingError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
