"""BioCoder and the offline biocoder pack: run the agent's function inside the task's harness.

The agent's `final_code` (its function definition) replaces the "<<insert solution here>>" line of
checker_params["harness"], indented to that line's depth (a method inside a class body; see
`reward.checkers.solution_insertion`), after a shim restoring the removed NumPy 1 aliases that the task's
harness or reference uses (`reward.checkers.numpy1_aliases`). The program runs in a fresh sandbox session
(task resources mounted) and its stdout must equal the expected stdout EXACTLY (no stripping: the harness
prints the same way for both). The expected stdout is `task.answer` when the loader precomputed it;
otherwise the checker runs checker_params["reference"] in the same harness once per (harness, reference) pair
and caches the stdout in-process. A reference that does not exit cleanly raises `InvalidTaskError` (with its
stderr tail): a broken task is reported loudly and never scored correct.

Wrong: no final code, a run that errors / times out / exits early (sys.exit before the harness prints),
any extra or missing output. Not protected against: an agent that hard-codes the exact expected output of
the harness' fixed-seed inputs without computing it (it would need to know that output).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from reward.checkers import CheckOutcome, InvalidTaskError, SandboxRequiredError, no_answer, require_param
from reward.checkers.numpy1_aliases import shim_for, used_aliases
from reward.checkers.solution_insertion import insert_solution

DEFAULT_TIMEOUT_S = 10.0
MAX_STDOUT_BYTES = 1 << 20  # harness outputs are compared whole: allow more than the sandbox's 64 KiB default
_TAIL = 2000

_reference_stdout: dict[str, str] = {}
_reference_lock = threading.Lock()


def numpy1_aliases(task) -> list[str]:
    """The removed NumPy 1 aliases the task's own harness or reference uses (restored for its runs)."""
    return used_aliases(require_param(task, "harness") + "\n" + str(task.checker_params.get("reference") or ""))


def build_program(task, code: str) -> str:
    harness = require_param(task, "harness")
    try:
        program = insert_solution(harness, code)
    except ValueError as err:
        raise InvalidTaskError(f"task {task.id}: checker_params['harness']: {err}") from None
    return shim_for(numpy1_aliases(task)) + program


def _run(task, backend, program: str, timeout_s: float):
    mounts = {name: Path(path) for name, path in task.resources.items()}
    with backend.open_session(mounts) as session:
        return session.run_python(program, timeout_s=timeout_s, max_output_bytes=MAX_STDOUT_BYTES)


def expected_stdout(task, backend, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """task.answer when it is the precomputed stdout; else the reference's stdout (cached per harness+reference)."""
    if isinstance(task.answer, str):
        return task.answer
    reference = require_param(task, "reference")
    program = build_program(task, reference)
    key = hashlib.sha256(program.encode()).hexdigest()
    with _reference_lock:
        if key in _reference_stdout:
            return _reference_stdout[key]
    result = _run(task, backend, program, timeout_s)
    if not result.ok or result.stdout_truncated:
        raise InvalidTaskError(
            f"task {task.id} ({task.meta.get('source', task.dataset)}): the REFERENCE solution fails in its own "
            f"harness (status {result.status.value}, exit {result.exit_code}, stdout truncated: "
            f"{result.stdout_truncated}); the task cannot be scored. "
            f"stderr tail: {result.stderr[-_TAIL:]}")
    with _reference_lock:
        _reference_stdout[key] = result.stdout
    return result.stdout


def check(task, trajectory, backend=None, exec_timeout_s: float | None = None) -> CheckOutcome:
    if backend is None:
        raise SandboxRequiredError(f"task {task.id}: the biocoder checker runs code; pass a sandbox backend")
    timeout_s = float(exec_timeout_s or task.checker_params.get("timeout_s", DEFAULT_TIMEOUT_S))
    code = trajectory.final_code
    if not isinstance(code, str) or not code.strip():
        return no_answer(trajectory, "final code")
    expected = expected_stdout(task, backend, timeout_s)
    result = _run(task, backend, build_program(task, code), timeout_s)
    detail: dict[str, Any] = {"expected_stdout": expected[-_TAIL:], "got_stdout": result.stdout[-_TAIL:],
                              "status": result.status.value, "exit_code": result.exit_code,
                              "numpy1_aliases": numpy1_aliases(task),
                              "wall_s": round(result.wall_s, 4)}
    if not result.ok:
        detail["stderr_tail"] = result.stderr[-_TAIL:]
        detail["message"] = f"the harness run did not finish cleanly (status {result.status.value})"
        return CheckOutcome(False, detail)
    correct = result.stdout == expected and not result.stdout_truncated
    detail["message"] = "stdout identical to the reference's" if correct else "stdout differs from the reference's"
    return CheckOutcome(correct, detail)
