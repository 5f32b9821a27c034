"""EHRSHOT and MIMIC-Extract: train a model on pre-computed features and predict the test patients' labels.

EHRSHOT (release layout): task.jsonl lists the prediction tasks ("task_id", "task_name",
"task_description"); clmbr_{train,val,test}.pkl hold the CLMBR feature vectors; <task_name>/
{train,val,test}_labels.csv hold the labels (columns patient_id, value, label_type, prediction_time).
MedAgentGym evaluates these tasks as its test split only.
MIMIC-Extract: {train,test}_tasks.jsonl ("task_name", "task_description", "task_category",
"feature_label_directory" such as "./mortality_los", "model", "performance"); in that directory
X_lab_{train,val,test}.pkl (plus X_static_*.pkl for vasopressor / ventilation) and
{train,val,test}_<task_name>_labels.csv.

Task: checker "ml_accuracy", answer None, checker_params {"labels_path": the TEST label CSV, "id_column",
"label_column"} (+ "window_column" for the hourly-window tasks vasopressor / ventilation, whose labels have
one row per (subject_id, 6_hour_window_id)). Resources: the feature files and the TRAIN and VALIDATION label
files, which the agent needs to fit a model; the test label file is never mounted.
Not protected against: a model that predicts the majority class scores that class's share; accuracy, the
release's metric, rewards it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from copilot.tasks.loaders.jsonl_records import JsonlRecord
from copilot.tasks.loaders.release_layout import DatasetDir, template_from_record
from copilot.tasks.task import Task

PREDICTIONS_NOTE = ("Write your test-set predictions (predicted labels, not probabilities) to a CSV file with "
                    "the columns {columns}, one row per {unit}, and set `answer` to that file's path.")

MIMIC_EXTRACT_WHOLE_STAY = ("mort_icu", "mort_hosp", "los_3", "los_7")
MIMIC_EXTRACT_WINDOWED = ("vasopressor", "ventilation")


def _mount(ds: DatasetDir, files: dict[str, tuple[Path, str]]) -> dict[str, str]:
    """mount name -> host path for the files that exist; absent ones raise when resources are required."""
    resources = {}
    for name, (path, what) in files.items():
        found = ds.require(path, what)
        if found is not None:
            resources[name] = str(found.resolve())
    return resources


def _labels_path(ds: DatasetDir, path: Path) -> str:
    ds.require(path, f"the test label file {path.name}")
    return str(path.resolve())


def _segment(record: JsonlRecord, field: str) -> str:
    value = record.text(field, allow_empty=False)
    if "/" in value or "\\" in value or value in (".", ".."):
        raise record.error(field, "a task name usable as one directory / file name", value)
    return value


def _context(resources: dict[str, str], columns: str, unit: str) -> str:
    listing = "\n".join(f"- /data/{name}" for name in resources) or "- (the feature files are not installed here)"
    return ("Data files (read-only):\n" + listing + "\n\n" + PREDICTIONS_NOTE.format(columns=columns, unit=unit))


def load_ehrshot(ds: DatasetDir, split: str) -> list[Task]:
    features = {f"clmbr_{part}.pkl": (ds.path / f"clmbr_{part}.pkl", f"the CLMBR {part} features clmbr_{part}.pkl")
                for part in ("train", "val", "test")}
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            record.integer("task_id")
            name = _segment(record, "task_name")
            description = record.text("task_description", allow_empty=False)
            label_dir = ds.path / name
            files = dict(features)
            for part in ("train", "val"):
                files[f"{part}_labels.csv"] = (label_dir / f"{part}_labels.csv",
                                               f"the {part} labels {name}/{part}_labels.csv")
            resources = _mount(ds, files)
            params = {"labels_path": _labels_path(ds, label_dir / "test_labels.csv"),
                      "id_column": "patient_id", "label_column": "value"}
            meta = {"source": record.source, "template": template_from_record(record, name), "task_name": name,
                    "record_task_id": record.data["task_id"]}
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="ml_prediction", question=description.strip(),
                              context=_context(resources, "patient_id,prediction", "patient in clmbr_test.pkl"),
                              answer=None, checker="ml_accuracy", checker_params=params, resources=resources,
                              meta=meta))
    return tasks


def _mimic_extract_files(ds: DatasetDir, record: JsonlRecord, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    directory = ds.inside(record.text("feature_label_directory", allow_empty=False),
                          f"{record.source}: field 'feature_label_directory'")
    groups = ["lab"] + (["static"] if name in MIMIC_EXTRACT_WINDOWED else [])
    files = {f"X_{group}_{part}.pkl": (directory / f"X_{group}_{part}.pkl", f"the {part} {group} features")
             for group in groups for part in ("train", "val", "test")}
    for part in ("train", "val"):
        label = f"{part}_{name}_labels.csv"
        files[label] = (directory / label, f"the {part} labels {label}")
    params: dict[str, Any] = {"labels_path": _labels_path(ds, directory / f"test_{name}_labels.csv"),
                              "id_column": "subject_id"}
    if name in MIMIC_EXTRACT_WINDOWED:
        params.update(label_column="intervention_category", window_column="6_hour_window_id")
    else:
        params["label_column"] = name
    return _mount(ds, files), params


def load_mimic_extract(ds: DatasetDir, split: str) -> list[Task]:
    known = MIMIC_EXTRACT_WHOLE_STAY + MIMIC_EXTRACT_WINDOWED
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            name = _segment(record, "task_name")
            if name not in known:
                raise record.error("task_name", f"one of {known} (the label file layout depends on it)", name)
            description = record.text("task_description", allow_empty=False)
            resources, params = _mimic_extract_files(ds, record, name)
            windowed = name in MIMIC_EXTRACT_WINDOWED
            context = _context(resources, "subject_id,window_idx,prediction" if windowed else "subject_id,prediction",
                               "(subject_id, 6-hour window) of the test set" if windowed else "test subject")
            meta = {"source": record.source, "template": template_from_record(record, name), "task_name": name,
                    "task_category": record.text("task_category", optional=True),
                    "baseline_model": record.data.get("model"), "baseline_performance": record.data.get("performance")}
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="ml_prediction", question=description.strip(), context=context, answer=None,
                              checker="ml_accuracy", checker_params=params, resources=resources, meta=meta))
    return tasks
