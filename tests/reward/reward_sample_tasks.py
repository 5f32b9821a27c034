"""Task objects built from the real MedAgentGym sample records in ./samples, per the brief's contract table.

This is a stand-in for `copilot.tasks.load` (written by another helper) so the reward tests do not depend
on the loaders: the same field mapping (checker, answer, checker_params) the loaders produce.
"""

from __future__ import annotations

import json
from pathlib import Path

from copilot.tasks.task import Task

SAMPLES = Path(__file__).parent / "samples"


def records(name: str) -> list[tuple[int, dict]]:
    path = SAMPLES / f"{name}.sample.jsonl"
    return [(no, json.loads(line)) for no, line in enumerate(path.read_text().splitlines(), start=1) if line.strip()]


def _meta(name: str, line: int) -> dict:
    return {"source": f"{name}.sample.jsonl:{line}"}


def sql_tasks() -> list[Task]:
    tasks = []
    for dataset in ("mimic_iii", "eicu", "treqs"):
        for line, r in records(dataset):
            tasks.append(Task(id=f"{dataset}/{r['id']}", dataset=dataset, split="train", family="ehr_sql",
                              question=r.get("template", r["question"]), answer=r["answer"], checker="sql",
                              checker_params={"ordered": "order by" in r["query"].lower()},
                              meta=_meta(dataset, line)))
    return tasks


def medcalc_tasks() -> list[Task]:
    return [Task(id=f"medcalcbench/{r['Row Number']}", dataset="medcalcbench", split="test", family="medcalc",
                 question=r["Question"], context=r["Patient Note"], answer=float(r["Ground Truth Answer"]),
                 checker="medcalc",
                 checker_params={"lower": float(r["Lower Limit"]), "upper": float(r["Upper Limit"]),
                                 "output_type": "decimal", "calculator_id": r["Calculator ID"],
                                 "calculator_name": r["Calculator Name"]},
                 meta=_meta("medcalcbench", line)) for line, r in records("medcalcbench")]


def npower_tasks() -> list[Task]:
    return [Task(id=f"npowerai/{line}", dataset="npowerai", split="train", family="biostat", question=r["question"],
                 answer=r["answer"], checker="npower", checker_params={"target": r["estimate_target"]},
                 meta=_meta("npowerai", line)) for line, r in records("npowerai")]


def biocoder_tasks() -> list[Task]:
    return [Task(id=f"biocoder/{r['idx'][:12]}", dataset="biocoder", split="train", family="bioinformatics",
                 question=r["problem"], context=r["signature"], answer=None, checker="biocoder",
                 checker_params={"harness": r["context"], "reference": r["solution"],
                                 "function_name": r["signature"].split("(")[0].removeprefix("def ").strip()},
                 meta={**_meta("biocoder", line), "solution": r["solution"]}) for line, r in records("biocoder")]


def biodsbench_tasks() -> list[Task]:
    return [Task(id=f"biodsbench/{r['study_ids']}/{r['question_ids']}", dataset="biodsbench", split="train",
                 family="biomedical_analysis", question=r["queries"], answer=None, checker="biodsbench",
                 checker_params={"test_cases": r["test_cases"]}, meta=_meta("biodsbench", line))
            for line, r in records("biodsbench")]


def ehrcon_tasks() -> list[Task]:
    return [Task(id=f"ehrcon/{line}", dataset="ehrcon", split="train", family="ehr_consistency",
                 question=f"Is {r['Medical entity']} in admission {r['Hospital admission']} inconsistent?",
                 answer=r["Has error"], checker="ehrcon", meta=_meta("ehrcon", line))
            for line, r in records("ehrcon")]


def medagentbench_tasks() -> list[Task]:
    return [Task(id=f"medagentbench/{r['id']}", dataset="medagentbench", split="test", family="fhir",
                 question=r["instruction"], answer=r["sol"], checker="medagentbench",
                 checker_params={"task_type": r["id"].split("_")[0],
                                 **{k: v for k, v in r.items() if k.startswith("eval_")}},
                 meta=_meta("medagentbench", line)) for line, r in records("medagentbench")]


UNAVAILABLE_IMPORTS = ("import skimage", "import pysam")


def runnable_biocoder_task() -> Task:
    """The real BioCoder sample with its two heavy harness imports (skimage, pysam: the `tasks` extra) dropped;
    nothing in its `sanitize_tex` uses them, and it runs on a sandbox without the extra."""
    task = biocoder_tasks()[0]
    harness = "\n".join(line for line in task.checker_params["harness"].splitlines()
                        if not line.strip().startswith(UNAVAILABLE_IMPORTS))
    task.checker_params = {**task.checker_params, "harness": harness}
    task.id += "-runnable"
    return task
