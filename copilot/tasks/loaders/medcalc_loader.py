"""MedCalcBench (and the offline medcalc pack): a patient note, a calculator question, a number or date.

Record shape (MedAgentGym release, MedCalc-Bench fields): "Row Number", "Calculator ID", "Calculator Name",
"Patient Note", "Question", "Relevant Entities" (a Python-literal dict string), "Ground Truth Answer",
"Lower Limit", "Upper Limit" (numbers stored as strings; dates for date calculators). The calculator's
method text comes from calculation_method.jsonl ("Calculator", "Short Summary", "Long Summary") when that
file is present; it goes to Task.meta["calculation_method"] (not into the prompt, as in MedAgentGym).

Task: checker "medcalc"; answer = a number (int for integer calculators), an "MM/DD/YYYY" date string, or a
[weeks, days] pair; checker_params {"lower", "upper", "output_type", "calculator_id", "calculator_name"}.
The output type follows MedCalc-Bench's evaluation by calculator id (dates 13 and 68, gestational age 69,
its integer list); ids it does not list are typed from the record's "Output Type" (the offline pack writes
decimal / integer / date / weeks_days), else from the ground truth's shape (a whole number with equal or
absent limits -> integer). A record "Output Type" that disagrees with the id table is kept in meta.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from copilot.tasks.loaders.jsonl_records import JsonlRecord, read_jsonl
from copilot.tasks.loaders.release_layout import DatasetDir, pack_reference, template_from_record
from copilot.tasks.task import Task

OUTPUT_TYPES = ("decimal", "integer", "date", "weeks_days")
DATE_CALCULATORS = {13, 68}
WEEKS_DAYS_CALCULATORS = {69}
INTEGER_CALCULATORS = {4, 15, 16, 17, 18, 20, 21, 25, 27, 28, 29, 32, 33, 36, 43, 45, 48, 51}
DECIMAL_CALCULATORS = {2, 3, 5, 6, 7, 8, 9, 10, 11, 19, 22, 23, 24, 26, 30, 31, 38, 39, 40, 44, 46, 49,
                       56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67}
_WEEKS_DAYS = re.compile(r"\(?[\"']?(\d+)\s*(?:weeks?)?[\"']?\s*,?\s*[\"']?(\d+)\s*(?:days?)?[\"']?\s*\)?",
                         re.IGNORECASE)
_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


def output_type_of(record: JsonlRecord, calculator_id: int, truth: str) -> str:
    """MedCalc-Bench's own table by calculator id first (its evaluation decides by id); then the record's
    "Output Type" (packs, in our vocabulary); then the ground truth's shape."""
    for ids, kind in ((DATE_CALCULATORS, "date"), (WEEKS_DAYS_CALCULATORS, "weeks_days"),
                      (INTEGER_CALCULATORS, "integer"), (DECIMAL_CALCULATORS, "decimal")):
        if calculator_id in ids:
            return kind
    explicit = record.text("Output Type", optional=True)
    if explicit is not None:
        if explicit not in OUTPUT_TYPES:
            raise record.error("Output Type", f"one of {OUTPUT_TYPES} (calculator {calculator_id} is not in "
                               "MedCalc-Bench's table)", explicit)
        return explicit
    if _DATE.match(truth):
        return "date"
    if "week" in truth.lower() or truth.strip().startswith(("(", "[")):
        return "weeks_days"
    lower, upper = record.data.get("Lower Limit"), record.data.get("Upper Limit")
    whole = re.fullmatch(r"\s*[+-]?\d+\s*", truth) is not None
    return "integer" if whole and (lower in (None, "") or str(lower).strip() == str(upper).strip()) else "decimal"


def truth_value(record: JsonlRecord, output_type: str) -> Any:
    field = "Ground Truth Answer"
    raw = record.raw(field, "the calculator's answer (a number, a date MM/DD/YYYY or a (weeks, days) pair)")
    text = str(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw
    if not isinstance(text, str):
        raise record.error(field, "a number or a string", raw)
    if output_type == "date":
        match = _DATE.match(text)
        try:
            day = datetime(int(match.group(3)), int(match.group(1)), int(match.group(2))) if match else None
        except ValueError:
            day = None
        if day is None:
            raise record.error(field, "a date MM/DD/YYYY (date calculator)", raw)
        return day.strftime("%m/%d/%Y")
    if output_type == "weeks_days":
        if isinstance(raw, list) and len(raw) == 2:
            text = str(tuple(raw))
        match = _WEEKS_DAYS.fullmatch(text.strip())
        if not match:
            raise record.error(field, "a (weeks, days) pair such as \"('4 weeks', '2 days')\"", raw)
        return [int(match.group(1)), int(match.group(2))]
    number = record.number(field)
    if output_type == "integer":
        if number != int(number):
            raise record.error(field, "a whole number (integer calculator)", raw)
        return int(number)
    return float(number)


def limit_value(record: JsonlRecord, field: str, output_type: str) -> float | None:
    """Lower/Upper Limit as a float; None when absent, empty, or (date / weeks-days) not a number."""
    if not record.has(field) or record.data[field] in (None, ""):
        return None
    if output_type in ("date", "weeks_days"):
        return None       # MedCalc-Bench stores the date itself here; the checker compares dates exactly
    return float(record.number(field))


def _methods(ds: DatasetDir) -> dict[str, str]:
    def read() -> dict[str, str]:
        path = ds.path / "calculation_method.jsonl"
        if not path.is_file():
            return {}
        methods: dict[str, str] = {}
        for record in read_jsonl(path):
            name = record.text("Calculator", allow_empty=False)
            methods.setdefault(name, record.text("Short Summary"))
        return methods
    return ds.cached("calculation_methods", read)


def load_medcalcbench(ds: DatasetDir, split: str) -> list[Task]:
    methods = _methods(ds)
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            calculator_id = record.integer("Calculator ID")
            calculator = record.text("Calculator Name", allow_empty=False)
            note = record.text("Patient Note", allow_empty=False)
            question = record.text("Question", allow_empty=False)
            truth_text = record.data.get("Ground Truth Answer")
            output_type = output_type_of(record, calculator_id, truth_text if isinstance(truth_text, str) else "")
            answer = truth_value(record, output_type)
            params = {"lower": limit_value(record, "Lower Limit", output_type),
                      "upper": limit_value(record, "Upper Limit", output_type),
                      "output_type": output_type, "calculator_id": calculator_id, "calculator_name": calculator}
            meta: dict[str, Any] = {"source": record.source,
                                    "template": template_from_record(record, calculator),
                                    "calculation_method": methods.get(calculator),
                                    "ground_truth_text": record.data.get("Ground Truth Answer")}
            if record.has("Row Number"):
                meta["row_number"] = record.data["Row Number"]
            if record.has("Relevant Entities"):
                meta["relevant_entities"] = record.literal("Relevant Entities", (dict,))
            if record.has("Output Type") and record.data["Output Type"] != output_type:
                meta["record_output_type"] = record.data["Output Type"]
            if record.has("Ground Truth Explanation"):
                meta["explanation"] = record.text("Ground Truth Explanation", allow_null=True)
            meta.update(pack_reference(record))
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="medcalc", question=question, context=note, answer=answer,
                              checker="medcalc", checker_params=params, meta=meta))
    return tasks
