"""Null mutants: answers that know nothing about the task, which a gradable task must score wrong.

- function tasks (BioCoder, the offline biocoder pack): the task's own signature (decorators kept, so a
  `@property` stays a property) with a body that does nothing: a docstring only ("empty"), `pass`,
  `return None`, and a constant (`return 0`). A harness that prints the same for these as for the reference
  never calls the function, redefines it after the placeholder, or prints nothing that depends on it.
- analysis tasks (BioDSBench): `pass`, and every variable the tests read that the reference assigns set to 0.
- answer tasks: no final answer, None, "", [] and a constant that differs from the ground truth.

Simplified: mutants are syntactic (no search for a near-miss solution); a task can pass this audit and still
accept a wrong answer that looks right (this finds tests that test nothing, not weak tests).
"""

from __future__ import annotations

import ast
import re
from typing import Any

_DEF_LINE = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\(", re.MULTILINE)
FUNCTION_BODIES = {"empty": '"""Does nothing."""', "pass": "pass", "return None": "return None",
                   "constant": "return 0"}


def function_mutants(signature: str) -> dict[str, str]:
    """kind -> code for a function task, from its signature ("@property\\ndef f(self)" or "def f(a, b)")."""
    head = signature.rstrip().rstrip(":").rstrip()
    if not _DEF_LINE.search(head):
        raise ValueError(f"signature {signature!r}: expected optional decorator lines and a 'def name(args)' line")
    return {kind: f"{head}:\n    {body}\n" for kind, body in FUNCTION_BODIES.items()}


def _assigned(code: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _read(code: str) -> list[str]:
    seen: dict[str, None] = {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            seen.setdefault(node.id, None)
    return list(seen)


def analysis_mutants(reference: str, tests: str) -> dict[str, str]:
    """kind -> code for an analysis task: `pass`, and the tested variables set to 0 (when any can be found)."""
    mutants = {"pass": "pass\n"}
    try:
        tested = [name for name in _read(tests) if name in _assigned(reference)]
    except SyntaxError:
        return mutants
    if tested:
        mutants["constant"] = "".join(f"{name} = 0\n" for name in tested)
    return mutants


def wrong_constant(truth: Any) -> Any:
    """A value of the truth's kind that is far from the truth (10|x| + 7 for a number, another word or date)."""
    if isinstance(truth, bool):
        return not truth
    if isinstance(truth, (int, float)):
        far = abs(truth) * 10 + 7      # ≥ 9|truth| + 7 away, and of the other sign when truth < 0
        return float(far) if isinstance(truth, float) else int(far)
    if isinstance(truth, list):
        if len(truth) == 2 and all(isinstance(v, int) for v in truth):
            return [truth[0] + 3, (truth[1] + 1) % 7]          # (weeks, days)
        return list(truth) + ["an extra value"] if truth else ["a value"]
    if isinstance(truth, str):
        if re.fullmatch(r"\d{2}/\d{2}/\d{4}", truth):
            month, day, year = truth.split("/")
            return f"{month}/{day}/{int(year) + 1}"
        return truth + " (not this)"
    return "a constant"


_NULL_WORDS = {"", "none", "null", "nan"}


def is_null_like(value: Any) -> bool:
    """None, "", "None" / "null" / "nan", or a list of only such values (the empty list too)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() in _NULL_WORDS
    if isinstance(value, (list, tuple)):
        return all(is_null_like(item) for item in value)
    return False


def answer_mutants(truth: Any) -> dict[str, tuple[bool, Any]]:
    """kind -> (has_final_answer, answer) for an answer task. When the truth is itself null-like (an SQL
    question whose answer is a NULL or no row), the null answers are not mutants and only the constant stays."""
    mutants = {"no answer": (False, None), "None": (True, None), "empty string": (True, ""),
               "empty list": (True, []), "constant": (True, wrong_constant(truth))}
    if is_null_like(truth):
        return {"no answer": mutants["no answer"], "constant": (True, ["a value that is not null"])}
    return mutants
