"""`python -m copilot.tasks.audit` on small datasets shaped like the release's hard cases (written here, never
copied from the release), run as a user runs it: a subprocess with the real sandbox. Covers each verdict and
reason kind, malformed records, missing data, bad directories, the summary files, resume, and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from copilot.tasks.audit.mutants import analysis_mutants, answer_mutants, function_mutants, wrong_constant

ADD_ONE = "def add_one(x):\n    return x + 1\n"
GOOD_HARNESS = "import numpy as np\n<<insert solution here>>\nprint(add_one(np.arange(3)).tolist())\n"


def biocoder(signature: str, harness: str, solution: str, problem: str = "Write it.") -> dict:
    return {"idx": f"{abs(hash(harness)):x}", "problem": problem, "signature": signature, "context": harness,
            "solution": solution, "code": harness.replace("<<insert solution here>>", solution)}


BIOCODER_RECORDS = [
    biocoder("def add_one(x)", GOOD_HARNESS, ADD_ONE),
    # the harness defines the function again after the placeholder: whatever the agent writes is replaced
    biocoder("def add_one(x)", GOOD_HARNESS.replace("print(", ADD_ONE + "print("), ADD_ONE),
    biocoder("def noisy()", "import random\n<<insert solution here>>\nprint(noisy())\n",
             "def noisy():\n    return random.random()\n"),
    biocoder("def add_one(x)", "import a_module_nobody_installed\n" + GOOD_HARNESS, ADD_ONE),
    biocoder("def as_floats(x)", "import numpy as np\n<<insert solution here>>\nprint(as_floats([1, 2]).dtype)\n",
             "def as_floats(x):\n    return np.asfarray(x)\n"),
    biocoder("@property\ndef total(self)",
             "class Box:\n    def __init__(self):\n        self.items = [1, 2, 3]\n    <<insert solution here>>\n"
             "print(Box().total)\n", "@property\ndef total(self):\n    return sum(self.items)\n"),
]
GCS_ENTITIES = {"Best eye response": "eyes open spontaneously", "Best verbal response": "oriented",
                "Best motor response": "obeys commands"}


def medcalc(row: int, calculator_id: int, name: str, entities: dict, truth: str, lower: str, upper: str) -> dict:
    return {"Row Number": row, "Calculator ID": calculator_id, "Calculator Name": name, "Patient Note": "A note.",
            "Question": "What is it?", "Relevant Entities": repr(entities), "Ground Truth Answer": truth,
            "Lower Limit": lower, "Upper Limit": upper}


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "release"
    write_lines(root / "biocoder" / "test_tasks.jsonl",
                [json.dumps(r) for r in BIOCODER_RECORDS]
                + ["{not json", json.dumps({k: v for k, v in BIOCODER_RECORDS[0].items() if k != "signature"})])
    write_lines(root / "medcalcbench" / "test_tasks.jsonl", [
        json.dumps(medcalc(1, 21, "Glasgow Coma Score (GCS)", GCS_ENTITIES, "17", "17", "17")),   # E4 V5 M6 = 15
        json.dumps(medcalc(2, 6, "Body Mass Index (BMI)", {"weight": [70.0, "kg"], "height": [175.0, "cm"]},
                           "22.857", "21.714", "24.0"))])
    mimic = {"db_id": "mimic_iii", "question": "q", "template": "how many patients?", "query": "select 1",
             "q_tag": "t", "answer": ["3"]}
    write_lines(root / "mimic_iii" / "valid_tasks.jsonl", [json.dumps(mimic)])                  # no tables
    (root / "npowerai").mkdir()
    (root / "npowerai" / "test_tasks.jsonl").write_bytes(b'{"task_type": "\xff\xfe"}\n')        # not UTF-8
    return root


def run_audit(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "copilot.tasks.audit", *args, "--no-progress"],
                          capture_output=True, text=True, timeout=timeout)


def rows_of(path: Path) -> dict[str, dict]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["task_id"]] = row
    return rows


def test_each_verdict_on_release_shaped_records(release, tmp_path):
    out = tmp_path / "audit" / "audit.jsonl"
    done = run_audit(str(release), "--out", str(out), "--datasets", "biocoder", "medcalcbench", "mimic_iii",
                     "npowerai", "ehrcon")
    assert done.returncode == 1, done.stderr          # problems were listed, after auditing the rest
    assert "npowerai" in done.stderr and "not UTF-8" in done.stderr
    assert "ehrcon: no such dataset directory" in done.stderr
    rows = rows_of(out)
    verdict = {task_id: (row["verdict"], row["reason"]) for task_id, row in rows.items()}
    assert verdict["biocoder/test/0"][0] == "gradable"
    assert verdict["biocoder/test/1"][0] == "ungradable" and verdict["biocoder/test/1"][1].startswith("null mutant")
    assert verdict["biocoder/test/2"][1].startswith("nondeterministic")
    assert verdict["biocoder/test/3"][1].startswith("reference failed")
    assert "a_module_nobody_installed" in verdict["biocoder/test/3"][1]
    assert verdict["biocoder/test/4"] == ("gradable", "every check passed with NumPy 1 aliases restored: asfarray")
    assert verdict["biocoder/test/5"][0] == "gradable"          # a decorated method in a class body
    assert rows["biocoder/test/0"]["checks"]["mutants"] == {kind: "wrong" for kind in
                                                            ("empty", "pass", "return None", "constant")}
    malformed = [row for row in rows.values() if row["verdict"] == "malformed"]
    assert sorted(row["source"].rsplit(":", 1)[1] for row in malformed) == ["7", "8"]
    assert any("invalid JSON" in row["reason"] for row in malformed)
    assert any("'signature'" in row["reason"] for row in malformed)
    gcs = rows["medcalcbench/test/0"]
    assert gcs["verdict"] == "label_disputed" and gcs["label"] == 17 and gcs["recomputed"] == 15
    assert "above the GCS maximum 15" in gcs["reason"]
    assert verdict["medcalcbench/test/1"][0] == "gradable"
    assert verdict["mimic_iii/test/0"][0] == "needs_data"
    assert rows["mimic_iii/test/0"]["checks"]["truth"] == "correct"   # checked without the data
    summary = (out.parent / "audit.summary.md").read_text()
    assert "| biocoder | test | 8 | 3 | 3 | 0 | 0 | 2 | 50.0% |" in summary
    problems = json.loads((out.parent / "audit.summary.json").read_text())["problems"]
    assert len(problems) == 2

    again = run_audit(str(release), "--out", str(out), "--datasets", "biocoder", "medcalcbench")
    assert "auditing 0 task(s) (10 already in" in again.stderr and again.returncode == 0
    assert len(out.read_text().splitlines()) == len(rows)           # nothing appended twice


def test_bad_arguments_and_directories(tmp_path):
    assert run_audit(str(tmp_path / "absent")).returncode == 1
    assert run_audit(str(tmp_path), "--workers", "0").returncode == 2
    empty = run_audit(str(tmp_path), "--out", str(tmp_path / "a.jsonl"))
    assert empty.returncode == 1 and "holds no dataset directory" in empty.stderr


@pytest.mark.slow
def test_kill_9_resumes_without_redoing_finished_tasks(tmp_path):
    slow = [biocoder(f"def f{i}(x)", f"import time\n<<insert solution here>>\ntime.sleep(0.4)\nprint(f{i}(2))\n",
                     f"def f{i}(x):\n    return x * {i + 2}\n") for i in range(10)]
    write_lines(tmp_path / "data" / "biocoder" / "test_tasks.jsonl", [json.dumps(r) for r in slow])
    out = tmp_path / "audit.jsonl"
    command = [sys.executable, "-m", "copilot.tasks.audit", str(tmp_path / "data"), "--out", str(out),
               "--workers", "1", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while (not out.exists() or len(out.read_text().splitlines()) < 3) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = out.read_text().splitlines()
    assert 3 <= len(before) < 10
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"auditing {10 - len(before)} task(s) ({len(before)} already in" in resumed.stderr
    lines = out.read_text().splitlines()
    assert lines[:len(before)] == before                              # finished rows kept as they were
    assert sorted(json.loads(line)["task_id"] for line in lines) == sorted(f"biocoder/test/{i}" for i in range(10))


def test_mutants_keep_decorators_and_skip_answers_equal_to_the_truth():
    mutants = function_mutants("@property\ndef total(self)")
    assert mutants["return None"] == "@property\ndef total(self):\n    return None\n"
    assert set(mutants) == {"empty", "pass", "return None", "constant"}
    with pytest.raises(ValueError, match="def name"):
        function_mutants("total(self)")
    assert analysis_mutants("import x\npvalue = f()\nunused = 1", "assert pvalue < 0.05") == {
        "pass": "pass\n", "constant": "pvalue = 0\n"}
    assert set(answer_mutants(["po"])) == {"no answer", "None", "empty string", "empty list", "constant"}
    assert set(answer_mutants(["None", "None"])) == {"no answer", "constant"}     # a NULL answer: not mutants
    assert set(answer_mutants([])) == {"no answer", "constant"}
    assert wrong_constant(-2.46) == pytest.approx(31.6) and wrong_constant(0) == 7
    assert wrong_constant("09/23/2014") == "09/23/2015" and wrong_constant([14, 1]) == [17, 2]
