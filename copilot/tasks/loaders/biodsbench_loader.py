"""BioDSBench: biomedical data analysis in pandas on a study's CSV files, checked by assert statements.

Record shape (MedAgentGym release; list-like fields are stored as strings): "queries" (the request),
"dataframes" (a description of the CSV files, named as /workdir/<file>.csv, with their head()),
"cot_instructions" (step hints), "test_cases" (asserts on the variables the code must leave behind),
"reference_answer" (a reference program), "study_ids", "question_ids", "chat_histories", "code_histories",
"reference_codes".

Task: checker "biodsbench", answer None, checker_params {"test_cases": the asserts, "setup_code": the
record's `code_histories` (the notebook's earlier cells, which define the variables its reference and tests
use), when it has any}; resources {"data": <dataset dir>/data} (the CSV files, mounted at /data/data). The
context is the dataframe description, where the files are mounted and the earlier cells; the step hints stay
in meta (as does the reference, as meta["reference_solution"]).
Every /workdir/ path of the release (descriptions, earlier cells, reference, tests) is rewritten to the
mount point /data/data/, so the release's code reads the files where the sandbox has them.
Simplified: the earlier cells run before the FINAL code only (the checker prepends them); the agent's own
trial executions in an episode start from a fresh interpreter, so it must include them to try its code.
"""

from __future__ import annotations


from copilot.tasks.loaders.release_layout import DatasetDir, pack_reference, template_from_record
from copilot.tasks.task import Task


DATA_HINT = ("the study CSV files (cBioPortal studies, named by each record's study_ids) are not in the public "
             "GitHub release: request MedAgentGym's biodsbench data/ folder from its authors (medagentgym@gmail.com) "
             "and put the CSV files in data/biodsbench/data/")
RELEASE_DATA_DIR = "/workdir/"     # where the release's texts and code read the study's CSV files
MOUNTED_DATA_DIR = "/data/data/"   # where the sandbox mounts data/ (resources {"data": ...})


def mounted_paths(text: str) -> str:
    """The release's /workdir/<file> paths rewritten to the sandbox's mount point /data/data/<file>."""
    return text.replace(RELEASE_DATA_DIR, MOUNTED_DATA_DIR)


def _setup_code(record) -> str:
    """The release's `code_histories`: the earlier steps of the same study notebook (a list of code cells,
    stored as a Python-literal string), joined; "" when there are none."""
    cells = record.literal("code_histories", (list,), optional=True) or []
    if not all(isinstance(cell, str) for cell in cells):
        raise record.error("code_histories", "a list of code strings", record.data["code_histories"])
    return mounted_paths("\n\n".join(cell.strip("\n") for cell in cells if cell.strip()))


def _context(dataframes: str, mounted: bool, setup_code: str) -> str:
    where = ("The CSV files are mounted read-only under /data/data/." if mounted
             else "The study's CSV files are not installed here.")
    earlier = (f"\n\nThese earlier steps of the analysis run before your final code (their variables are "
               f"defined for it; include them when you try your code):\n<code>\n{setup_code}\n</code>"
               if setup_code else "")
    return f"{mounted_paths(dataframes).strip()}\n\n{where}{earlier}"


def load_biodsbench(ds: DatasetDir, split: str) -> list[Task]:
    data_dir = ds.require(ds.path / "data", "the study data directory data/ (CSV files)", DATA_HINT)
    resources = {"data": str(data_dir.resolve())} if data_dir is not None else {}
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            query = record.text("queries", allow_empty=False)
            dataframes = record.text("dataframes")
            test_cases = record.text("test_cases", allow_empty=False)
            if "assert" not in test_cases:
                raise record.error("test_cases", "assert statements to run after the agent's code", test_cases)
            setup_code = _setup_code(record)
            study = record.text("study_ids", optional=True)
            question_id = record.text("question_ids", optional=True)
            reference = record.text("reference_answer", optional=True)
            meta = {"source": record.source, "template": template_from_record(record, study),
                    "study_id": study, "question_id": question_id,
                    "cot_instructions": record.text("cot_instructions", optional=True)}
            if reference is not None:
                meta["reference_solution"] = mounted_paths(reference)
            meta.update(pack_reference(record))
            params = {"test_cases": mounted_paths(test_cases)}
            if setup_code:
                params["setup_code"] = setup_code
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="biomedical_analysis", question=query,
                              context=_context(dataframes, bool(resources), setup_code), answer=None,
                              checker="biodsbench", checker_params=params, resources=resources, meta=meta))
    return tasks
