"""Record shapes the MedAgentGym release really contains (written here, shaped like its hard cases), and
`on_malformed="skip"`: the rest of a split loads, every skipped record is listed, nothing is dropped silently."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from copilot.tasks import TaskFormatError, load
from copilot.tasks.task_selection import DataSelectionError, select_tasks
from task_release_tree import write_jsonl

GOOD = {"idx": "a1", "problem": "Sum the items.", "signature": "def total(items)",
        "context": "<<insert solution here>>\nprint(total([1, 2]))\n",
        "solution": "def total(items):\n    return sum(items)\n", "code": ""}


def biocoder_dir(tmp_path: Path, records: list, extra_lines: list[str] = ()) -> Path:
    path = write_jsonl(tmp_path / "biocoder" / "test_tasks.jsonl", records)
    if extra_lines:
        path.write_text(path.read_text() + "".join(line + "\n" for line in extra_lines))
    return path.parent


@pytest.mark.parametrize("signature, name", [
    ("@property\ndef candidates(self)", "candidates"),
    ("@staticmethod\ndef weighted(a, weights)", "weighted"),
    ("@on_array(0)\ndef modal_location(a)", "modal_location"),
    ("@on_weighted_array()\n@another\ndef weighted_median(a, weights)", "weighted_median"),
    ("async def fetch(url)", "fetch"),
])
def test_decorated_signatures_load(tmp_path, signature, name):
    record = dict(GOOD, signature=signature, solution=f"{signature}:\n    return 1\n",
                  context="class Box:\n    <<insert solution here>>\n")
    (task,) = load(biocoder_dir(tmp_path, [record]), "test")
    assert task.checker_params["function_name"] == name
    assert "inside a class body" in task.context          # the agent is told how its method is inserted


def test_commented_placeholder_loads_and_two_placeholders_do_not(tmp_path):
    commented = dict(GOOD, context="# <<insert solution here>>\nprint(total([1]))\n")
    doubled = dict(GOOD, context="<<insert solution here>>\n<<insert solution here>>\n")
    directory = biocoder_dir(tmp_path, [commented, doubled])
    with pytest.raises(TaskFormatError, match=r"test_tasks.jsonl:2: field 'context': .*exactly once"):
        load(directory, "test")


def test_on_malformed_skip_loads_the_rest_and_lists_every_skipped_record(tmp_path, caplog):
    no_signature = {k: v for k, v in GOOD.items() if k != "signature"}
    not_a_signature = dict(GOOD, signature="total(items)")
    directory = biocoder_dir(tmp_path, [GOOD, no_signature, not_a_signature, dict(GOOD, idx="b2")],
                             extra_lines=["{broken", "[1, 2]"])
    with pytest.raises(TaskFormatError, match=r"test_tasks.jsonl:2: field 'signature'"):
        load(directory, "test")                            # the default names the first bad record
    with caplog.at_level(logging.WARNING):
        loaded = load(directory, "test", on_malformed="skip")
    assert [t.id for t in loaded] == ["biocoder/test/0", "biocoder/test/3"]     # ids keep the record index
    assert [s.source.rsplit(":", 1)[1] for s in loaded.skipped] == ["2", "3", "5", "6"]
    assert "field 'signature'" in loaded.skipped[0].error and "invalid JSON" in loaded.skipped[2].error
    assert "expected a JSON object" in loaded.skipped[3].error
    assert sum("skipped malformed task record" in r.message for r in caplog.records) == 4
    with pytest.raises(ValueError, match="on_malformed='ignore'"):
        load(directory, "test", on_malformed="ignore")


def test_skip_never_hides_an_unreadable_file(tmp_path):
    directory = biocoder_dir(tmp_path, [GOOD])
    (directory / "test_tasks.jsonl").write_bytes(b'{"problem": "\xff"}\n')
    with pytest.raises(TaskFormatError, match="not UTF-8"):
        load(directory, "test", on_malformed="skip")


def test_run_selection_applies_on_malformed_and_names_an_all_malformed_split(tmp_path):
    directory = biocoder_dir(tmp_path, [GOOD], extra_lines=["{broken"])
    data = {"test": [str(directory)], "audit": None}
    with pytest.raises(TaskFormatError):
        select_tasks(data, "test", "test")
    selection = select_tasks(data, "test", "test", on_malformed="skip")
    assert len(selection.tasks) == 1 and selection.coverage()["malformed_skipped"] == 1
    write_jsonl(directory / "test_tasks.jsonl", [])
    (directory / "test_tasks.jsonl").write_text("{broken\n")
    with pytest.raises(DataSelectionError, match=r"has no 'test' tasks \(1 malformed record\(s\) skipped\)"):
        select_tasks(data, "test", "test", on_malformed="skip")


def test_audit_exclusions_unaudited_tasks_and_limits(tmp_path):
    from copilot.tasks.audit.audit_log import AuditLog
    from copilot.tasks.audit.task_checks import fingerprint

    directory = biocoder_dir(tmp_path, [dict(GOOD, idx=str(i), problem=f"Sum {i}.") for i in range(5)])
    tasks = load(directory, "test")
    audit = AuditLog(tmp_path / "audit.jsonl")
    verdicts = ["gradable", "ungradable", "label_disputed", "gradable"]        # task 4: not audited
    for task, verdict in zip(tasks, verdicts):
        audit.append_record({"task_id": task.id, "fingerprint": fingerprint(task), "verdict": verdict,
                             "dataset": "biocoder", "split": "test", "reason": "", "checks": {}})
    audit.append_record({"task_id": tasks[3].id, "fingerprint": "another content", "verdict": "ungradable"})
    data = {"test": [str(directory)], "audit": str(audit.path)}
    selection = select_tasks(data, "test", "test")
    assert [t.id for t in selection.tasks] == [tasks[0].id, tasks[3].id, tasks[4].id]   # 3: stale row, kept
    assert selection.coverage() == {"tasks": 3, "loaded": 5, "excluded": {"ungradable": 1, "label_disputed": 1},
                                    "unaudited": 2, "malformed_skipped": 0, "audit": str(audit.path)}
    only_ungradable = select_tasks({**data, "exclude": ["ungradable"]}, "test", "test", limit=2)
    assert [t.id for t in only_ungradable.tasks] == [tasks[0].id, tasks[2].id]          # limit after exclusion
    with pytest.raises(DataSelectionError, match=r"data.exclude: \['bad'\] unknown"):
        select_tasks({**data, "exclude": ["bad"]}, "test", "test")
    with pytest.raises(DataSelectionError, match="data.audit: audit file .*missing.jsonl not found"):
        select_tasks({**data, "audit": str(tmp_path / "missing.jsonl")}, "test", "test")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"task_id": "x", "verdict": "fine"}) + "\n")
    with pytest.raises(DataSelectionError, match=r"bad.jsonl:1: not an audit row: 'verdict'"):
        select_tasks({**data, "audit": str(tmp_path / "bad.jsonl")}, "test", "test")
