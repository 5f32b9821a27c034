"""Hand-built scored trajectories for the verifier tests (one code action, its observation, a verdict)."""

from __future__ import annotations


def trajectory(task_id: str, rollout: int, correct: bool, answer: str = "42", code: str = "answer = 42",
               policy: str = "hf:test"):
    from copilot.agent.trajectory import Trajectory

    return Trajectory(
        task_id=task_id, dataset=task_id.split("/")[0], policy=policy, rollout_index=rollout,
        messages=[{"role": "system", "content": "You solve tasks by writing Python."},
                  {"role": "user", "content": f"Task {task_id}: compute the value."},
                  {"role": "assistant", "content": '{"action": "code_execution", "params": {"code": "%s"}}' % code},
                  {"role": "user", "content": f"Code execution finished successfully.\nanswer = {answer}"}],
        has_final_answer=True, final_answer=answer, termination="answered",
        reward={"correct": correct, "format_ok": True, "score": 1.0 if correct else 0.1})
