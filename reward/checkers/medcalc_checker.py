"""MedCalcBench and the offline medcalc pack: numeric, integer, date and weeks+days answers.

The comparison is MedCalc-Bench's own (ncbi-nlp/MedCalc-Bench, evaluation/evaluate.py,
`check_correctness`): `Lower Limit <= answer <= Upper Limit` for decimal calculators, exact match for
integer calculators, the same date for date calculators and the same (weeks, days) tuple for gestational
age. Here (the release's checker accepted ANY non-negative number):
- Lower/Upper Limit present (checker_params "lower"/"upper", numbers or numeric strings): the answer must
  lie in [lower, upper] (for "integer" outputs it must also be a whole number);
- otherwise, by `output_type`: "decimal" within ±5% of the ground truth (relative; a truth of 0 needs 0),
  "integer" exactly equal, "date" the same calendar day, "weeks_days" the same (weeks, days) pair.
  A missing output_type is inferred from the truth's shape (a date -> date, a pair -> weeks_days, else
  decimal) and the inference is reported in detail.
- an integer calculator answered with 4.0 or "4.0" is 4; 4.5 is wrong (MedCalc-Bench rounds it; we do not:
  an integer score is not stated with a fraction).

The answer is read by `reward.answer_extraction` (see there for every form read and refused): a number, a
numeric string, or text stating ONE value ("The score is 4.", "approximately 4", "4 points", "25.0 mL/min",
"25.0 mL/min/1.73 m²"); a date in ISO, MM/DD/YYYY or long form ("September 23, 2014"); a weeks+days pair
("14w1d", "14 weeks and 1 day", [14, 1], "('14 weeks', '1 day')"). Two different values in one answer are
ambiguous and wrong; booleans are not numbers (True is not 1 point). detail carries the value read (or why
none was) under "extraction".
Not protected against: an answer that states the right value among number words ("four, no: 4").
"""

from __future__ import annotations

from typing import Any

from reward.answer_extraction import (
    Extraction,
    extract_date,
    extract_number,
    extract_weeks_days,
)
from reward.answer_normalization import parse_literal, parse_number
from reward.checkers import CheckOutcome, InvalidTaskError, no_answer

OUTPUT_TYPES = ("decimal", "integer", "date", "weeks_days")
RELATIVE_TOLERANCE = 0.05


def _limit(task, key: str) -> float | None:
    raw = task.checker_params.get(key)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    number = parse_number(raw)
    if number is None:
        raise InvalidTaskError(f"task {task.id}: checker_params[{key!r}] = {raw!r} is not a number")
    return number


def _infer_output_type(truth: Any) -> str:
    if isinstance(truth, str) and extract_date(truth).found:
        return "date"
    if not isinstance(parse_literal(truth), (int, float)) and extract_weeks_days(truth).found:
        return "weeks_days"
    return "decimal"


def _truth(task, extraction: Extraction, kind: str) -> Any:
    if not extraction.found:
        raise InvalidTaskError(f"task {task.id}: ground truth {task.answer!r} is not {kind} "
                               f"({extraction.describe()})")
    return extraction.value


def _read(extraction: Extraction, raw: Any, detail: dict[str, Any], as_text=lambda v: v) -> Any:
    """The value read from the agent's answer (or None), recorded in detail as "got" and "extraction"."""
    detail["got"] = as_text(extraction.value) if extraction.found else repr(raw)
    detail["extraction"] = extraction.describe()
    return extraction.value if extraction.found else None


def _check_date(task, raw: Any, detail: dict[str, Any]) -> bool:
    expected = _truth(task, extract_date(task.answer), "a date")
    detail["expected"] = expected.isoformat()
    got = _read(extract_date(raw), raw, detail, lambda d: d.isoformat())
    correct = got == expected
    detail["message"] = "same date" if correct else f"different date (or no single date): {detail['extraction']}"
    return correct


def _check_weeks_days(task, raw: Any, detail: dict[str, Any]) -> bool:
    expected = _truth(task, extract_weeks_days(task.answer), "a (weeks, days) pair")
    detail["expected"] = list(expected)
    got = _read(extract_weeks_days(raw), raw, detail, list)
    correct = got == expected
    detail["message"] = ("same (weeks, days)" if correct
                         else f"different (weeks, days) (or no single pair): {detail['extraction']}")
    return correct


def _check_number(task, output_type: str, raw: Any, detail: dict[str, Any]) -> bool:
    expected = _truth(task, extract_number(task.answer), "a number")
    lower, upper = _limit(task, "lower"), _limit(task, "upper")
    detail.update(expected=expected, lower=lower, upper=upper)
    got = _read(extract_number(raw), raw, detail)
    if got is None:
        detail["message"] = f"no single number in the answer: {detail['extraction']}"
        return False
    if output_type == "integer" and not got.is_integer():
        detail["message"] = f"{got} is not a whole number (integer calculator)"
        return False
    if lower is not None and upper is not None:
        correct = lower <= got <= upper
        detail["rule"] = "within [Lower Limit, Upper Limit]"
    elif output_type == "integer":
        correct = got == expected
        detail["rule"] = "exact integer"
    else:
        correct = abs(got - expected) <= RELATIVE_TOLERANCE * abs(expected)
        detail["rule"] = f"within ±{RELATIVE_TOLERANCE:.0%} of the ground truth"
    detail["message"] = ("correct: " if correct else "wrong: ") + detail["rule"]
    return correct


def check(task, trajectory, backend=None) -> CheckOutcome:
    if not trajectory.has_final_answer:
        return no_answer(trajectory)
    output_type = task.checker_params.get("output_type")
    detail: dict[str, Any] = {}
    if output_type is None:
        output_type = _infer_output_type(task.answer)
        detail["output_type_inferred"] = True
    if output_type not in OUTPUT_TYPES:
        raise InvalidTaskError(f"task {task.id}: checker_params['output_type'] = {output_type!r}; "
                               f"expected one of {OUTPUT_TYPES}")
    detail["output_type"] = output_type
    raw = trajectory.final_answer
    if output_type == "date":
        correct = _check_date(task, raw, detail)
    elif output_type == "weeks_days":
        correct = _check_weeks_days(task, raw, detail)
    else:
        correct = _check_number(task, output_type, raw, detail)
    return CheckOutcome(correct, detail)
