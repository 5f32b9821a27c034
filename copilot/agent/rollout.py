"""`run_episode`: one task, one policy, one sandbox session → a scored `Trajectory`.

    trajectory = run_episode(task, policy, backend, EpisodeSettings(), rollout_index=0, temperature=0.0)

Calls `policy.for_episode(task, rollout_index)` once (replay / expert policies return a per-episode
instance), then alternates `generate(messages, temperature=..., max_new_tokens=..., tools=...)` and
`CodeActEnv.step` until the episode ends (answer, turn or token budget). The policy is duck-typed (the
`copilot.policies.base.Policy` interface: `name`, `for_episode`, `generate` returning an object with
`text`, `prompt_tokens`, `completion_tokens`, `latency_s`).

A policy that raises (including a timeout) ends the episode with termination "policy_error"; the error is
recorded in trajectory.meta["policy_error"] and the trajectory is still scored (the last execution's answer
counts, as for any episode that ends without final_answer). Never raised. Errors of the environment itself
(the sandbox failing, a broken task) DO raise: they are not the policy's fault and must not be recorded as
its failures. The session is released in every case.

Recorded: trajectory.policy / rollout_index; tokens {prompt_tokens, completion_tokens, total_tokens}
(summed over turns); timings: policy_s, wall_s, plus the env's sandbox_s / env_step_s / env_overhead_s /
reward_s / session_open_s; per turn, actions[i]["timings"]["policy_s"] next to the env's step figures.
"""

from __future__ import annotations

import time
import traceback

from copilot.agent.episode import CodeActEnv, EpisodeSettings
from copilot.agent.trajectory import Trajectory
from copilot.tasks.task import Task


def run_episode(task: Task, policy, backend, settings: EpisodeSettings | None = None, *, rollout_index: int = 0,
                temperature: float = 0.0, max_new_tokens: int | None = None, debug_policy=None) -> Trajectory:
    settings = settings or EpisodeSettings()
    start = time.perf_counter()
    env = CodeActEnv(backend, settings, debug_policy=debug_policy)
    tokens = {"prompt_tokens": 0, "completion_tokens": 0}
    policy_s = 0.0
    try:
        env.reset(options={"task": task})
        trajectory = env.trajectory
        trajectory.policy = getattr(policy, "name", type(policy).__name__)
        trajectory.rollout_index = rollout_index
        try:
            episode_policy = policy.for_episode(task, rollout_index)
        except Exception as err:  # noqa: BLE001 - a policy failure is an outcome, not a crash
            record_policy_failure(env, err)
            episode_policy = None
        while episode_policy is not None and not env.done:
            t0 = time.perf_counter()
            try:
                reply = episode_policy.generate(list(env.messages), temperature=temperature,
                                                max_new_tokens=max_new_tokens, tools=env.tools)
                text = reply.text
            except Exception as err:  # noqa: BLE001
                policy_s += time.perf_counter() - t0
                record_policy_failure(env, err)
                break
            took = time.perf_counter() - t0
            policy_s += took
            prompt = int(getattr(reply, "prompt_tokens", 0) or 0)
            completion = int(getattr(reply, "completion_tokens", 0) or 0)
            tokens["prompt_tokens"] += prompt
            tokens["completion_tokens"] += completion
            if prompt or completion:
                env.note_usage(prompt, completion)
            env.step(text)
            env.trajectory.actions[-1]["timings"]["policy_s"] = took
            env.trajectory.actions[-1]["timings"]["policy_latency_s"] = float(getattr(reply, "latency_s", took) or 0.0)
    finally:
        env.close()
    return finish_trajectory(env.trajectory, tokens, policy_s, time.perf_counter() - start)


def finish_trajectory(trajectory: Trajectory, tokens: dict, policy_s: float, wall_s: float) -> Trajectory:
    """Record an ended episode's token usage (prompt / completion / total), policy and wall time, and turns."""
    tokens = dict(tokens)
    tokens["total_tokens"] = tokens["prompt_tokens"] + tokens["completion_tokens"]
    trajectory.tokens = tokens
    trajectory.timings["policy_s"] = policy_s
    trajectory.timings["wall_s"] = wall_s
    trajectory.meta["turns"] = len(trajectory.actions)
    return trajectory


def record_policy_failure(env: CodeActEnv, err: BaseException) -> None:
    """A policy that raised ends the episode as "policy_error" (an outcome of the rollout, not a crash)."""
    detail = "".join(traceback.format_exception_only(type(err), err)).strip()
    env.trajectory.meta["policy_error"] = detail
    env.end("policy_error", detail)
