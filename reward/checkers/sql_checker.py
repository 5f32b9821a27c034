"""SQL datasets (mimic_iii, eicu, treqs, ehr_seqsql, offline ehr_sql): typed comparison of answer values.

The release's checker compared the FIRST element by SUBSTRING ("po" in "po/ng" passed); this one compares
whole answers as typed values (see `reward.answer_normalization`: numbers by exact value, so "92" == 92 ==
92.0 but 1234567891 != 1234567890; strings casefolded; dates by value). Nothing is matched by substring.

Duplicates and order follow EHRSQL's official evaluation (github.com/glee4810/EHRSQL, evaluate.py:
`process_answer(ans) = str(sorted([str(ret) for ret in ans[:100]]))`, compared for equality): the SORTED
list of result values, i.e. a MULTISET. Order is ignored and duplicates count: ['70', '70'] != ['70'] (the
release's answers really hold duplicates, e.g. two patients of age 70). This is the default for every SQL
dataset here: mimic_iii and eicu are EHRSQL; treqs and ehr_seqsql store the same "every value of the
result" lists; the offline ehr_sql pack writes its answers exactly as EHRSQL does (its reference SQL's
rows, duplicates kept, copilot/tasks/packs/ehr_sql.py `format_answer`), so its reference solutions match.
`checker_params["ordered"]` true compares LISTS instead (order and duplicates), stricter than EHRSQL, for
questions that ask for a ranked list.

Shapes accepted from the agent (and from the release), flattened the same way on both sides:
- a scalar is a one-element list: 92 == ["92"];
- a Python-literal string is parsed first: "['po', 'po/ng']" == ["po", "po/ng"];
- rows are flattened ONE level, row by row: [[a], [b]] -> [a, b] and [[a, b], [c, d]] -> [a, b, c, d]
  (the release stores multi-column results as a flat list in row order, so this is the same order).
Anything else (a dict, a nested list deeper than rows) is compared by its canonical form and will not match
a flat truth.

Deviations from EHRSQL's evaluate.py, on purpose: values compare typed, not as str() ("92" == 92.0 here);
no truncation to the first 100 values (all must match); multi-column rows are compared as their flattened
values (the release keeps no row boundaries), so swapping values between rows of one result is not seen.
Not protected against: an agent that guesses the exact answer values without querying.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from reward.answer_normalization import canonical, describe, parse_literal
from reward.checkers import CheckOutcome, no_answer


def flatten_rows(value: Any) -> list[Any]:
    value = parse_literal(value)
    if not isinstance(value, (list, tuple)):
        return [value]
    flat: list[Any] = []
    for item in value:
        item = parse_literal(item) if isinstance(item, str) and item.strip()[:1] in "[(" else item
        if isinstance(item, (list, tuple)):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def _compare_lists(expected: list[Any], got: list[Any], detail: dict[str, Any]) -> bool:
    correct = expected == got
    detail["message"] = "lists equal" if correct else "lists differ (order and duplicates matter for this task)"
    return correct


def _compare_multisets(expected: list[Any], got: list[Any], detail: dict[str, Any]) -> bool:
    if expected == got:  # the common case (the same values in the same order), without counting
        missing, extra = [], []
    else:
        expected_counts, got_counts = Counter(expected), Counter(got)
        missing = list((expected_counts - got_counts).elements())
        extra = list((got_counts - expected_counts).elements())
    correct = not missing and not extra
    detail["missing"] = describe(tuple(missing))
    detail["extra"] = describe(tuple(extra))
    detail["message"] = "multisets equal (order ignored, duplicates counted)" if correct else (
        f"multisets differ: {len(missing)} expected value(s) missing, {len(extra)} unexpected value(s) "
        "(duplicates count, as in EHRSQL)")
    return correct


def compare_values(expected_raw: Any, got_raw: Any, ordered: bool) -> CheckOutcome:
    expected = [canonical(v) for v in flatten_rows(expected_raw)]
    got = [canonical(v) for v in flatten_rows(got_raw)]
    detail: dict[str, Any] = {"expected": describe(tuple(expected)), "got": describe(tuple(got)),
                              "mode": "list" if ordered else "multiset"}
    correct = (_compare_lists if ordered else _compare_multisets)(expected, got, detail)
    return CheckOutcome(correct, detail)


def check(task, trajectory, backend=None) -> CheckOutcome:
    if not trajectory.has_final_answer:
        return no_answer(trajectory)
    return compare_values(task.answer, trajectory.final_answer, bool(task.checker_params.get("ordered", False)))
