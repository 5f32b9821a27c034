"""Harness shapes of the MedAgentGym release, built here as small records of the same shape, in the real sandbox:
a BioCoder placeholder inside a class body (a decorated method), the commented placeholder, removed NumPy 1
aliases, BioDSBench's earlier notebook cells and /workdir paths."""

from __future__ import annotations

import json

import pytest

from copilot.agent.trajectory import Trajectory
from copilot.tasks.task import Task
from reward import score
from reward.checkers.numpy1_aliases import shim_for, used_aliases
from reward.checkers.solution_insertion import indent_code, insert_solution, placeholder_indent

CLASS_HARNESS = '''import numpy as np
class Regions:
    def __init__(self):
        self.values = {0: 3, 1: 5, 2: 4}
    <<insert solution here>>
def main():
    print(Regions().best)
    print(Regions.double(21))
if __name__ == "__main__":
    main()
'''
METHODS = '''@property
def best(self):
    """The key with the largest value.

    (a docstring line that must keep its own indentation)
    """
    return max(self.values, key=self.values.get)
@staticmethod
def double(x):
    note = """line one
line two"""
    return 2 * x
'''


def coded(task: Task, code: str) -> Trajectory:
    return Trajectory(task_id=task.id, dataset=task.dataset, final_code=code, termination="answered")


def biocoder_task(harness: str, reference: str, name: str = "best") -> Task:
    return Task(id=f"biocoder/test/{abs(hash(harness)) % 10_000}", dataset="biocoder", split="test",
                family="bioinformatics", question="q", answer=None, checker="biocoder",
                checker_params={"harness": harness, "reference": reference, "function_name": name})


def test_class_body_placeholder_gets_the_methods_at_its_depth_and_strings_keep_their_text():
    assert placeholder_indent(CLASS_HARNESS) == "    "
    program = insert_solution(CLASS_HARNESS, METHODS)
    compile(program, "<program>", "exec")
    assert "    @property\n    def best(self):" in program
    assert 'note = """line one\nline two"""' in program      # a string's continuation line is not shifted
    with pytest.raises(IndentationError):                     # what the release's plain replacement gave
        compile(CLASS_HARNESS.replace("<<insert solution here>>", METHODS), "<program>", "exec")
    assert indent_code("    def f():\n        return 1\n", "  ") == "  def f():\n      return 1\n"


def test_placeholder_markers_are_counted_and_the_commented_one_is_a_placeholder():
    assert placeholder_indent("x = 1\n# <<insert solution here>>\n") == ""
    assert insert_solution("a\n# <<insert solution here>>\nb\n", "def f():\n    pass") == "a\ndef f():\n    pass\nb\n"
    with pytest.raises(ValueError, match="exactly one"):
        placeholder_indent("<<insert solution here>>\n<<insert solution here>>\n")
    with pytest.raises(ValueError, match="found 0"):
        placeholder_indent("no marker")


def test_method_in_a_class_body_scores_correct_and_null_methods_wrong(backend):
    task = biocoder_task(CLASS_HARNESS, METHODS)
    result = score(task, coded(task, METHODS), backend=backend)
    assert result.correct, result.detail
    assert result.detail["got_stdout"] == "1\n42\n"
    wrong = METHODS.replace("return max(self.values, key=self.values.get)", "return None")
    assert not score(task, coded(task, wrong), backend=backend).correct


def test_removed_numpy1_aliases_are_restored_only_where_the_task_uses_them(backend):
    harness = ("import numpy as np\n<<insert solution here>>\n"
               "print(scaled([1, 2]).dtype, np.float_ is np.float64, np.NaN != np.NaN)\n")
    reference = "def scaled(values):\n    return np.asfarray(values) / 2\n"
    assert used_aliases(harness + reference) == ["NaN", "asfarray", "float_"]
    assert used_aliases("x = numpy.product([1]); y = np.trapz; z = np.float64") == ["product", "trapz"]
    assert shim_for([]) == ""
    task = biocoder_task(harness, reference, name="scaled")
    result = score(task, coded(task, reference), backend=backend)
    assert result.correct, result.detail
    assert result.detail["got_stdout"] == "float64 True True\n"
    assert result.detail["numpy1_aliases"] == ["NaN", "asfarray", "float_"]
    # integer input: NumPy 1's asfarray made it float64 (the shim keeps that, an asarray would not)
    check = "import numpy as np\n" + shim_for(["asfarray"]) + "answer = str(np.asfarray([1, 2], dtype=int).dtype)"
    with backend.open_session({}) as session:
        assert session.run_python(check).answer == "float64"


def test_biodsbench_earlier_cells_run_before_the_final_code_with_paths_rewritten(backend, tmp_path):
    from copilot.tasks import load

    study = tmp_path / "biodsbench"
    (study / "data").mkdir(parents=True)
    (study / "data" / "patients.csv").write_text("id,months\n1,10\n2,20\n3,30\n")
    setup = "import pandas as pd\npatients = pd.read_csv('/workdir/patients.csv')\n"
    record = {"queries": "Mean follow-up of the patients, as `mean_months`.",
              "dataframes": "A Dataframe stored in `/workdir/patients.csv`.", "cot_instructions": "",
              "test_cases": "assert mean_months == 20", "reference_answer": "mean_months = patients['months'].mean()",
              "study_ids": "1", "question_ids": "2", "chat_histories": "[]", "reference_codes": "[]",
              "code_histories": repr([setup])}
    (study / "test_tasks.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (task,) = load(study, "test")
    assert "/workdir" not in task.context + task.checker_params["setup_code"]
    assert "/data/data/patients.csv" in task.checker_params["setup_code"]
    result = score(task, coded(task, task.meta["reference_solution"]), backend=backend)
    assert result.correct, result.detail
    assert not score(task, coded(task, "mean_months = 19"), backend=backend).correct
    # without the earlier cells the reference cannot run: `patients` is theirs
    bare = Task(**{**task.to_dict(), "checker_params": {"test_cases": task.checker_params["test_cases"]}})
    outcome = score(bare, coded(bare, task.meta["reference_solution"]), backend=backend)
    assert "NameError" in outcome.detail["stderr_tail"]
