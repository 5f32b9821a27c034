"""The gradability audit: is every task of a dataset gradable, and is its label right?

    python -m copilot.tasks.audit data/medagentgym --out runs/audit/audit.jsonl     # every dataset dir under it
    python -m copilot.tasks.audit data/offline --datasets ehr_sql medcalc --splits test

For each task (see `task_checks` for the rules): the reference solution, where the task has one, must score
correct on every run (three), with the same output; null mutants (an empty body, `pass`, `return None`, a
constant; for answer tasks no answer, None, "" and a wrong constant) must score wrong; without a reference the
ground truth itself, given as the answer, must score correct; MedCalc-Bench labels are recomputed from the
row's own Relevant Entities where the project implements the calculator. One JSON line per task in audit.jsonl:
    {"task_id", "dataset", "split", "source", "fingerprint", "verdict", "reason", "checks", ...}
with verdict one of VERDICTS. The run is resumable (finished tasks are not redone) and parallel.

Recipes and `copilot.evaluate` read the file back (`data.audit=PATH data.exclude=[ungradable,label_disputed]`,
see `selection`). This package's `__init__` stays light: the checks (sandbox, reward) load in `__main__`.
"""

from __future__ import annotations

GRADABLE = "gradable"
UNGRADABLE = "ungradable"
LABEL_DISPUTED = "label_disputed"
NEEDS_DATA = "needs_data"   # what grading or auditing needs is absent (credentialed EHR tables, study files, a
                            # FHIR server, a reference to audit with): reported, not a failure of the task
MALFORMED = "malformed"     # the record itself could not be read (listed, never silently dropped)
VERDICTS = (GRADABLE, UNGRADABLE, LABEL_DISPUTED, NEEDS_DATA, MALFORMED)

__all__ = ["GRADABLE", "LABEL_DISPUTED", "MALFORMED", "NEEDS_DATA", "UNGRADABLE", "VERDICTS"]
