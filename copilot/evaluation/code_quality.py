"""Code-quality figures and error categories of trajectories (radon metrics, turns, tokens, failure kind).

    code_metrics("def f(x):\\n    if x:\\n        return 1\\n    return 0\\n")   # {"cc": 2.0, "mi": ..., "loc": 4, ...}
    error_category(trajectory)             # "success", "parse_error", "runtime_error", "wrong_answer", ...
    trajectory_figures(trajectory)         # turns, tokens, mean code metrics, error category of one rollout
    aggregate(trajectories)                # {"by_dataset": {dataset: figures}, "all": figures}

Code metrics (radon): "cc" is the mean cyclomatic complexity of the blocks `radon.complexity.cc_visit`
returns (functions, methods and classes, the blocks radon's own "average complexity" counts); code with no
function or class, the usual shape of an agent's script, gets the module-level complexity instead
(`ComplexityVisitor.from_code(code).total_complexity`, 1 for straight-line code). Module-level statements
of code that also defines functions are not counted (radon's convention). "mi" is the maintainability index
with multi-line strings counted as comments; "loc" / "lloc" / "sloc" come from `radon.raw.analyze`.

Error categories, checked in this order (the first that applies wins):
    success           reward["correct"] is True
    policy_error      termination == "policy_error" (the policy failed; what the agent did is incidental)
    parse_error       the last action has an "error" (its reply could not be parsed into an action)
    repeated_actions  the last 3 actions have identical raw text, whitespace-stripped (the paper's "stuck
                      in a loop"); a pair of identical actions is not enough: agents legitimately re-run code
    runtime_error     the trajectory's last execution has a status other than "ok" (error, timeout,
                      memory, killed), even when a final answer followed it
    no_answer         trajectory.has_final_answer is False (max_turns, max_tokens, timeout without an answer)
    wrong_answer      everything else: an answer was given and judged wrong

Simplified: only code_execution actions are measured (terminal commands are shell, debug actions repeat
code already run); a trajectory's code figures are the mean over its parsable code actions, and aggregates
are means over trajectories (each trajectory weighs the same, whatever its number of code actions).
Not protected against: radon's own limits (it measures source text, not whether the code ran), and
trajectories of the same task counted twice.
"""

from __future__ import annotations

import json
import tokenize
from collections.abc import Iterable
from typing import Any

from radon.complexity import cc_visit
from radon.metrics import mi_visit
from radon.raw import analyze
from radon.visitors import ComplexityVisitor

ERROR_CATEGORIES = ("success", "policy_error", "parse_error", "repeated_actions", "runtime_error", "no_answer",
                    "wrong_answer")
CODE_METRICS = ("cc", "mi", "loc", "lloc", "sloc")
MEAN_FIGURES = ("turns", "input_tokens", "output_tokens", "cc", "mi", "loc", "lloc", "sloc")
REPEAT_WINDOW = 3


def code_metrics(code: str) -> dict[str, Any]:
    """cc, mi, loc, lloc and sloc of Python source; {"parse_error": True} when radon cannot parse it."""
    if not isinstance(code, str):
        raise TypeError(f"code must be a str of Python source, got {type(code).__name__}")
    try:
        blocks = cc_visit(code)
        if blocks:
            cc = sum(block.complexity for block in blocks) / len(blocks)
        else:
            cc = float(ComplexityVisitor.from_code(code).total_complexity)
        mi = float(mi_visit(code, multi=True))
        raw = analyze(code)
    # SyntaxError covers IndentationError; ValueError: null bytes; RecursionError: absurdly nested code
    except (SyntaxError, ValueError, tokenize.TokenError, RecursionError):
        return {"parse_error": True}
    return {"parse_error": False, "cc": cc, "mi": mi, "loc": raw.loc, "lloc": raw.lloc, "sloc": raw.sloc}


def _where(trajectory) -> str:
    return f"trajectory (task {trajectory.task_id!r}, rollout {trajectory.rollout_index})"


def _action_key(action: dict[str, Any]) -> str:
    raw = action.get("raw")
    if isinstance(raw, str):
        return raw.strip()
    return json.dumps({"kind": action.get("kind"), "content": action.get("content")}, sort_keys=True, default=str)


def _stuck(actions: list[dict[str, Any]]) -> bool:
    if len(actions) < REPEAT_WINDOW:
        return False
    return len({_action_key(action) for action in actions[-REPEAT_WINDOW:]}) == 1


def error_category(trajectory) -> str:
    """One of ERROR_CATEGORIES (see the module docstring for the order of precedence)."""
    reward = trajectory.reward
    if not isinstance(reward, dict) or "correct" not in reward:
        raise ValueError(f"{_where(trajectory)} is not scored (reward is {reward!r}); score it before "
                         "categorising its errors")
    if reward["correct"] is True:
        return "success"
    if trajectory.termination == "policy_error":
        return "policy_error"
    actions = list(trajectory.actions or [])
    if actions and actions[-1].get("error"):
        return "parse_error"
    if _stuck(actions):
        return "repeated_actions"
    executions = list(trajectory.executions or [])
    if executions and executions[-1].get("status") != "ok":
        return "runtime_error"
    if not trajectory.has_final_answer:
        return "no_answer"
    return "wrong_answer"


def _code_of(action: dict[str, Any]) -> str | None:
    if action.get("kind") != "code_execution" or action.get("error"):
        return None
    content = action.get("content")
    code = content.get("code") if isinstance(content, dict) else None
    return code if isinstance(code, str) else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _token(tokens: dict[str, Any] | None, key: str) -> int:
    value = (tokens or {}).get(key)
    return int(value) if value is not None else 0


def trajectory_figures(trajectory) -> dict[str, Any]:
    """Turns, token counts, mean code metrics of the parsable code_execution actions, and the error category.

    Code metrics are None when no code action parsed; "code_actions" counts the code_execution actions with
    code, "code_parse_errors" those of them radon could not parse.
    """
    category = error_category(trajectory)
    measured: list[dict[str, Any]] = []
    failed = 0
    codes = [code for code in (_code_of(action) for action in trajectory.actions or []) if code is not None]
    for code in codes:
        metrics = code_metrics(code)
        if metrics["parse_error"]:
            failed += 1
        else:
            measured.append(metrics)
    figures: dict[str, Any] = {
        "turns": len(trajectory.actions or []),
        "input_tokens": _token(trajectory.tokens, "prompt_tokens"),
        "output_tokens": _token(trajectory.tokens, "completion_tokens"),
        "code_actions": len(codes),
        "code_parse_errors": failed,
    }
    for name in CODE_METRICS:
        figures[name] = _mean([metrics[name] for metrics in measured])
    figures["error_category"] = category
    return figures


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"trajectories": len(rows)}
    for name in MEAN_FIGURES:
        out[name] = _mean([row[name] for row in rows if row[name] is not None])
    out["code_actions"] = sum(row["code_actions"] for row in rows)
    out["code_parse_errors"] = sum(row["code_parse_errors"] for row in rows)
    out["errors"] = {category: sum(1 for row in rows if row["error_category"] == category)
                     for category in ERROR_CATEGORIES}
    return out


def aggregate(trajectories: Iterable) -> dict[str, Any]:
    """{"by_dataset": {dataset (sorted): summary}, "all": summary} over scored trajectories.

    A summary holds "trajectories", the None-aware means of MEAN_FIGURES (None when no trajectory has the
    figure), the totals "code_actions" / "code_parse_errors", and "errors": a count for every category.
    """
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    every: list[dict[str, Any]] = []
    for trajectory in trajectories:
        row = trajectory_figures(trajectory)
        by_dataset.setdefault(trajectory.dataset, []).append(row)
        every.append(row)
    if not every:
        raise ValueError("aggregate: no trajectories to summarise")
    return {"by_dataset": {name: _summary(by_dataset[name]) for name in sorted(by_dataset)},
            "all": _summary(every)}
