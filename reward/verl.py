"""verl custom reward function: `reward.score` behind verl's `compute_score` interface.

verl calls `compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)` for each
response and accepts a float or a dict with a "score" key (the other keys are logged as reward extras).
Point verl 0.9 at it with

    reward.custom_reward_function.path=<repo>/reward/verl.py
    reward.custom_reward_function.name=compute_score          # or compute_score_async (reward-loop workers)

(older verl releases used the top-level `custom_reward_function.path/name`). The parquet row's
`extra_info` must carry the Task: extra_info["task"] = Task.to_dict() (a dict or its JSON text). Then:
- extra_info["trajectory"] (or kwargs["trajectory"]), when present, is scored as a multi-turn Trajectory;
- otherwise `solution_str` is scored single-turn (`reward.single_turn`: last ```python block, sandboxed),
  unless `require_trajectory=True` (a kwarg, or verl's `reward.custom_reward_function.reward_kwargs`): then a
  missing trajectory is a `MissingTrajectoryError` naming the task, because in a multi-turn run it means the
  agent loop's trajectory never reached the reward (scoring the decoded text instead would silently train on
  the wrong reward). Our verl config (copilot.rl.verl_config) sets it.
- `weights` (a kwarg / reward_kwargs, e.g. {"correct": 1.0, "format": 0.1}) are `reward.score`'s weights.
`ground_truth` is NOT used for judging (the task's own `answer` and checker are; verl requires the column,
so write `json.dumps(task.answer)` there for readability). `data_source` is reported only.

Remote mode: set REWARD_SERVICE_URL (or pass reward_service_url=...) to send each sample to a running
`python -m reward.serve` instead of scoring in-process (keeps sandbox workers off the trainer's nodes).
A broken task (InvalidTaskError) is logged at ERROR and scored 0.0 with "invalid_task": 1.0 so that one
bad row does not crash a training run; the log line names the task.
Returned dict: {"score", "correct" (0/1), "format_ok" (0/1), "invalid_task" (0/1)} — scalars only, as verl
aggregates every extra key into per-batch metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

SERVICE_URL_ENV = "REWARD_SERVICE_URL"
_log = logging.getLogger(__name__)


def task_from_extra_info(extra_info: Any) -> dict[str, Any]:
    if isinstance(extra_info, str):
        extra_info = json.loads(extra_info)
    if not isinstance(extra_info, dict):
        raise ValueError(f"verl extra_info must be a dict carrying 'task' (Task.to_dict()); got "
                         f"{type(extra_info).__name__}")
    task = extra_info.get("task")
    if task is None and {"id", "checker", "answer"} <= set(extra_info):
        task = extra_info  # extra_info is the task dict itself
    if isinstance(task, str):
        task = json.loads(task)
    if not isinstance(task, dict):
        raise ValueError(f"verl extra_info['task'] must be a Task dict (or its JSON); got keys {sorted(extra_info)}")
    return task


def _trajectory(extra_info: Any, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    trajectory = kwargs.get("trajectory")
    if trajectory is None and isinstance(extra_info, dict):
        trajectory = extra_info.get("trajectory")
    if isinstance(trajectory, str):
        trajectory = json.loads(trajectory)
    return trajectory


def _as_verl(result: dict[str, Any], data_source: str) -> dict[str, Any]:
    invalid = bool(result.get("detail", {}).get("invalid_task")) or result.get("status") == "invalid_task"
    if invalid:
        _log.error("reward: invalid task from %s: %s", data_source, result.get("detail", {}).get("message"))
    return {"score": float(result["score"]), "correct": float(bool(result["correct"])),
            "format_ok": float(bool(result["format_ok"])), "invalid_task": float(invalid)}


class MissingTrajectoryError(ValueError):
    """require_trajectory=True and the sample carries no multi-turn trajectory."""


def _request(solution_str: str, extra_info: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    task = task_from_extra_info(extra_info)
    trajectory = _trajectory(extra_info, kwargs)
    if trajectory is None and kwargs.get("require_trajectory", False):
        keys = sorted(extra_info) if isinstance(extra_info, dict) else type(extra_info).__name__
        raise MissingTrajectoryError(
            f"reward.verl: task {task.get('id')!r} ({task.get('dataset')}): require_trajectory is set but the sample "
            f"has no trajectory (extra_info keys: {keys}); the multi-turn agent loop must put the finished episode "
            f"in extra_fields['trajectory'] (copilot_tool_agent does). Refusing to score the decoded text single-turn")
    request: dict[str, Any] = ({"task": task, "trajectory": trajectory} if trajectory is not None
                               else {"task": task, "response": solution_str})
    if kwargs.get("weights") is not None:
        request["weights"] = dict(kwargs["weights"])
    return request


def _score_local(request: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    from reward.checkers import InvalidTaskError
    from reward.score import score
    from reward.single_turn import score_response

    try:
        weights = request.get("weights")
        if "trajectory" in request:
            result = score(request["task"], request["trajectory"], backend=kwargs.get("backend"), weights=weights)
        else:
            result = score_response(request["task"], request["response"], backend=kwargs.get("backend"),
                                    weights=weights)
        return result.to_dict()
    except InvalidTaskError as exc:
        return {"correct": False, "format_ok": False, "score": 0.0,
                "detail": {"invalid_task": True, "message": str(exc)}}


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict[str, Any]:
    """verl's custom reward function (synchronous). See the module docstring."""
    request = _request(solution_str, extra_info, kwargs)
    url = kwargs.get("reward_service_url") or os.environ.get(SERVICE_URL_ENV)
    if url:
        import httpx

        response = httpx.post(url.rstrip("/") + "/score", json=request, timeout=kwargs.get("timeout_s", 120))
        response.raise_for_status()
        return _as_verl(response.json(), data_source)
    return _as_verl(_score_local(request, kwargs), data_source)


async def compute_score_async(data_source, solution_str, ground_truth, extra_info=None,
                              **kwargs) -> dict[str, Any]:
    """The same as `compute_score`, awaitable (verl's reward-loop workers await async reward functions)."""
    request = _request(solution_str, extra_info, kwargs)
    url = kwargs.get("reward_service_url") or os.environ.get(SERVICE_URL_ENV)
    if url:
        import httpx

        async with httpx.AsyncClient(timeout=kwargs.get("timeout_s", 120)) as client:
            response = await client.post(url.rstrip("/") + "/score", json=request)
            response.raise_for_status()
            return _as_verl(response.json(), data_source)
    return _as_verl(await asyncio.to_thread(_score_local, request, kwargs), data_source)
