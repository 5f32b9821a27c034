"""BioCoder and BioDSBench checkers on the real samples, in the real sandbox (process backend, bwrap).

The BioCoder sample's harness imports skimage and pysam (pyproject's `tasks` extra puts them in the sandbox);
a harness importing a module the sandbox lacks makes its reference fail, and the checker must say so loudly
(InvalidTaskError), never score it. A second task drops the skimage / pysam import lines from the harness
(nothing in `sanitize_tex` uses them), as on a sandbox without the extra. BioDSBench's data files are not
in the release, so its "ground truth" here binds the names the asserts read to values that satisfy them; what
is tested is the checker's mechanics (asserts run after the agent's code, early exits and parse tricks fail).
"""

import dataclasses
import time

import pytest

from copilot.agent.trajectory import Trajectory
from reward import score
from reward.checkers import InvalidTaskError
from reward_sample_tasks import biocoder_tasks, biodsbench_tasks, runnable_biocoder_task


def coded(task, code):
    return Trajectory(task_id=task.id, dataset=task.dataset, final_code=code, termination="answered")


def test_biocoder_sample_runs_with_the_task_imports_and_a_missing_module_is_invalid_loudly(backend):
    task = biocoder_tasks()[0]           # its harness imports skimage and pysam: pyproject's `tasks` extra
    assert score(task, coded(task, task.meta["solution"]), backend=backend).correct
    broken = dataclasses.replace(task, id=task.id + "-broken", checker_params={
        **task.checker_params, "harness": "import a_module_nobody_installed\n" + task.checker_params["harness"]})
    with pytest.raises(InvalidTaskError, match="REFERENCE solution fails") as info:
        score(broken, coded(broken, task.meta["solution"]), backend=backend)
    assert "No module named 'a_module_nobody_installed'" in str(info.value)  # the harness import, not a sandbox fault


def test_biocoder_truth_correct_and_cheats_wrong(backend):
    task = runnable_biocoder_task()
    solution = task.meta["solution"]
    result = score(task, coded(task, solution), backend=backend)
    assert result.correct, result.detail
    assert result.detail["got_stdout"] == result.detail["expected_stdout"] != ""

    identity = "def sanitize_tex(original_text):\n    return original_text\n"
    chatty = solution + "\nprint('debug: defined')\n"
    early_exit = "import sys\nsys.exit(0)\n" + solution
    read_other = ("import json, glob\nfor f in glob.glob('/work/**/*.jsonl', recursive=True):\n"
                  "    print(open(f).read())\n" + solution)
    cheats = {"identity": identity, "extra print": chatty, "early exit": early_exit, "empty": "",
              "hard-coded wrong": "def sanitize_tex(original_text):\n    return '$'\n"}
    for name, code in cheats.items():
        outcome = score(task, coded(task, code), backend=backend)
        assert not outcome.correct, (name, outcome.detail)
    # Reading other files prints them (none are mounted, so nothing), then the harness output follows:
    # the extra output, if any, makes it wrong; with nothing to read it is just the solution.
    outcome = score(task, coded(task, read_other), backend=backend)
    assert outcome.detail["got_stdout"] == outcome.detail["expected_stdout"]  # no task file was visible
    assert not score(task, Trajectory(task_id=task.id, dataset=task.dataset), backend=backend).correct


def test_biocoder_slow_code_times_out(backend):
    task = runnable_biocoder_task()
    slow = "import time\ntime.sleep(30)\n" + task.meta["solution"]
    started = time.monotonic()
    result = score(task, coded(task, slow), backend=backend, exec_timeout_s=1.0)
    assert time.monotonic() - started < 10
    assert not result.correct and result.detail["status"] == "timeout"


KMF_TRUTH = ("import numpy as np, types\n"
             "kmf = types.SimpleNamespace(event_observed=np.array([1, 0, 0]),\n"
             "                            durations=np.array([100.0, 100.0, 32.94]))\n")
DOSE_TRUTH = ("import pandas as pd\n"
              "dose_counts = pd.DataFrame({250: [3, 0], 300: [4, 0], 350: [0, 10]}, index=['A', 'D-Exp'])\n")


def test_biodsbench_asserts_decide(backend):
    kmf_task, dose_task = biodsbench_tasks()
    for task, truth in ((kmf_task, KMF_TRUTH), (dose_task, DOSE_TRUTH)):
        result = score(task, coded(task, truth), backend=backend)
        assert result.correct, result.detail
    wrong = DOSE_TRUTH.replace("[0, 10]", "[0, 9]")
    cheats = {
        "wrong counts": wrong,
        "early exit": DOSE_TRUTH.replace("import pandas as pd\n", "import pandas as pd, sys\nsys.exit(0)\n"),
        "os._exit": "import os\nos._exit(0)\n",
        "swallow the tests": DOSE_TRUTH + 's = """\n',
        "nothing": "x = 1\n",
        "empty": "",
        "set answer": wrong + "answer = 'passed'\n",
    }
    for name, code in cheats.items():
        outcome = score(dose_task, coded(dose_task, code), backend=backend)
        assert not outcome.correct, (name, outcome.detail)
    assert score(dose_task, coded(dose_task, wrong), backend=backend).detail["message"].startswith("a test_cases")
