"""Recompute a MedCalc-Bench label from the row's own "Relevant Entities" with the project's calculators.

    from copilot.tasks.medcalc_labels import recompute_label
    check = recompute_label(task)      # LabelCheck(status="disputed", calculator="glasgow_coma_score", ...)

For every calculator id in `SPECS` (`medcalc_label_specs` for equations, `medcalc_score_specs` for
rule-based scores) the row's entities (MedCalc-Bench / MedAgentGym names and unit strings, e.g.
{'creatinine': [1.4, 'mg/dL']}) are mapped to a `packs.medcalc_calculators` function, converted with that
module's own unit functions, and the result is compared with the label:
  - decimal outputs: the recomputed value must lie in the row's [Lower Limit, Upper Limit] (±5 % of the
    label when a row has no limits, as MedCalc-Bench builds them);
  - integer, date and weeks/days outputs: equal.
A label outside the score's possible range (GCS 3-15, ...) is "disputed" even when the row cannot be
recomputed. "not_comparable" says why: calculator not implemented, entity missing or unparsable, unit
unknown. Where MedCalc-Bench applies a rule differently from the project (medcalc_calculators' docstring),
the project's rule is kept and `reason` names the difference; for known MedCalc-Bench label bugs (CKD-EPI
κ = 0.7 for men, due dates adding |cycle − 28|, conception dates ignoring the cycle, GCS labels counting the
verbal score twice, MELD Na ignoring dialysis when Cr < 1, Child-Pugh / Charlson / SIRS code errors, a
'mg/dL' slip in the note converted literally) `reason` also says when the label matches the buggy rule.

Simplified: yes/no findings absent from the entities count as absent (MedCalc-Bench's convention; so
Centor's "Cough Absent" is true when not stated), but a yes/no finding stated under a name the recomputation
does not read makes the row not comparable (it may be an input under another spelling); ages given in
months / weeks / days become completed years as MedCalc-Bench converts them. Only the entity names and unit
spellings found in the release (and a few obvious variants) are recognised (`medcalc_entities`); a pack built
by `packs.medcalc` names its entities differently, so its rows with stated findings come out not comparable
(its labels are computed by the same functions anyway).
Not protected against: entities that misread the note (the check trusts "Relevant Entities"; a label that
contradicts the note but matches wrong entities is reported as agreeing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from copilot.tasks.medcalc_entities import Entities, NotComparable, is_number
from copilot.tasks.medcalc_label_specs import (EQUATION_SPECS, CalculatorSpec, fmt, label_limits,
                                               within_label_limits)
from copilot.tasks.medcalc_score_specs import SCORE_SPECS
from copilot.tasks.task import Task

STATUSES = ("agrees", "disputed", "not_comparable")


@dataclass(frozen=True)
class LabelCheck:
    """The verdict on one row's label.

    status:     "agrees" | "disputed" | "not_comparable".
    calculator: the medcalc_calculators function used (None when not comparable).
    label:      task.answer as given.
    recomputed: our value in the form of task.answer (float / int / "MM/DD/YYYY" / [weeks, days]); None when
                not recomputed (not comparable, or a label outside the scale's range with entities unusable).
    reason:     why not comparable, or what agrees / disagrees and by how much, and rule differences.
    """

    status: str
    calculator: str | None
    label: Any
    recomputed: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "calculator": self.calculator, "label": self.label,
                "recomputed": self.recomputed, "reason": self.reason}


# MedCalc-Bench calculator id -> how to recompute it (ids not listed: not implemented in medcalc_calculators).
SPECS: dict[int, CalculatorSpec] = dict(sorted({**EQUATION_SPECS, **SCORE_SPECS}.items()))


# ---------------------------------------------------------------- comparing with the label


def _in_answer_form(value: Any, output_type: str) -> Any:
    if output_type == "decimal":
        return round(float(value), 4) + 0.0     # + 0.0: a delta gap of -0.0 reads as 0.0
    if output_type == "integer":
        return round(value)
    if output_type == "weeks_days":
        return [int(value[0]), int(value[1])]
    return value


def _compare(task: Task, value: Any, output_type: str) -> tuple[bool, str]:
    """(agrees, what was compared) for the recomputed value in answer form."""
    label = task.answer
    if output_type == "decimal":
        lower, upper = label_limits(task)
        offset = f"{(value - label) / label:+.1%} from the label" if label else f"label {label}"
        where = "within" if within_label_limits(task, value) else "outside"
        return where == "within", f"recomputed {fmt(value)} is {where} [{fmt(lower)}, {fmt(upper)}] ({offset})"
    if output_type == "date":
        if value == label:
            return True, f"recomputed {value} equals the label"
        apart = (_parse_date(value) - _parse_date(label)).days
        return False, f"recomputed {value} ≠ label {label} ({apart:+d} days)"
    if output_type == "weeks_days":
        same = list(value) == list(label)
        return same, f"recomputed {value[0]} weeks {value[1]} days {'equals' if same else '≠'} label {label}"
    same = value == label
    return same, f"recomputed {value} {'equals' if same else '≠'} label {label}"


def _parse_date(text: str) -> date:
    month, day, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


def _outside_scale(spec: CalculatorSpec, label: Any, entities: Entities | None) -> str | None:
    if spec.scale is None or not is_number(label):
        return None
    name, low, high = spec.scale
    given = ""
    narrowed = _guarded(spec.row_scale, entities)
    if narrowed is not None:
        low, high, what = narrowed
        given = f" possible with {what}"
    if label > high:
        return f"label {label} is above the {name} maximum {fmt(high)}{given}"
    if label < low:
        return f"label {label} is below the {name} minimum {fmt(low)}{given}"
    return None


def _guarded(function: Callable[..., Any] | None, entities: Entities | None, *args: Any) -> Any:
    """function(entities, *args), or None when there is no function, no entities, or they do not fit."""
    if function is None or entities is None:
        return None
    try:
        return function(entities, *args)
    except (NotComparable, ArithmeticError, ValueError):
        return None


def _not_comparable(task: Task, reason: str) -> LabelCheck:
    return LabelCheck("not_comparable", None, task.answer, None, reason)


def recompute_label(task: Task) -> LabelCheck:
    """Recompute `task`'s label from its Relevant Entities and say whether it agrees (module docstring)."""
    params = task.checker_params
    calculator_id, output_type = params.get("calculator_id"), params.get("output_type")
    if task.checker != "medcalc" or calculator_id is None:
        return _not_comparable(task, f"not a MedCalc-Bench task (checker {task.checker!r})")
    spec = SPECS.get(calculator_id)
    if spec is None:
        return _not_comparable(task, f"calculator {calculator_id} ({params.get('calculator_name')}) is not "
                                     "implemented in medcalc_calculators")
    entities, result, problem = None, None, ""
    try:
        entities = Entities(task.meta.get("relevant_entities"))
        result = spec.compute(entities)
        unread = entities.unread_findings()
        if unread:
            result = None
            raise NotComparable(f"finding(s) {unread} stated but not known to the {spec.calculator} "
                                "recomputation (another spelling of an input?)")
    except NotComparable as exc:
        problem = str(exc)
    except (ArithmeticError, ValueError) as exc:     # e.g. a creatinine of 0: the formula is undefined
        problem = f"{spec.calculator} is undefined for these entities ({exc})"
    out_of_scale = _outside_scale(spec, task.answer, entities)
    if result is None:
        if out_of_scale is None:
            return _not_comparable(task, problem)
        parts = [out_of_scale, f"not recomputed: {problem}", _guarded(spec.label_hint, entities, task)]
        return LabelCheck("disputed", spec.calculator, task.answer, None, "; ".join(p for p in parts if p))
    value = _in_answer_form(result.value, output_type)
    agrees, compared = _compare(task, value, output_type)
    status = "agrees" if agrees and out_of_scale is None else "disputed"
    hint = _guarded(spec.label_hint, entities, task) if status == "disputed" else None
    parts = [out_of_scale, f"{compared} from {result.inputs}", result.rule_note, hint]
    return LabelCheck(status, spec.calculator, task.answer, value, "; ".join(p for p in parts if p))
