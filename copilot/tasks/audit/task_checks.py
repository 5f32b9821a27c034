"""The checks the audit runs on one task, and the verdict they give (one audit.jsonl row).

Which checks, by what the task carries:
- a code task with a reference (BioCoder: checker_params["reference"]; BioDSBench: meta["reference_solution"]):
  the reference, scored REFERENCE_RUNS times by `reward.score`, must be correct every time with the same
  output; every
  null mutant (`mutants`) must score wrong.
- an answer task with a reference program (offline packs: meta["reference_solution"] sets `answer`): the
  program runs twice in the sandbox; its answer must score correct and be the same both times; the answer
  mutants must score wrong.
- an answer task without one (MedAgentGym's MedCalc-Bench, N-PowerAI, SQL, EHRCon, MedAgentBench): the
  ground truth given as the agent's answer must score correct (a checker that rejects the dataset's own
  answer cannot grade it); the answer mutants must score wrong. EHRSHOT / MIMIC-Extract: predictions equal
  to the labels file must score correct, an empty prediction set wrong.
- MedCalc-Bench rows whose calculator the project implements: the label is recomputed from the row's own
  Relevant Entities (`copilot.tasks.medcalc_labels`) and, when a MedCalc-Bench-Verified file is given, the
  Verified release's answer for the same note is attached.
Verdict: ungradable (with the first failing check as reason) > label_disputed > gradable. A task whose data
is not installed (credentialed EHR tables, the study's CSV files, a FHIR server) is needs_data: only the
checks that need no data run, and the verdict says what is missing (not a failure of the task). So is a task
with nothing to audit it with (no reference and no answer: MedAgentBench's POST tasks are graded from the
agent's requests).

Reasons are stable prefixes a user can filter on: "reference failed", "reference scored wrong",
"nondeterministic", "needs numpy<2", "null mutant", "truth rejected", "task invalid", "label disputed".
Not protected against: a task whose tests check the right thing weakly (mutants are syntactic); a reference
that is deterministic here but not on another machine.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.agent.prompts import writes_code
from copilot.agent.trajectory import Trajectory
from copilot.tasks.audit import GRADABLE, LABEL_DISPUTED, NEEDS_DATA, UNGRADABLE
from copilot.tasks.audit.mutants import analysis_mutants, answer_mutants, function_mutants
from copilot.tasks.task import Task
from reward import score
from reward.checkers import InvalidTaskError

FHIR_URL_ENV = "MEDAGENTBENCH_FHIR_URL"   # reward.checkers.medagentbench_checker reads the server from it

_TAIL = 600
REFERENCE_RUNS = 3      # scored runs of a code task's reference (verdict and output must agree across them)
NUMPY2_REMOVAL = "was removed in the NumPy 2.0 release"


@dataclass
class AuditContext:
    """What every task of one dataset shares: the sandbox, limits, and what is missing."""

    backend: Any
    timeout_s: float = 30.0
    data_missing: str | None = None           # why the dataset's data is absent (None: installed)
    missing_modules: list[str] = field(default_factory=list)   # task imports the sandbox lacks
    verified: Any = None                       # a MedCalc-Bench-Verified index (`.lookup(task)`), optional


class Finding(Exception):
    """A check failed: the task is ungradable for `reason`."""


def fingerprint(task: Task) -> str:
    """A hash of the task's content: a row is reused on resume only while its task is unchanged."""
    return hashlib.sha256(json.dumps(task.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _score(task: Task, trajectory: Trajectory, context: AuditContext):
    """reward.score; a task the checker refuses (InvalidTaskError) is a Finding: for code tasks its reference
    failed in its own harness, for answer tasks its parameters or ground truth cannot be judged."""
    try:
        return score(task, trajectory, backend=context.backend, exec_timeout_s=context.timeout_s)
    except InvalidTaskError as err:
        message = str(err)
        if NUMPY2_REMOVAL in message:
            prefix = "needs numpy<2"
        else:
            prefix = "reference failed" if writes_code(task) else "task invalid"
        raise Finding(f"{prefix}: {message[-_TAIL:]}") from None


def _coded(task: Task, code: str) -> Trajectory:
    return Trajectory.answered(task.id, task.dataset, "done", code=code)


def _reference_code(task: Task) -> str | None:
    code = task.checker_params.get("reference") or (task.meta or {}).get("reference_solution")
    return code if isinstance(code, str) and code.strip() else None


def _mutant_checks(task: Task, trajectories: dict[str, Trajectory], context: AuditContext, checks: dict) -> None:
    results = {}
    for kind, trajectory in trajectories.items():
        result = _score(task, trajectory, context)
        results[kind] = "correct" if result.correct else "wrong"
    checks["mutants"] = results
    passed = [kind for kind, verdict in results.items() if verdict == "correct"]
    if passed:
        raise Finding(f"null mutant {passed[0]!r} scored correct (of {passed}): the tests do not depend on "
                      "the solution (never called, redefined by the harness, or output that ignores it)")


def check_code_task(task: Task, reference: str, context: AuditContext, checks: dict) -> None:
    # The first scoring also runs the reference once more to learn the expected output: 1 + RUNS runs.
    runs = [_score(task, _coded(task, reference), context) for _ in range(REFERENCE_RUNS)]
    checks["reference"] = ["correct" if r.correct else "wrong" for r in runs]
    if runs[0].detail.get("numpy1_aliases"):
        checks["numpy1_aliases"] = runs[0].detail["numpy1_aliases"]
    for result in runs:
        if not result.correct:
            message = str(result.detail.get("message", ""))
            stderr = str(result.detail.get("stderr_tail", ""))[-_TAIL:]
            if "differs from the reference" in message:
                raise Finding("nondeterministic: the reference's own output differs between runs "
                              "(unseeded randomness, time or memory addresses in the output)")
            prefix = "needs numpy<2" if NUMPY2_REMOVAL in stderr else "reference scored wrong"
            raise Finding(f"{prefix}: {message} {stderr}".strip())
    outputs = {r.detail.get("got_stdout") for r in runs}
    if len(outputs) > 1:
        raise Finding("nondeterministic: two runs of the reference printed different output")
    if task.checker == "biodsbench":
        mutants = analysis_mutants(reference, str(task.checker_params.get("test_cases", "")))
    else:
        mutants = function_mutants(str((task.meta or {}).get("signature") or _signature_of(reference)))
    _mutant_checks(task, {kind: _coded(task, code) for kind, code in mutants.items()}, context, checks)


def _signature_of(code: str) -> str:
    """The decorator and def lines of the first function in `code` (for tasks without a signature field)."""
    lines, head = code.splitlines(), []
    for line in lines:
        head.append(line)
        if line.lstrip().startswith(("def ", "async def ")):
            return "\n".join(head).rstrip().rstrip(":")
        if not line.lstrip().startswith("@"):
            head = []
    raise Finding("reference failed: the reference defines no function to build null mutants from")


def _run_reference_program(task: Task, code: str, context: AuditContext) -> Any:
    mounts = {name: Path(path) for name, path in task.resources.items()}
    with context.backend.open_session(mounts) as session:
        result = session.run_python(code, timeout_s=context.timeout_s)
    if not result.ok or not result.has_answer:
        raise Finding(f"reference failed: status {result.status.value}, answer set: {result.has_answer}; "
                      f"stderr: {result.stderr[-_TAIL:]}")
    return result.answer


def check_answer_program(task: Task, reference: str, context: AuditContext, checks: dict) -> None:
    answers = [_run_reference_program(task, reference, context) for _ in range(2)]
    if answers[0] != answers[1]:
        raise Finding(f"nondeterministic: the reference program answered {answers[0]!r} then {answers[1]!r}")
    result = _score(task, Trajectory.answered(task.id, task.dataset, answers[0]), context)
    checks["reference"] = ["correct" if result.correct else "wrong"]
    if not result.correct:
        raise Finding(f"reference scored wrong: its answer {answers[0]!r}: {result.detail.get('message', '')}")
    _answer_mutants(task, context, checks)


def _answer_mutants(task: Task, context: AuditContext, checks: dict) -> None:
    trajectories = {kind: Trajectory(task_id=task.id, dataset=task.dataset, has_final_answer=has, final_answer=value,
                                     termination="answered" if has else "max_turns")
                    for kind, (has, value) in answer_mutants(task.answer).items()}
    _mutant_checks(task, trajectories, context, checks)


def _labels_answer(task: Task) -> dict[str, Any]:
    params = task.checker_params
    with open(params["labels_path"], newline="", encoding="utf-8") as handle:
        return {row[params["id_column"]]: row[params["label_column"]] for row in csv.DictReader(handle)}


def check_answer_truth(task: Task, context: AuditContext, checks: dict) -> None:
    truth = _labels_answer(task) if task.checker == "ml_accuracy" else task.answer
    result = _score(task, Trajectory.answered(task.id, task.dataset, truth), context)
    checks["truth"] = "correct" if result.correct else "wrong"
    if result.detail.get("needs_fhir_server"):
        checks["needs_fhir_server"] = True
        return
    if not result.correct:
        raise Finding(f"truth rejected: the checker scores the dataset's own answer wrong: "
                      f"{result.detail.get('message', '')}")
    if task.checker == "ml_accuracy":
        empty = Trajectory.answered(task.id, task.dataset, {})
        checks["mutants"] = {"empty predictions": "correct" if _score(task, empty, context).correct else "wrong"}
        if checks["mutants"]["empty predictions"] == "correct":
            raise Finding("null mutant 'empty predictions' scored correct")
        return
    _answer_mutants(task, context, checks)


def label_check(task: Task, context: AuditContext, checks: dict) -> dict[str, Any] | None:
    """The MedCalc-Bench label recomputation (and the Verified release's value); the row's dispute, if any."""
    from copilot.tasks.medcalc_labels import recompute_label

    outcome = recompute_label(task)
    checks["label"] = outcome.to_dict()
    if context.verified is not None:
        checks["verified"] = context.verified.lookup(task)
    if outcome.status != "disputed":
        return None
    return {"label": outcome.label, "recomputed": outcome.recomputed, "calculator": outcome.calculator,
            "verified": checks.get("verified")}


class NothingToAuditWith(Exception):
    """The task carries no reference answer or solution (graded from actions, e.g. MedAgentBench's POSTs)."""


def _run_checks(task: Task, context: AuditContext, checks: dict) -> None:
    reference = _reference_code(task)
    if not writes_code(task) and reference is None and task.answer is None and task.checker != "ml_accuracy":
        checks["truth"] = "absent"
        if context.data_missing is None:
            probe = _score(task, Trajectory.answered(task.id, task.dataset, None), context)
            if probe.detail.get("needs_fhir_server"):       # graded from live facts: say which service
                checks["needs_fhir_server"] = True
                return
            raise NothingToAuditWith("no reference answer or solution to audit with (the task is graded from "
                                     "the agent's actions, e.g. its POST requests)")
        return
    if context.data_missing is not None:
        if not writes_code(task) and task.answer is not None:
            check_answer_truth(task, context, checks)      # needs no data: the truth against the checker
        return
    if writes_code(task):
        if reference is None:
            raise Finding("reference failed: the task carries no reference solution to audit")
        check_code_task(task, reference, context, checks)
    elif reference is not None:
        check_answer_program(task, reference, context, checks)
    else:
        check_answer_truth(task, context, checks)


def audit_task(task: Task, context: AuditContext) -> dict[str, Any]:
    """The audit.jsonl row of one task (see the module docstring)."""
    checks: dict[str, Any] = {}
    row: dict[str, Any] = {"task_id": task.id, "dataset": task.dataset, "split": task.split,
                           "source": (task.meta or {}).get("source"), "fingerprint": fingerprint(task)}
    verdict, reason = GRADABLE, "every check passed"
    data_missing = context.data_missing
    try:
        _run_checks(task, context, checks)
    except Finding as finding:
        verdict, reason = UNGRADABLE, str(finding)
    except NothingToAuditWith as nothing:
        data_missing = f"needs a reference: {nothing}"
    dispute = label_check(task, context, checks) if task.checker == "medcalc" else None
    if dispute is not None and verdict == GRADABLE:
        verdict = LABEL_DISPUTED
        reason = f"label disputed ({dispute['calculator']}): {checks['label'].get('reason', '')}"
        row.update(dispute)
    if writes_code(task) or _reference_code(task) is not None:
        checks["imports_missing_in_sandbox"] = list(context.missing_modules)
    if data_missing is None and checks.get("needs_fhir_server"):
        data_missing = f"needs a FHIR server to grade (set {FHIR_URL_ENV})"
    if data_missing is not None and verdict != UNGRADABLE:
        verdict, reason = NEEDS_DATA, data_missing
    elif verdict == GRADABLE and checks.get("numpy1_aliases"):
        reason = f"every check passed with NumPy 1 aliases restored: {', '.join(checks['numpy1_aliases'])}"
    row.update(verdict=verdict, reason=reason, checks=checks)
    return row
