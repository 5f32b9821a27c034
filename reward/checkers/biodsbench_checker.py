"""BioDSBench: the task's `test_cases` (asserts) run after the agent's code, in the same interpreter.

The release never ran these asserts; here they decide. The program is
    <checker_params["setup_code"]: the notebook's earlier cells, when the task has them>
    <agent final_code>
    <checker_params["test_cases"]>
    answer = "<random nonce>"
run in a fresh sandbox session with the task's resources mounted. Correct only when the run ends cleanly
AND its `answer` is this call's nonce, i.e. every assert ran and passed. That closes the early-exit cheat
(sys.exit / os._exit in the agent's code ends the program before the nonce is set). The agent's code is
first compiled here on its own (parsing only, nothing runs) so that an unterminated string or a dangling
block cannot swallow the tests that follow it.

Not protected against: objects built to fool `==` (a class whose __eq__ always returns True) — the asserts
are the release's and compare with whatever the agent bound to the names they use.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from reward.checkers import CheckOutcome, SandboxRequiredError, no_answer, require_param

DEFAULT_TIMEOUT_S = 30.0
_TAIL = 2000


def check(task, trajectory, backend=None, exec_timeout_s: float | None = None) -> CheckOutcome:
    if backend is None:
        raise SandboxRequiredError(f"task {task.id}: the biodsbench checker runs code; pass a sandbox backend")
    tests = require_param(task, "test_cases")
    code = trajectory.final_code
    if not isinstance(code, str) or not code.strip():
        return no_answer(trajectory, "final code")
    try:
        compile(code, "<agent code>", "exec")
    except (SyntaxError, ValueError) as exc:
        return CheckOutcome(False, {"message": f"the agent's code does not parse: {exc}"})
    setup = task.checker_params.get("setup_code") or ""
    nonce = secrets.token_hex(16)
    program = f"{setup}\n\n{code}\n\n{tests}\n\nanswer = {nonce!r}\n"
    timeout_s = float(exec_timeout_s or task.checker_params.get("timeout_s", DEFAULT_TIMEOUT_S))
    mounts = {name: Path(path) for name, path in task.resources.items()}
    with backend.open_session(mounts) as session:
        result = session.run_python(program, timeout_s=timeout_s)
    passed = result.ok and result.has_answer and result.answer == nonce
    detail: dict[str, Any] = {"status": result.status.value, "exit_code": result.exit_code,
                              "tests_completed": bool(result.has_answer and result.answer == nonce),
                              "stderr_tail": result.stderr[-_TAIL:], "wall_s": round(result.wall_s, 4)}
    if passed:
        detail["message"] = "all test_cases asserts passed"
    elif result.has_answer and result.answer == nonce:
        detail["message"] = "tests ran but the program did not exit cleanly"
    else:
        detail["message"] = ("a test_cases assert failed or the code raised" if result.status.value == "error"
                             else f"the tests did not complete (status {result.status.value}; early exit?)")
    return CheckOutcome(passed, detail)
