"""EHRSHOT and MIMIC-Extract: prediction accuracy over ALL test patients, from a labels file.

The labels file (checker_params["labels_path"], a CSV with `id_column` and `label_column`) is read here,
on the host; it is NEVER mounted in the sandbox. The agent's final answer holds its predictions, as
- a dict {patient id: prediction}, or
- a list of [id, prediction] pairs, or
- a list of records {id_column: ..., label_column or "prediction": ...}.
accuracy = (# label rows whose id has a prediction equal to the label) / (# label rows). A missing
prediction is wrong (the release divided by the number of PREDICTIONS, rewarding answering only the easy
patients); an id predicted twice with different values is wrong (no hedging); predictions for unknown ids
are ignored but counted in detail. Labels and predictions compare as booleans when both sides read as
booleans (True / "1" / 1 / "true"), else by the typed normalisation of `answer_normalization`.
correct = accuracy >= checker_params["accuracy_threshold"] (default 0.8, chosen as clearly above the
majority-class rate of most EHRSHOT / MIMIC-Extract binary tasks; set it per task where it is not).
detail carries the accuracy, the counts and the threshold.
"""

from __future__ import annotations

import csv
import os
import threading
from typing import Any

from reward.answer_normalization import canonical, parse_literal, to_bool
from reward.checkers import CheckOutcome, InvalidTaskError, no_answer, require_param

DEFAULT_ACCURACY_THRESHOLD = 0.8
_labels_cache: dict[tuple, dict[str, Any]] = {}
_labels_lock = threading.Lock()


def _label_key(value: Any) -> Any:
    as_bool = to_bool(value)
    return as_bool if as_bool is not None else canonical(value)


def _id_key(value: Any) -> str:
    number = canonical(value)  # exact: 10-digit ids stay distinct (canonical no longer rounds to 9 digits)
    if isinstance(number, int) or (isinstance(number, float) and number.is_integer()):
        return str(int(number))  # "123", "0123", 123 and 123.0 are the same patient
    return str(value).strip()


def read_labels(path: str, id_column: str, label_column: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise InvalidTaskError(f"labels file {path} does not exist (checker_params['labels_path'])")
    key = (path, os.path.getmtime(path), id_column, label_column)
    with _labels_lock:
        if key in _labels_cache:
            return _labels_cache[key]
    labels: dict[str, Any] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        for column in (id_column, label_column):
            if column not in (reader.fieldnames or []):
                raise InvalidTaskError(f"{path}: no column {column!r}; columns are {reader.fieldnames}")
        for line_no, row in enumerate(reader, start=2):
            patient = _id_key(row[id_column])
            if patient in labels:
                raise InvalidTaskError(f"{path}:{line_no}: id {patient!r} appears twice")
            labels[patient] = _label_key(row[label_column])
    with _labels_lock:
        _labels_cache[key] = labels
    return labels


def read_predictions(answer: Any, id_column: str, label_column: str) -> tuple[dict[str, Any], set[str]]:
    """(id -> prediction key, ids predicted more than once with different values)."""
    answer = parse_literal(answer)
    if isinstance(answer, dict):
        pairs = list(answer.items())
    elif isinstance(answer, (list, tuple)):
        pairs = []
        for item in answer:
            if isinstance(item, dict):
                value_key = label_column if label_column in item else "prediction"
                if id_column not in item or value_key not in item:
                    raise ValueError(f"record {item!r} lacks {id_column!r} or {label_column!r}/'prediction'")
                pairs.append((item[id_column], item[value_key]))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise ValueError(f"prediction {item!r} is neither a record nor an [id, prediction] pair")
    else:
        raise ValueError(f"expected a dict or a list of predictions, got {type(answer).__name__}")
    predictions: dict[str, Any] = {}
    conflicting: set[str] = set()
    for patient, value in pairs:
        patient_key, value_key = _id_key(patient), _label_key(value)
        if patient_key in predictions and predictions[patient_key] != value_key:
            conflicting.add(patient_key)
        predictions[patient_key] = value_key
    return predictions, conflicting


def check(task, trajectory, backend=None) -> CheckOutcome:
    if not trajectory.has_final_answer:
        return no_answer(trajectory)
    id_column, label_column = require_param(task, "id_column"), require_param(task, "label_column")
    labels = read_labels(str(require_param(task, "labels_path")), id_column, label_column)
    threshold = float(task.checker_params.get("accuracy_threshold", DEFAULT_ACCURACY_THRESHOLD))
    try:
        predictions, conflicting = read_predictions(trajectory.final_answer, id_column, label_column)
    except ValueError as exc:
        return CheckOutcome(False, {"message": f"predictions unreadable: {exc}", "accuracy": 0.0,
                                    "threshold": threshold})
    right = sum(1 for patient, label in labels.items()
                if patient in predictions and patient not in conflicting and predictions[patient] == label)
    missing = sum(1 for patient in labels if patient not in predictions)
    accuracy = right / len(labels) if labels else 0.0
    correct = bool(labels) and accuracy >= threshold
    return CheckOutcome(correct, {
        "accuracy": accuracy, "threshold": threshold, "n_patients": len(labels), "n_right": right,
        "n_missing": missing, "n_conflicting": len(conflicting),
        "n_unknown_ids": sum(1 for patient in predictions if patient not in labels),
        "message": f"accuracy {accuracy:.4f} over all {len(labels)} test patients "
                   f"({'>=' if correct else '<'} threshold {threshold})"})
