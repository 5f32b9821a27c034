"""Where a dataset's files are: the MedAgentGym release layout (data/<dataset>/...) and offline packs.

A directory is read by the loader of its *format*: pack.json's "format" when the directory holds a
pack.json (offline packs, Task.dataset = the pack name), else the directory's own name (a release dataset).
This module finds the split files, turns an absent file into a `TaskDataMissingError` that says what to
download and where to put it, and lists the files a task may mount.

Not protected against: a release directory whose data files have been edited or swapped; resource files
are checked for existence, not content. Files whose names suggest ground truth (task, answer, label,
solution files) are never offered as resources even when they sit next to the tables.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.tasks.loaders.jsonl_records import JsonlRecord, read_jsonl
from copilot.tasks.task import TaskFormatError

log = logging.getLogger(__name__)

SPLITS = ("train", "test")

# Candidate task files per split, first match wins. MedAgentGym calls mimic_iii / eicu's test split
# "valid"; packs always write train_tasks.jsonl / test_tasks.jsonl, so those are accepted everywhere.
_DEFAULT_SPLIT_FILES = {"train": ("train_tasks.jsonl",), "test": ("test_tasks.jsonl", "valid_tasks.jsonl")}
SPLIT_FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "mimic_iii": {"train": ("train_tasks.jsonl",), "test": ("valid_tasks.jsonl", "test_tasks.jsonl")},
    "eicu": {"train": ("train_tasks.jsonl",), "test": ("valid_tasks.jsonl", "test_tasks.jsonl")},
    "medcalcbench": {"train": ("train_tasks_all.jsonl", "train.jsonl", "train_tasks.jsonl"),
                     "test": ("test_tasks.jsonl", "valid_tasks.jsonl")},
    # EHRSHOT's 15 prediction tasks are one list (task.jsonl); MedAgentGym evaluates them as its test split.
    "ehrshot": {"test": ("task.jsonl",)},
}

# Datasets whose MedAgentGym data derive from credentialed EHR sources.
_CREDENTIALED = {
    "mimic_iii": "MIMIC-III (PhysioNet credentialed access)",
    "eicu": "eICU-CRD (PhysioNet credentialed access)",
    "treqs": "MIMIC-III via TREQS (PhysioNet credentialed access)",
    "ehr_seqsql": "MIMIC-III via EHR-SeqSQL (PhysioNet credentialed access)",
    "ehrcon": "EHRCon / MIMIC-III notes (PhysioNet credentialed access)",
    "mimic_extract": "MIMIC-Extract / MIMIC-III (PhysioNet credentialed access)",
    "ehrshot": "EHRSHOT (Stanford EHRSHOT data use agreement)",
}

_GROUND_TRUTH_NAME = re.compile(r"task|answer|label|solution|split|metadata", re.IGNORECASE)


ON_MALFORMED = ("error", "skip")


@dataclass(frozen=True)
class SkippedRecord:
    """A task record left out under on_malformed="skip": where it is ("<file>:<line>") and what is wrong."""

    source: str
    error: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "error": self.error}


class _RecordGuard:
    def __init__(self, ds: "DatasetDir", record: JsonlRecord):
        self.ds, self.record = ds, record

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is not None and issubclass(kind, TaskFormatError) and self.ds.on_malformed == "skip":
            self.ds._skip(error, self.record)
            return True
        return False


class TaskDataMissingError(FileNotFoundError):
    """A dataset file or directory is absent: the message says what to download and where to put it.

    `missing_path` and `what` name the absent file (for tools such as the stats CLI)."""

    def __init__(self, message: str, missing_path: Path | None = None, what: str = ""):
        super().__init__(message)
        self.missing_path = missing_path
        self.what = what

    def __str__(self) -> str:
        return self.args[0]


def split_files(fmt: str, split: str) -> tuple[str, ...]:
    return SPLIT_FILES.get(fmt, _DEFAULT_SPLIT_FILES).get(split, ())


def download_hint(fmt: str, dataset: str, is_pack: bool) -> str:
    if is_pack:
        return (f"rebuild the offline pack {dataset!r} with `python -m copilot.tasks.packs build "
                f"--out data/offline --seed 0` (it writes data/offline/{dataset}/)")
    source = _CREDENTIALED.get(fmt)
    access = (f"; the {fmt} data need {source}, then request MedAgentGym's preprocessed files from its "
              "authors (medagentgym@gmail.com)" if source else "")
    return (f"download the MedAgentGym {fmt} data (task files from github.com/wshi83/MedAgentGym under "
            f"data/{fmt}/{access}) and put them in data/{fmt}/")


@dataclass(frozen=True)
class DatasetDir:
    """One dataset directory (release layout or offline pack), resolved to the loader that reads it."""

    path: Path
    format: str                       # the loader name ("mimic_iii", "medcalcbench", ...)
    dataset: str                      # Task.dataset: the release name, or the pack name for packs
    pack: dict[str, Any] | None = None
    require_resources: bool = True    # False: list only resources that exist (e.g. for stats)
    on_malformed: str = "error"       # "skip": a malformed record is listed in `skipped`, the rest load
    skipped: list[SkippedRecord] = field(default_factory=list, compare=False, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_pack(self) -> bool:
        return self.pack is not None

    def missing(self, path: Path, what: str, hint: str | None = None) -> TaskDataMissingError:
        hint = hint or download_hint(self.format, self.dataset, self.is_pack)
        return TaskDataMissingError(f"{self.dataset}: {what} not found at {path}: {hint}", path, what)

    def task_file(self, split: str) -> Path:
        if split not in SPLITS:
            raise ValueError(f"split {split!r}: expected one of {SPLITS} (MedAgentGym's 'valid' files are "
                             "its test split)")
        candidates = split_files(self.format, split)
        if not candidates:
            raise ValueError(f"{self.dataset} ({self.path}) has no {split!r} split; available: "
                             f"{self.available_splits()}")
        for name in candidates:
            if (self.path / name).is_file():
                return self.path / name
        raise self.missing(self.path / candidates[0], f"the {split} task file "
                           f"({' or '.join(candidates)})")

    def available_splits(self) -> list[str]:
        return [s for s in SPLITS if any((self.path / n).is_file() for n in split_files(self.format, s))]

    def records(self, split: str) -> Iterator[JsonlRecord]:
        """The records of `split`'s task file; with on_malformed="skip" a line that is not a JSON object is
        listed in `skipped` instead of raising."""
        return read_jsonl(self.task_file(split), self._skip if self.on_malformed == "skip" else None)

    def guard(self, record: JsonlRecord) -> "_RecordGuard":
        """`with ds.guard(record): ...build the task...`: with on_malformed="skip" a TaskFormatError raised
        while building this record's task lists the record in `skipped` and the loader goes on."""
        return _RecordGuard(self, record)

    def _skip(self, error: TaskFormatError, record: JsonlRecord | None = None) -> None:
        source = record.source if record is not None else str(error).split(": ", 1)[0]
        self.skipped.append(SkippedRecord(source=source, error=str(error)))
        log.warning("skipped malformed task record (on_malformed=skip): %s", error)

    def task_id(self, split: str, index: int) -> str:
        return f"{self.dataset}/{split}/{index}"

    def require(self, path: Path, what: str, hint: str | None = None) -> Path | None:
        """`path` if it exists; else raise (require_resources) or return None (listing mode)."""
        if path.exists():
            return path
        if self.require_resources:
            raise self.missing(path, what, hint)
        return None

    def inside(self, relative: str, where: str) -> Path:
        """`relative` resolved under the dataset dir; a path escaping it is a format error."""
        candidate = (self.path / relative).resolve()
        root = self.path.resolve()
        if candidate != root and root not in candidate.parents:
            raise TaskFormatError(f"{where}: path {relative!r} points outside the dataset directory {root}")
        return candidate

    def table_files(self, suffixes: tuple[str, ...]) -> dict[str, str]:
        """Data files (tables, databases) to mount: a pack's declared pack.json "resources" when it has
        them, else the directory's top-level files with these suffixes, never task/answer/label files."""
        key = "tables:" + ",".join(suffixes)
        if key not in self._cache:
            if self.pack is not None and "resources" in self.pack:
                found = self._declared_resources()
            else:
                found = {p.name: str(p.resolve()) for p in sorted(self.path.iterdir())
                         if p.is_file() and p.suffix.lower() in suffixes and not _GROUND_TRUTH_NAME.search(p.stem)}
            if not found and self.require_resources:
                raise self.missing(self.path / f"*{suffixes[0]}",
                                   f"data tables ({', '.join('*' + s for s in suffixes)})")
            self._cache[key] = found
        return dict(self._cache[key])

    def _declared_resources(self) -> dict[str, str]:
        where = f"{self.path / 'pack.json'}: key 'resources'"
        declared = self.pack["resources"]
        if not isinstance(declared, dict):
            raise TaskFormatError(f"{where}: expected an object {{mount name: file in the pack dir}}")
        found = {}
        for name, relative in declared.items():
            if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
                raise TaskFormatError(f"{where}: mount name {name!r}: expected one path segment")
            if not isinstance(relative, str) or relative.endswith((".jsonl", "pack.json")):
                raise TaskFormatError(f"{where}: {name!r} -> {relative!r}: expected a data file, not a task file")
            path = self.require(self.inside(relative, where), f"the pack resource {relative}")
            if path is not None:
                found[name] = str(path)
        return found

    def cached(self, key: str, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def read_pack_manifest(path: Path, known_formats: tuple[str, ...]) -> dict[str, Any]:
    manifest_path = path / "pack.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TaskFormatError(f"{manifest_path}:{exc.lineno}: invalid JSON ({exc.msg}); "
                              "expected a pack manifest object") from None
    if not isinstance(manifest, dict):
        raise TaskFormatError(f"{manifest_path}: expected a JSON object with keys 'pack' and 'format'")
    for key in ("pack", "format"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise TaskFormatError(f"{manifest_path}: key {key!r}: expected a non-empty string; "
                                  f"got {manifest.get(key)!r}")
    if manifest["format"] not in known_formats:
        raise TaskFormatError(f"{manifest_path}: key 'format': expected one of {sorted(known_formats)}; "
                              f"got {manifest['format']!r}")
    return manifest


def open_dataset_dir(path: str | Path, known_formats: tuple[str, ...], *,
                     require_resources: bool = True, on_malformed: str = "error") -> DatasetDir:
    """Resolve `path` to its loader: pack.json's format when present, else the directory name."""
    if on_malformed not in ON_MALFORMED:
        raise ValueError(f"on_malformed={on_malformed!r}: expected one of {ON_MALFORMED}")
    path = Path(path)
    if path.is_file():
        raise TaskFormatError(f"{path} is a file; expected its dataset directory ({path.parent}) and a split "
                              "(load(directory, split='train' or 'test'))")
    if not path.is_dir():
        name = path.name
        hint = (download_hint(name, name, False) if name in known_formats
                else "expected a dataset directory such as data/mimic_iii or an offline pack such as "
                     "data/offline/ehr_sql")
        raise TaskDataMissingError(f"dataset directory {path} not found: {hint}", path, "dataset directory")
    if (path / "pack.json").is_file():
        manifest = read_pack_manifest(path, known_formats)
        return DatasetDir(path=path, format=manifest["format"], dataset=manifest["pack"], pack=manifest,
                          require_resources=require_resources, on_malformed=on_malformed)
    if path.name not in known_formats:
        raise TaskFormatError(f"{path}: unknown dataset directory name {path.name!r} and no pack.json; "
                              f"expected one of {sorted(known_formats)} (MedAgentGym's layout "
                              "data/<dataset>/), or an offline pack directory with a pack.json")
    return DatasetDir(path=path, format=path.name, dataset=path.name, require_resources=require_resources,
                      on_malformed=on_malformed)


def template_from_record(record, natural: Any, keys: tuple[str, ...] = ("template_id", "template")) -> Any:
    """The template id for stats and sampling: a pack's explicit template field (first of `keys` present),
    else the dataset's own natural grouping (`natural`, e.g. the calculator name)."""
    for key in keys:
        if record.has(key):
            value = record.raw(key)
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise record.error(key, "a string or integer template id", value)
            return value
    return natural


def pack_reference(record) -> dict[str, Any]:
    """Pack records carry "reference_solution" (code that sets `answer`); copied into Task.meta."""
    solution = record.text("reference_solution", optional=True)
    return {} if solution is None else {"reference_solution": solution}


def pack_templates(ds: DatasetDir, key: str) -> dict[Any, dict[str, Any]]:
    """A pack manifest's "templates" table ([{key: ..., ...}, ...]) indexed by `key`.

    Packs whose records do not carry their template id list it here: biostat keys it by "task_id"
    (entry "template"), ehr_sql by "q_tag" (entries "id" and "ordered"). A table of another shape (e.g. a
    plain list of names) has no entries with `key` and yields {}."""
    if ds.pack is None or not isinstance(ds.pack.get("templates"), list):
        return {}
    return {entry[key]: entry for entry in ds.pack["templates"]
            if isinstance(entry, dict) and key in entry and not isinstance(entry[key], (dict, list))}
