"""Code metrics (real radon) and error categories of hand-built trajectories."""

import json

import pytest

from copilot.agent.trajectory import Trajectory
from copilot.evaluation.code_quality import (ERROR_CATEGORIES, aggregate, code_metrics, error_category,
                                             trajectory_figures)

ONE_IF = "def f(x):\n    if x:\n        return 1\n    return 0\n"
SCRIPT = "import math\n\n# sample size\nn = 10\nfor i in range(3):\n    if i:\n        n += i\nanswer = math.ceil(n)\n"


def code_action(code, turn=1, execution=0):
    raw = json.dumps({"action": "code_execution", "params": {"code": code}})
    return {"turn": turn, "kind": "code_execution", "content": {"code": code}, "raw": raw, "error": None,
            "execution": execution}


def make(actions=(), executions=(), correct=False, answer=True, termination="answered", tokens=None,
         dataset="biostat", task_id="biostat/test/0", rollout_index=0, scored=True):
    return Trajectory(task_id=task_id, dataset=dataset, rollout_index=rollout_index, actions=list(actions),
                      executions=list(executions), has_final_answer=answer, final_answer=1 if answer else None,
                      termination=termination, tokens=tokens if tokens is not None else {},
                      reward={"correct": correct, "format_ok": True, "score": float(correct), "detail": {}}
                      if scored else None)


OK = {"status": "ok", "stdout": "", "stderr": "", "has_answer": True, "answer": 1}


def test_function_with_one_if_has_cc_2():
    metrics = code_metrics(ONE_IF)
    assert metrics["parse_error"] is False
    assert metrics["cc"] == 2.0
    assert (metrics["loc"], metrics["lloc"], metrics["sloc"]) == (4, 4, 4)
    assert 0.0 < metrics["mi"] <= 100.0


def test_script_without_functions_uses_module_complexity():
    metrics = code_metrics(SCRIPT)
    assert metrics["cc"] == 3.0                   # 1 + for + if
    assert (metrics["loc"], metrics["lloc"], metrics["sloc"]) == (8, 6, 6)   # a blank and a comment line


def test_cc_is_mean_over_blocks():
    code = ONE_IF + "\ndef g(y):\n    return y\n"
    assert code_metrics(code)["cc"] == pytest.approx(1.5)
    assert code_metrics("")["cc"] == 1.0


@pytest.mark.parametrize("bad", ["def f(:\n    pass\n", "x = '''open", "if x:\nprint(1)\n", "a = 1\x00\n"])
def test_unparsable_code_is_reported_not_raised(bad):
    assert code_metrics(bad) == {"parse_error": True}


def test_code_metrics_rejects_non_strings():
    with pytest.raises(TypeError, match="code must be a str"):
        code_metrics(None)


def test_error_categories():
    ok_code = code_action("answer = 1")
    assert error_category(make([ok_code], [OK], correct=True)) == "success"
    # success wins over everything
    assert error_category(make([ok_code], [dict(OK, status="error")], correct=True,
                               termination="policy_error")) == "success"
    assert error_category(make([ok_code], [OK], termination="policy_error", answer=False)) == "policy_error"
    bad = {"turn": 2, "kind": None, "content": None, "raw": "not json", "error": "no JSON object", "execution": None}
    assert error_category(make([ok_code, bad], [OK], termination="max_turns")) == "parse_error"
    loop = [code_action("print(1)", turn=t, execution=t - 1) for t in (1, 2, 3)]
    assert error_category(make(loop, [OK] * 3, answer=False, termination="max_turns")) == "repeated_actions"
    assert error_category(make(loop[:2], [OK] * 2, answer=False, termination="max_turns")) == "no_answer"
    failed = [OK, {"status": "timeout", "stdout": "", "stderr": "", "has_answer": False, "answer": None}]
    assert error_category(make([ok_code, code_action("while True: pass", 2, 1)], failed, answer=False,
                               termination="max_turns")) == "runtime_error"
    for status in ("error", "memory", "killed"):
        assert error_category(make([ok_code], [dict(OK, status=status)], answer=False)) == "runtime_error"
    assert error_category(make([ok_code], [OK], answer=False, termination="max_tokens")) == "no_answer"
    assert error_category(make([], [], answer=False, termination="timeout")) == "no_answer"
    assert error_category(make([ok_code], [OK])) == "wrong_answer"


def test_unscored_trajectory_is_an_error():
    with pytest.raises(ValueError, match=r"task 'ehrcon/7', rollout 3\) is not scored"):
        error_category(make(task_id="ehrcon/7", rollout_index=3, scored=False))


def test_trajectory_figures():
    actions = [
        code_action(ONE_IF, 1, 0),
        {"turn": 2, "kind": "terminal", "content": {"command": "ls -la"}, "raw": "...", "error": None,
         "execution": 1},
        code_action("def (:", 3, 2),
        code_action(SCRIPT, 4, 3),
        {"turn": 5, "kind": "final_answer", "content": {"answer": 3}, "raw": "...", "error": None, "execution": None},
    ]
    figures = trajectory_figures(make(actions, [OK] * 4, tokens={"prompt_tokens": 900, "completion_tokens": 120,
                                                                  "total_tokens": 1020}))
    assert figures["turns"] == 5
    assert (figures["input_tokens"], figures["output_tokens"]) == (900, 120)
    assert (figures["code_actions"], figures["code_parse_errors"]) == (3, 1)
    assert figures["cc"] == pytest.approx(2.5)          # (2 + 3) / 2
    assert figures["loc"] == pytest.approx(6.0)         # (4 + 8) / 2
    assert figures["lloc"] == pytest.approx(5.0)
    assert figures["mi"] == pytest.approx((code_metrics(ONE_IF)["mi"] + code_metrics(SCRIPT)["mi"]) / 2)
    assert figures["error_category"] == "wrong_answer"


def test_trajectory_figures_without_code():
    figures = trajectory_figures(make([], [], answer=False, termination="max_turns"))
    assert figures["turns"] == 0 and figures["input_tokens"] == 0 and figures["output_tokens"] == 0
    assert figures["cc"] is None and figures["mi"] is None and figures["loc"] is None
    assert figures["error_category"] == "no_answer"


def test_aggregate():
    trajectories = [
        make([code_action(ONE_IF)], [OK], correct=True, tokens={"prompt_tokens": 100, "completion_tokens": 10}),
        make([code_action(SCRIPT), code_action("def (:", 2, 1)], [OK, dict(OK, status="error")], answer=False,
             tokens={"prompt_tokens": 300, "completion_tokens": 30}, rollout_index=1),
        make([], [], dataset="ehrcon", answer=False, termination="max_tokens",
             tokens={"prompt_tokens": 50, "completion_tokens": 5}),
    ]
    result = aggregate(trajectories)
    assert list(result["by_dataset"]) == ["biostat", "ehrcon"]
    biostat, ehrcon, every = result["by_dataset"]["biostat"], result["by_dataset"]["ehrcon"], result["all"]
    assert biostat["trajectories"] == 2
    assert biostat["turns"] == pytest.approx(1.5)
    assert biostat["input_tokens"] == pytest.approx(200.0)
    assert biostat["output_tokens"] == pytest.approx(20.0)
    assert biostat["cc"] == pytest.approx(2.5)
    assert biostat["loc"] == pytest.approx(6.0)
    assert (biostat["code_actions"], biostat["code_parse_errors"]) == (3, 1)
    assert biostat["errors"] == {"success": 1, "policy_error": 0, "parse_error": 0, "repeated_actions": 0,
                                 "runtime_error": 1, "no_answer": 0, "wrong_answer": 0}
    assert ehrcon["cc"] is None and ehrcon["turns"] == 0.0
    assert ehrcon["errors"]["no_answer"] == 1
    assert list(ehrcon["errors"]) == list(ERROR_CATEGORIES)
    assert every["trajectories"] == 3
    assert every["turns"] == pytest.approx(1.0)
    assert every["input_tokens"] == pytest.approx(150.0)
    assert every["cc"] == pytest.approx(2.5)            # ehrcon has no code: left out of the mean
    assert sum(every["errors"].values()) == 3


def test_aggregate_errors():
    with pytest.raises(ValueError, match="no trajectories"):
        aggregate([])
    with pytest.raises(ValueError, match="is not scored"):
        aggregate([make(scored=False)])
