"""EHRCon: is a clinical note consistent with the structured EHR for one admission and one entity?

Record shape (MedAgentGym release): "Hospital admission" (a HADM_ID stored as a float string, "154920.0"),
"Medical entity" (e.g. "pneumoboots"), "Number of inconsistencies" (int), "Has error" (bool), "split".
Data: EHRCon_combined.db (SQLite, MIMIC-III tables) and clinical_notes.csv in the dataset directory.

Task: checker "ehrcon", answer = "Has error" (bool), checker_params {}; resources = the database and the
notes file (mounted at /data/EHRCon_combined.db and /data/clinical_notes.csv). The question is built as
MedAgentGym builds it (admission id + entity -> is there an inconsistency?), with the id shown as an integer.
"Number of inconsistencies" is kept in meta only (it would give the answer away); the prompt never shows it.
Not protected against: an agent that answers from base rates (most records have no error) without looking.
"""

from __future__ import annotations


from copilot.tasks.loaders.release_layout import DatasetDir, template_from_record
from copilot.tasks.task import Task

DATA_FILES = {"EHRCon_combined.db": "the EHRCon SQLite database EHRCon_combined.db",
              "clinical_notes.csv": "the clinical notes file clinical_notes.csv"}
CONTEXT = ("The MIMIC-III tables of these admissions are in the SQLite database /data/EHRCon_combined.db; "
           "the clinical notes (ROW_ID, SUBJECT_ID, HADM_ID, CHARTDATE, CHARTTIME, STORETIME, CATEGORY, "
           "DESCRIPTION, CGID, ISERROR, TEXT, ADMITTIME) are in /data/clinical_notes.csv. Both are read-only.")


def load_ehrcon(ds: DatasetDir, split: str) -> list[Task]:
    resources = {}
    for name, what in DATA_FILES.items():
        found = ds.require(ds.path / name, what)
        if found is not None:
            resources[name] = str(found.resolve())
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            admission = record.integer("Hospital admission")
            entity = record.text("Medical entity", allow_empty=False)
            has_error = record.boolean("Has error")
            count = record.integer("Number of inconsistencies", optional=True)
            question = (f"For hospital admission {admission} and the medical entity {entity!r}, is there any "
                        "inconsistency between the database and the clinical notes of that admission? "
                        "Answer with a boolean (True if there is an inconsistency, else False).")
            meta = {"source": record.source, "template": template_from_record(record, None),
                    "hadm_id": admission, "medical_entity": entity, "number_of_inconsistencies": count}
            tasks.append(Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split,
                              family="ehr_consistency", question=question, context=CONTEXT, answer=has_error,
                              checker="ehrcon", checker_params={}, resources=dict(resources), meta=meta))
    return tasks
