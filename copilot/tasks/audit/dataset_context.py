"""What the audit checks once per dataset split: which modules its task code imports that the sandbox lacks.

The import set is read from the code the tasks carry (BioCoder harnesses and references, BioDSBench earlier
cells, references and tests, pack references), with the placeholder line blanked so a harness parses; the
standard library is left out. One probe in the sandbox then asks `importlib.util.find_spec` for each name, so
the answer is about the sandbox's environment, not the host's. A dataset whose data are missing still gets
this probe: "needs data" then says whether anything else would be missing once the data arrive.
"""

from __future__ import annotations

import sys
from typing import Any

from copilot.tasks.audit.task_checks import AuditContext
from sandbox.preload_tiers import imported_modules

PLACEHOLDER = "<<insert solution here>>"
CODE_PARAMS = ("harness", "reference", "setup_code", "test_cases")


def task_code(task) -> list[str]:
    texts = [str(task.checker_params.get(key) or "") for key in CODE_PARAMS]
    texts.append(str((task.meta or {}).get("reference_solution") or ""))
    return [text.replace(PLACEHOLDER, "pass") for text in texts if text.strip()]


def task_imports(tasks) -> list[str]:
    """Sorted top-level, non-standard-library modules imported by the code of `tasks` (code that does not
    parse contributes nothing: its own run reports it)."""
    names: set[str] = set()
    for task in tasks:
        for code in task_code(task):
            names |= imported_modules(code) or set()
    return sorted(name for name in names if name not in sys.stdlib_module_names)


def missing_in_sandbox(backend, modules: list[str], timeout_s: float) -> list[str]:
    """The modules of `modules` that the sandbox cannot import (found by one probe execution)."""
    if not modules:
        return []
    probe = ("import importlib.util\n"
             f"answer = [m for m in {modules!r} if importlib.util.find_spec(m) is None]\n")
    with backend.open_session({}) as session:
        result = session.run_python(probe, timeout_s=timeout_s)
    if not result.ok or not result.has_answer:
        raise RuntimeError(f"the sandbox's import probe failed ({result.status.value}): {result.stderr[-500:]}")
    return list(result.answer)


def dataset_context(tasks, backend, timeout_s: float, data_missing: str | None, verified: Any) -> AuditContext:
    modules = task_imports(tasks)
    return AuditContext(backend=backend, timeout_s=timeout_s, data_missing=data_missing,
                        missing_modules=missing_in_sandbox(backend, modules, timeout_s), verified=verified)
