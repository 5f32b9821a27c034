"""`run_episodes_batched`: N CodeAct episodes stepped in lockstep, one batched policy call per turn.

    trajectories = run_episodes_batched([(task_a, 0), (task_b, 0), (task_a, 1)], policy, backend,
                                        EpisodeSettings(max_turns=2), temperature=0.0, max_new_tokens=256)

The episode loop of `copilot.agent.rollout.run_episode`, for many episodes at once: every turn, the chats of
the episodes not yet done are sent to `policy.generate_batch` (HFLocalPolicy pads them on the left and runs
one `generate` per `batch_size` rows), then every reply is stepped in its own `CodeActEnv`. Episodes whose
`for_episode` returns different policy objects (expert / replay policies: one instance per episode) are
grouped by that object, so each group gets its own `generate_batch` call. The result list is in the order
of `tasks_and_indices` and each trajectory is what `run_episode` would have produced for the same episode
(same messages, actions, answer, score, token counts; for greedy decoding the texts are the same as long as
batched and one-by-one generation agree, which left padding with an attention mask gives up to float
rounding). The environment steps of one turn may run in `step_workers` threads (sandbox calls wait on
subprocesses, so the episodes' executions overlap); each env has its own session, the backend is shared.

Errors, as in run_episode: a policy failure ends the episode with termination "policy_error"
(trajectory.meta["policy_error"]) and it is still scored; a `generate_batch` call that raises fails every
episode of that call (a batch has one outcome: the cause is the same for all its rows), as does a reply list
of the wrong length. Errors of the environment (sandbox, broken task) raise, after every other episode's
session is released (the first such error is raised; the others are chained in its notes). Sessions are
released in every case.

Timings: a turn's batch latency is charged in full to every episode of the batch (policy_s is the wall
time the episode waited for its reply); actions[i]["timings"]["batch_rows"] says how many rows shared it.

Not protected against: memory of N open sessions and N chats at once (choose N with the sandbox's worker
count and the model's memory in mind); policies whose `generate_batch` is not thread-safe when the same
object is shared with other callers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from copilot.agent.episode import CodeActEnv, EpisodeSettings
from copilot.agent.rollout import record_policy_failure, finish_trajectory
from copilot.agent.trajectory import Trajectory
from copilot.tasks.task import Task


class _Episode:
    """One episode's env, its per-episode policy and its running totals."""

    def __init__(self, env: CodeActEnv, task: Task, rollout_index: int):
        self.env, self.task, self.rollout_index = env, task, rollout_index
        self.policy: Any = None
        self.tokens = {"prompt_tokens": 0, "completion_tokens": 0}
        self.policy_s = 0.0
        self.start = time.perf_counter()
        self.end: float | None = None


def run_episodes_batched(tasks_and_indices: Sequence[tuple[Task, int]], policy, backend,
                         settings: EpisodeSettings | None = None, *, temperature: float = 0.0,
                         max_new_tokens: int | None = None, debug_policy=None,
                         step_workers: int = 4) -> list[Trajectory]:
    settings = (settings or EpisodeSettings()).validate()
    pairs = _check_pairs(tasks_and_indices)
    if step_workers < 1:
        raise ValueError(f"run_episodes_batched: step_workers must be >= 1, got {step_workers}")
    episodes: list[_Episode] = []
    pool = ThreadPoolExecutor(max_workers=step_workers) if step_workers > 1 and len(pairs) > 1 else None
    try:
        for task, index in pairs:
            episode = _Episode(CodeActEnv(backend, settings, debug_policy=debug_policy), task, index)
            episodes.append(episode)  # listed before reset, so a failing reset still gets its env closed
            episode.env.reset(options={"task": task})
            episode.env.trajectory.policy = getattr(policy, "name", type(policy).__name__)
            episode.env.trajectory.rollout_index = index
            try:
                episode.policy = policy.for_episode(task, index)
            except Exception as err:  # noqa: BLE001 - a policy failure is an outcome, not a crash
                record_policy_failure(episode.env, err)
        while True:
            now = time.perf_counter()
            for episode in episodes:
                if episode.env.done and episode.end is None:
                    episode.end = now
            active = [e for e in episodes if not e.env.done]
            if not active:
                break
            steps: list[tuple] = []
            for group in _groups(active):
                steps.extend(_generate(group, temperature, max_new_tokens))
            _run_steps(steps, pool)
    finally:
        for episode in episodes:
            episode.env.close()
        if pool is not None:
            pool.shutdown(wait=True)
    return [_finish(e) for e in episodes]


def _check_pairs(tasks_and_indices) -> list[tuple[Task, int]]:
    pairs = []
    for i, item in enumerate(tasks_and_indices):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Task)
                and isinstance(item[1], int)):
            raise TypeError(f"run_episodes_batched: tasks_and_indices[{i}] must be (Task, rollout_index int), "
                            f"got {type(item).__name__}: {str(item)[:120]}")
        pairs.append((item[0], item[1]))
    return pairs


def _groups(active: list[_Episode]) -> list[list[_Episode]]:
    """Active episodes grouped by their per-episode policy object, in first-seen order."""
    groups: dict[int, list[_Episode]] = {}
    for episode in active:
        groups.setdefault(id(episode.policy), []).append(episode)
    return list(groups.values())


def _generate(group: list[_Episode], temperature: float, max_new_tokens: int | None) -> list[tuple]:
    """One generate_batch call for the group; returns (episode, reply, latency, rows) to step."""
    # All episodes share settings, so one tools schema serves the batch (None in the JSON format).
    tools = group[0].env.tools
    t0 = time.perf_counter()
    try:
        replies = group[0].policy.generate_batch([list(e.env.messages) for e in group], temperature=temperature,
                                                 max_new_tokens=max_new_tokens, tools=tools)
        if len(replies) != len(group):
            raise RuntimeError(f"generate_batch returned {len(replies)} replies for {len(group)} chats")
    except Exception as err:  # noqa: BLE001 - the whole call failed: every row of it is a policy failure
        took = time.perf_counter() - t0
        for episode in group:
            episode.policy_s += took
            record_policy_failure(episode.env, err)
        return []
    took = time.perf_counter() - t0
    out = []
    for episode, reply in zip(group, replies):
        episode.policy_s += took
        prompt = int(getattr(reply, "prompt_tokens", 0) or 0)
        completion = int(getattr(reply, "completion_tokens", 0) or 0)
        episode.tokens["prompt_tokens"] += prompt
        episode.tokens["completion_tokens"] += completion
        if prompt or completion:
            episode.env.note_usage(prompt, completion)
        out.append((episode, reply, took, len(group)))
    return out


def _step_one(item) -> None:
    episode, reply, took, rows = item
    episode.env.step(reply.text)
    timings = episode.env.trajectory.actions[-1]["timings"]
    timings["policy_s"] = took
    timings["policy_latency_s"] = float(getattr(reply, "latency_s", took) or 0.0)
    timings["batch_rows"] = rows


def _run_steps(steps: list, pool: ThreadPoolExecutor | None) -> None:
    """Step every (episode, reply); env errors are raised after all steps of the turn have finished."""
    errors: list[BaseException] = []
    if pool is None or len(steps) < 2:
        for item in steps:
            try:
                _step_one(item)
            except Exception as err:  # noqa: BLE001 - re-raised below, after the other episodes' steps
                errors.append(err)
    else:
        for future in [pool.submit(_step_one, item) for item in steps]:
            err = future.exception()
            if err is not None:
                errors.append(err)
    if errors:
        first = errors[0]
        for other in errors[1:]:
            first.add_note(f"also failed in the same turn: {type(other).__name__}: {other}")
        raise first


def _finish(episode: _Episode) -> Trajectory:
    return finish_trajectory(episode.env.trajectory, episode.tokens, episode.policy_s,
                             (episode.end or time.perf_counter()) - episode.start)
