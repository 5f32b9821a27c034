"""MedAgentBench: clinical workflows against a FHIR server (GET answers, POST orders).

Record shape (MedAgentGym release): "id" ("task1_1": the grader is the part before "_"), "instruction",
"context" (extra facts such as the current time; may be empty), "sol" (the expected GET answer list, or
null for tasks graded live against the server), and "eval_*" fields (e.g. "eval_MRN") that the live
graders use. funcs_v1.json (the FHIR functions the agent may call) sits in the dataset directory.

Task: checker "medagentbench", answer = `sol` (a list, or None), checker_params {"task_type": "task1",
plus every eval_* field}. The question is the instruction followed by the record's context; the Task's
context lists the FHIR functions and the answer format. No resources: the FHIR server is reached over HTTP,
and the checker reports clearly when no server is configured.
Simplified: the function list is shown as compact JSON, not re-rendered per function.
"""

from __future__ import annotations

import json
import re


from copilot.tasks.loaders.release_layout import DatasetDir, template_from_record
from copilot.tasks.task import Task, TaskFormatError

_TASK_ID = re.compile(r"^(task\d+)_\w+$")
ANSWER_FORMAT = ('Set `answer` to {"GET": [answers to the questions], "POST": [[url, payload], ...]}: '
                 "GET holds the answers themselves (not the requests), POST the requests you made.")


def _functions(ds: DatasetDir) -> str:
    def read() -> str:
        path = ds.require(ds.path / "funcs_v1.json", "the FHIR function list funcs_v1.json")
        if path is None:
            return "(the FHIR function list funcs_v1.json is not installed here)"
        try:
            funcs = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise TaskFormatError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}); expected a list of FHIR "
                                  "function descriptions") from None
        if not isinstance(funcs, list) or not all(isinstance(f, dict) and "name" in f for f in funcs):
            raise TaskFormatError(f"{path}: expected a JSON list of objects with a 'name' key")
        return json.dumps(funcs, ensure_ascii=False, separators=(",", ":"))
    return ds.cached("fhir_functions", read)


def load_medagentbench(ds: DatasetDir, split: str) -> list[Task]:
    functions = _functions(ds)
    context = (f"You can call these FHIR server functions (GET and POST requests); the server's base URL is "
               f"given at run time:\n{functions}\n\n{ANSWER_FORMAT}")
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            record_id = record.text("id", allow_empty=False)
            match = _TASK_ID.match(record_id)
            if match is None:
                raise record.error("id", "an id like 'task1_1' (grader name, '_', number)", record_id)
            instruction = record.text("instruction", allow_empty=False)
            extra = record.text("context", optional=True, allow_null=True) or ""
            sol = record.raw("sol", "a list of expected answers, or null")
            if sol is not None and not isinstance(sol, list):
                raise record.error("sol", "a list of expected answers, or null", sol)
            params = {"task_type": match.group(1),
                      **{k: v for k, v in record.data.items() if k.startswith("eval_")}}
            question = f"{instruction.rstrip()} {extra.strip()}".strip() if extra.strip() else instruction
            meta = {"source": record.source, "template": template_from_record(record, match.group(1)),
                    "record_id": record_id, "record_context": extra}
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split, family="fhir",
                              question=question, context=context, answer=sol, checker="medagentbench",
                              checker_params=params, meta=meta))
    return tasks
