"""N-PowerAI and the offline biostat pack: sample size (exact integer) or power (within 1%, relative).

MedAgentGym's rule per record `estimate_target` (size: an exact integer; power: within ±1%), made strict
about the value and not about the wording; the answer is read by `reward.answer_extraction`:
- target "size": ONE whole number equal to the truth: 64, 64.0, "64", "n = 64 per group", "64 participants
  in each group" are 64; 64.3 is wrong; "64 per group, 128 in total" holds two different numbers and is
  ambiguous, hence wrong. No rounding up for the agent: computing ceil() is part of the task.
- target "power": ONE number in [0, 1], or a percentage ("80%", "80.5 %", "80 percent" -> 0.8, 0.805, 0.8)
  in [0, 100]%; then |answer - truth| <= 1% of truth (RELATIVE; stricter than an absolute 0.01 below 1).
  A power is a probability: outside [0, 1] it is WRONG even within the tolerance (1.005 vs a truth of 1.0),
  and a bare 80 is not read as 80% (units are never guessed).
- booleans are not numbers; a one-element list [x] is x; a longer list of different values is ambiguous.
detail carries the value read (or why none was) under "extraction".
"""

from __future__ import annotations

from typing import Any

from reward.answer_extraction import extract_number, extract_proportion
from reward.answer_normalization import parse_number
from reward.checkers import CheckOutcome, InvalidTaskError, no_answer, require_param

POWER_RELATIVE_TOLERANCE = 0.01


def _size_correct(got: float, expected: float, detail: dict[str, Any]) -> bool:
    detail["rule"] = "exact integer sample size"
    if not got.is_integer():
        detail["message"] = f"wrong: {got} is not a whole number of subjects"
        return False
    return got == expected


def _power_correct(got: float, expected: float, detail: dict[str, Any]) -> bool:
    detail["rule"] = f"a power in [0, 1], within {POWER_RELATIVE_TOLERANCE:.0%} of the true power (relative)"
    if not 0.0 <= got <= 1.0:
        detail["message"] = f"wrong: {got} is not a probability (a power lies in [0, 1], or [0, 100]%)"
        return False
    return abs(got - expected) <= POWER_RELATIVE_TOLERANCE * abs(expected)


def check(task, trajectory, backend=None) -> CheckOutcome:
    if not trajectory.has_final_answer:
        return no_answer(trajectory)
    target = require_param(task, "target")
    if target not in ("size", "power"):
        raise InvalidTaskError(f"task {task.id}: checker_params['target'] = {target!r}; expected 'size' or 'power'")
    expected = parse_number(task.answer)
    if expected is None:
        raise InvalidTaskError(f"task {task.id}: ground truth {task.answer!r} is not a number")
    if target == "size" and not expected.is_integer():
        raise InvalidTaskError(f"task {task.id}: ground truth sample size {task.answer!r} is not a whole number")
    extraction = (extract_number if target == "size" else extract_proportion)(trajectory.final_answer)
    detail: dict[str, Any] = {"target": target, "expected": expected, "extraction": extraction.describe(),
                              "got": extraction.value if extraction.found else repr(trajectory.final_answer)}
    if not extraction.found:
        detail["message"] = f"no single number in the answer: {extraction.describe()}"
        return CheckOutcome(False, detail)
    judge = _size_correct if target == "size" else _power_correct
    correct = judge(extraction.value, expected, detail)
    detail.setdefault("message", ("correct: " if correct else "wrong: ") + detail["rule"])
    return CheckOutcome(correct, detail)
