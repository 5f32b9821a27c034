"""The pure checkers (no sandbox) on the real MedAgentGym samples: ground truth correct, cheats wrong.

Execution-level cheats (reading other tasks' files, sys.exit before answering, printing without assigning)
end with NO final answer; here that is `has_final_answer=False`, and test_reward_single_turn_cheats.py shows the
sandbox producing exactly that from real code.
"""

import csv

import pytest

from copilot.agent.trajectory import Trajectory
from copilot.tasks.task import Task
from reward import score
from reward.checkers import InvalidTaskError
from reward_sample_tasks import (ehrcon_tasks, medagentbench_tasks, medcalc_tasks, npower_tasks, sql_tasks)


def answered(task, value):
    return Trajectory.answered(task.id, task.dataset, value)


def unanswered(task):
    return Trajectory(task_id=task.id, dataset=task.dataset, termination="max_turns")


def verdict(task, value):
    return score(task, answered(task, value)).correct


@pytest.mark.parametrize("task", sql_tasks(), ids=lambda t: t.id)
def test_sql_samples_truth_correct_and_cheats_wrong(task):
    truth = task.answer
    assert verdict(task, truth)
    assert verdict(task, list(reversed(truth)))  # multisets (EHRSQL): order does not matter
    assert verdict(task, [[v] for v in truth])  # rows of one column
    assert not verdict(task, truth + ["some other value"])  # superset
    candidates = sorted(set(truth) | {"po", "iv", "sc", "oral", "po/ng", "ng", "92", "136", "1"})
    assert not verdict(task, candidates)  # every candidate value of the column
    assert not verdict(task, [])  # empty
    assert not verdict(task, None)
    assert not verdict(task, "")
    assert not score(task, unanswered(task)).correct  # no final answer (exited early, only printed ...)
    if len(truth) > 1:
        assert not verdict(task, truth[:1])  # the release's first-element defect
    number = [float(v) for v in truth if v.replace(".", "").isdigit()]
    if number:
        assert verdict(task, number[0]) and verdict(task, f"{number[0]:.1f}")  # "92" == 92 == "92.0"
        assert not verdict(task, round(number[0] * 1.05))  # a wrong number within 10%


def test_sql_no_substring_matching_and_ordered_lists():
    task = Task(id="t", dataset="mimic_iii", split="test", family="ehr_sql", question="q",
                answer=["po/ng"], checker="sql")
    assert not verdict(task, "po") and not verdict(task, "po/ng/iv") and verdict(task, " PO/NG ")
    ordered = Task(id="o", dataset="mimic_iii", split="test", family="ehr_sql", question="q",
                   answer=["b", "a"], checker="sql", checker_params={"ordered": True})
    assert verdict(ordered, ["b", "a"]) and not verdict(ordered, ["a", "b"])
    literal = Task(id="l", dataset="treqs", split="test", family="ehr_sql", question="q",
                   answer="['2105-03-01 10:00:00', '1']", checker="sql")
    assert verdict(literal, ["2105-03-01T10:00:00", True])
    result = score(task, answered(task, ["po", "iv"]))
    assert result.detail["missing"] == ["po/ng"] and result.detail["extra"] == ["po", "iv"]
    assert result.detail["message"].startswith("multisets differ")


def test_sql_numbers_exact_and_duplicates_counted():
    big = Task(id="n", dataset="mimic_iii", split="test", family="ehr_sql", question="q", answer=["1234567890"],
               checker="sql")
    assert verdict(big, 1234567890) and verdict(big, "1234567890.0")
    assert not verdict(big, 1234567891)  # was equal under the old 9-significant-digit rounding
    noisy = Task(id="f", dataset="eicu", split="test", family="ehr_sql", question="q",
                 answer=["1.9000000000000004"], checker="sql")
    assert verdict(noisy, 1.9000000000000004) and not verdict(noisy, 1.9)  # str(float) is the release's precision
    ages = Task(id="d", dataset="eicu", split="test", family="ehr_sql", question="q", answer=["70", "70"],
                checker="sql")
    assert verdict(ages, [70, 70.0]) and verdict(ages, [[70], [70]])
    assert not verdict(ages, [70]) and not verdict(ages, [70, 70, 70])  # EHRSQL: duplicates count
    result = score(ages, answered(ages, [70]))
    assert result.detail["missing"] == [70] and result.detail["extra"] == [] and result.detail["mode"] == "multiset"
    mixed = Task(id="m", dataset="treqs", split="test", family="ehr_sql", question="q", answer=["a", "b", "a"],
                 checker="sql")
    assert verdict(mixed, ["b", "a", "a"]) and not verdict(mixed, ["a", "b", "b"])
    ordered = Task(id="o", dataset="mimic_iii", split="test", family="ehr_sql", question="q",
                   answer=["b", "a", "a"], checker="sql", checker_params={"ordered": True})
    assert verdict(ordered, ["b", "a", "a"]) and not verdict(ordered, ["a", "a", "b"])
    assert not verdict(ordered, ["b", "a"]) and score(ordered, answered(ordered, ["b"])).detail["mode"] == "list"


@pytest.mark.parametrize("task", medcalc_tasks(), ids=lambda t: t.id)
def test_medcalc_samples(task):
    truth = task.answer
    assert verdict(task, truth) and verdict(task, str(truth)) and verdict(task, [truth])
    assert verdict(task, truth * 1.04)  # inside the release's Lower/Upper Limit (±5%)
    assert not verdict(task, truth * 1.08)  # a wrong number within 10%
    assert not verdict(task, truth * 0.92)
    assert not verdict(task, [truth * f for f in (0.5, 0.9, 1.0, 1.1, 2.0)])  # every candidate
    assert not verdict(task, 0.0)  # the release accepted any non-negative number
    assert not verdict(task, None) and not verdict(task, "") and not verdict(task, [])
    assert not verdict(task, True)
    assert not score(task, unanswered(task)).correct
    detail = score(task, answered(task, truth * 1.08)).detail
    assert detail["lower"] == task.checker_params["lower"] and "Limit" in detail["rule"]


def _calc(answer, output_type, lower=None, upper=None):
    return Task(id=f"calc-{output_type}", dataset="medcalc", split="test", family="medcalc", question="q",
                answer=answer, checker="medcalc",
                checker_params={"lower": lower, "upper": upper, "output_type": output_type})


def test_medcalc_rules_without_limits():
    decimal = _calc(10.0, "decimal")
    assert verdict(decimal, 10.49) and not verdict(decimal, 10.6) and not verdict(decimal, 9.4)
    integer = _calc(3, "integer")
    assert verdict(integer, 3) and verdict(integer, "3.0") and not verdict(integer, 3.2) and not verdict(integer, 4)
    date = _calc("03/15/2021", "date")
    assert verdict(date, "03/15/2021") and verdict(date, "2021-03-15") and not verdict(date, "03/16/2021")
    weeks = _calc([4, 2], "weeks_days")
    assert verdict(weeks, (4, 2)) and verdict(weeks, "(4, 2)") and verdict(weeks, "4 weeks, 2 days")
    assert verdict(weeks, "('4 weeks', '2 days')")
    assert not verdict(weeks, [4, 3]) and not verdict(weeks, [[4, 2], [4, 3]])
    with pytest.raises(InvalidTaskError, match="output_type"):
        score(_calc(1.0, "fraction"), Trajectory.answered("x", "medcalc", 1.0))


def test_medcalc_reads_natural_answers_strictly():
    integer = _calc(4, "integer", 4.0, 4.0)
    for natural in ("The score is 4.", "approximately 4", "~4", "4 points", "4.0", "4 (four); a score of 4"):
        assert verdict(integer, natural), natural
    for wrong in ("4.5", "4.5 points", "The score is 5.", "step 2 gives 4", "4 or 5", "four", True, "", None):
        assert not verdict(integer, wrong), wrong
    detail = score(integer, answered(integer, "step 2 gives 4")).detail
    assert detail["extraction"].startswith("ambiguous") and "[2.0, 4.0]" in detail["extraction"]
    gfr = _calc(25.0, "decimal", 23.75, 26.25)
    for natural in ("25.0 mL/min", "25.0 mL/min/1.73 m²", "approximately 25.9 mL/min/1.73m2", "GFR = 25"):
        assert verdict(gfr, natural), natural
    assert not verdict(gfr, "27 mL/min") and not verdict(gfr, "25 or 26 mL/min") and not verdict(gfr, "25-26")
    date = _calc("09/23/2014", "date")
    for natural in ("September 23, 2014", "Sept. 23, 2014", "23 September 2014", "Sep 23 2014", "2014-09-23"):
        assert verdict(date, natural), natural
    assert not verdict(date, "September 24, 2014") and not verdict(date, "09/23/2014 or 09/24/2014")
    assert "not a real date" in score(date, answered(date, "02/30/2014")).detail["extraction"]
    weeks = _calc([14, 1], "weeks_days")
    for natural in ("14w1d", "14 weeks 1 day", "14 weeks and 1 day", "(14, 1)", "14+1", "('14 weeks', '1 day')"):
        assert verdict(weeks, natural), natural
    assert not verdict(weeks, "14w1d or 14w2d") and not verdict(weeks, "14 weeks") and not verdict(weeks, "1w14d")


@pytest.mark.parametrize("task", npower_tasks(), ids=lambda t: t.id)
def test_npower_samples(task):
    truth = task.answer
    assert verdict(task, truth) and verdict(task, str(truth)) and verdict(task, float(truth))
    if task.checker_params["target"] == "size":
        assert not verdict(task, truth + 0.3)  # within 10% but not an integer
        assert not verdict(task, truth + 1)
        assert not verdict(task, list(range(1, 50)))  # every candidate size
    else:
        assert verdict(task, truth * 0.995)  # within 1% (relative)
        assert not verdict(task, truth * 0.95)  # a wrong power within 10%
        assert not verdict(task, truth * 100)  # a bare number over 1 is not read as a percentage
        assert verdict(task, f"{truth * 100}%") and verdict(task, f"The power is {truth}.")
        assert not verdict(task, [0.8, 0.9, 1.0])
    assert not verdict(task, None) and not verdict(task, []) and not verdict(task, True)
    assert not score(task, unanswered(task)).correct


def _npower(answer, target):
    return Task(id=f"np-{target}", dataset="npowerai", split="test", family="biostat", question="q", answer=answer,
                checker="npower", checker_params={"target": target})


def test_npower_reads_natural_answers_strictly():
    size = _npower(64, "size")
    for natural in (64, 64.0, "64", "64.0", "n = 64 per group", "64 participants in each group", ["64"]):
        assert verdict(size, natural), natural
    for wrong in (64.3, "64.3", 65, "64 per group, 128 in total", "n = 64 (power 80%)", True, "sixty-four"):
        assert not verdict(size, wrong), wrong
    assert score(size, answered(size, "64 per group, 128 in total")).detail["extraction"].startswith("ambiguous")
    power = _npower(0.8, "power")
    for natural in (0.8, "0.8", "80%", "80.0 %", "power = 80 percent", "0.8 (80%)", 0.805, "80.5%"):
        assert verdict(power, natural), natural
    for wrong in (80, "80", 0.75, "79%", "0.8 (85%)", "power 0.8 at alpha 0.05", -0.8, "-80%"):
        assert not verdict(power, wrong), wrong
    full = _npower(1.0, "power")
    assert verdict(full, 1.0) and verdict(full, "100%") and verdict(full, 0.995)
    for beyond in (1.005, "100.5%", 1.01):  # within 1% of the truth, but a power is a probability
        result = score(full, answered(full, beyond))
        assert not result.correct and "not a probability" in result.detail["message"], beyond


@pytest.mark.parametrize("task", ehrcon_tasks(), ids=lambda t: t.id)
def test_ehrcon_samples(task):
    assert verdict(task, task.answer) and verdict(task, str(task.answer).lower())
    assert not verdict(task, not task.answer)
    assert not verdict(task, [True, False]) and not verdict(task, None) and not verdict(task, "yes")
    assert not score(task, unanswered(task)).correct


@pytest.mark.parametrize("task", medagentbench_tasks(), ids=lambda t: t.id)
def test_medagentbench_get_samples(task):
    assert verdict(task, task.answer) and verdict(task, task.answer[0])
    assert not verdict(task, task.answer + ["Patient not found"])
    assert not verdict(task, task.answer[0][:-1]) and not verdict(task, [])


def _labels(tmp_path, rows):
    path = tmp_path / "test_labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "label"])
        writer.writerows(rows)
    return Task(id="ehrshot/guo_los", dataset="ehrshot", split="test", family="ml_prediction", question="predict",
                answer=None, checker="ml_accuracy",
                checker_params={"labels_path": str(path), "id_column": "patient_id", "label_column": "label",
                                "accuracy_threshold": 0.8})


def test_ml_accuracy_over_all_patients(tmp_path):
    rows = [(i, "True" if i % 3 == 0 else "False") for i in range(1, 11)]
    task = _labels(tmp_path, rows)
    truth = {str(i): label == "True" for i, label in rows}
    result = score(task, answered(task, truth))
    assert result.correct and result.detail["accuracy"] == 1.0
    # Only the 5 easiest patients answered: the release scored 100% (divided by predictions); we score 50%.
    half = dict(list(truth.items())[:5])
    result = score(task, answered(task, half))
    assert not result.correct and result.detail["accuracy"] == 0.5 and result.detail["n_missing"] == 5
    # Hedging: both labels for every patient.
    hedge = [[pid, True] for pid in truth] + [[pid, False] for pid in truth]
    assert score(task, answered(task, hedge)).detail["accuracy"] == 0.0
    records = [{"patient_id": int(pid), "prediction": int(v)} for pid, v in truth.items()]
    assert score(task, answered(task, records)).correct
    nine = dict(truth, **{"1": not truth["1"], "2": not truth["2"], "3": not truth["3"]})
    result = score(task, answered(task, nine))
    assert not result.correct and result.detail["accuracy"] == pytest.approx(0.7)
    assert not score(task, answered(task, "all true")).correct
    assert not score(task, unanswered(task)).correct


def test_invalid_task_is_loud():
    task = Task(id="np", dataset="npowerai", split="test", family="biostat", question="q", answer=5,
                checker="npower")
    with pytest.raises(InvalidTaskError, match="checker_params\\['target'\\]"):
        score(task, Trajectory.answered("np", "npowerai", 5))
    with pytest.raises(ValueError, match="unknown"):
        score(Task(id="u", dataset="d", split="s", family="f", question="q", answer=1, checker="nope"),
              Trajectory.answered("u", "d", 1))


def test_score_weights_and_dict_inputs():
    task = sql_tasks()[0]
    trajectory = answered(task, task.answer)
    result = score(task.to_dict(), trajectory.to_dict())
    assert (result.correct, result.format_ok, result.score) == (True, True, 1.1)
    assert score(task, trajectory, weights={"format": 0.0}).score == 1.0
    wrong = score(task, answered(task, ["x"]))
    assert (wrong.correct, wrong.score) == (False, pytest.approx(0.1))
    assert wrong.detail["checker"] == "sql" and wrong.detail["task_id"] == task.id
    with pytest.raises(ValueError, match="unknown key"):
        score(task, trajectory, weights={"style": 1.0})


