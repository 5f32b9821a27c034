"""N-PowerAI (and the offline biostat pack): sample-size and power questions with one numeric answer.

Record shape (MedAgentGym release): "task_type" (e.g. "One-sample t-test"), "task_id" (the scenario
number, shared by the records of one scenario), "estimate_target" ("size" or "power"), "question",
"answer" (an integer sample size or a float power; numeric strings accepted). Offline biostat records add
"reference_solution"; the pack's pack.json "templates" table maps task_id -> scenario id (the template).

Task: checker "npower", answer = int for size (must be whole) or float for power (must lie in [0, 1]),
checker_params {"target": "size" | "power"}. No resources. The template (for stats) is the pack's scenario
id, else "<task_type> #<task_id>".
"""

from __future__ import annotations


from copilot.tasks.loaders.release_layout import DatasetDir, pack_reference, pack_templates, template_from_record
from copilot.tasks.task import Task

TARGETS = ("size", "power")


def load_npowerai(ds: DatasetDir, split: str) -> list[Task]:
    by_task_id = pack_templates(ds, "task_id")
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            task_type = record.text("task_type", allow_empty=False)
            task_id = record.integer("task_id")
            target = record.text("estimate_target")
            if target not in TARGETS:
                raise record.error("estimate_target", f"one of {TARGETS}", target)
            question = record.text("question", allow_empty=False)
            number = record.number("answer")
            if target == "size":
                if number != int(number) or number < 1:
                    raise record.error("answer", "a positive whole number (estimate_target 'size')",
                                       record.data["answer"])
                answer: int | float = int(number)
            else:
                if not 0.0 <= number <= 1.0:
                    raise record.error("answer", "a power between 0 and 1 (estimate_target 'power')",
                                       record.data["answer"])
                answer = float(number)
            natural = by_task_id.get(task_id, {}).get("template", f"{task_type} #{task_id}")
            template = template_from_record(record, natural)
            meta = {"source": record.source, "template": template, "task_type": task_type,
                    "record_task_id": task_id, **pack_reference(record)}
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="biostat", question=question, answer=answer, checker="npower",
                              checker_params={"target": target}, meta=meta))
    return tasks
