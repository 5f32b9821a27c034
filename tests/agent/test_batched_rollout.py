"""copilot.agent.batched_rollout.run_episodes_batched against run_episode: same trajectories for the tiny local
model (greedy, left-padded batches) and for per-episode expert policies, the same error semantics (policy
failures recorded, environment errors raised), and every sandbox session released."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from copilot.agent.batched_rollout import run_episodes_batched
from copilot.agent.episode import EpisodeSettings
from copilot.agent.rollout import run_episode
from copilot.policies.base import Policy, PolicyError, PolicyReply
from copilot.policies.expert_policy import ExpertPolicy

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
if str(MODELS_DIR) not in sys.path:
    sys.path.insert(0, str(MODELS_DIR))

from tiny_qwen2 import build_tiny_qwen2  # noqa: E402


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    from copilot.policies.hf_local_policy import HFLocalPolicy

    return HFLocalPolicy(build_tiny_qwen2(tmp_path_factory.mktemp("tiny_qwen2_batched")), max_new_tokens=24,
                         batch_size=8)


@pytest.fixture(scope="module")
def mixed_tasks(pack_root):
    from copilot.tasks import load

    return [*load(pack_root / "ehr_sql", "test")[:2], *load(pack_root / "biostat", "test")[:2],
            *load(pack_root / "medcalc", "test")[:1]]


def _comparable(trajectory) -> dict:
    data = dataclasses.asdict(trajectory) if dataclasses.is_dataclass(trajectory) else dict(vars(trajectory))
    for key in ("timings", "meta"):
        data.pop(key, None)
    for action in data["actions"]:
        action.pop("timings", None)
    for execution in data["executions"]:  # durations and worker ids differ between runs
        for key in list(execution):
            if key.endswith("_s") or key == "detail":
                execution.pop(key)
    data["turns"] = trajectory.meta.get("turns")
    data["policy_error"] = trajectory.meta.get("policy_error")
    return data


def _sessions_left(backend) -> list:
    return list(Path(backend.sessions_root).iterdir())


@pytest.mark.slow
def test_greedy_tiny_model_batched_equals_one_by_one(tiny_policy, mixed_tasks, backend):
    settings = EpisodeSettings(max_turns=2)
    batched = run_episodes_batched([(task, 0) for task in mixed_tasks], tiny_policy, backend, settings,
                                   max_new_tokens=24)
    single = [run_episode(task, tiny_policy, backend, settings, max_new_tokens=24) for task in mixed_tasks]
    assert [t.task_id for t in batched] == [task.id for task in mixed_tasks]
    for one, many in zip(single, batched):
        assert _comparable(many) == _comparable(one)
    # every turn of every episode was generated in one batched call over the episodes still running
    assert all(a["timings"]["batch_rows"] == len(mixed_tasks) for t in batched for a in t.actions)
    assert all(t.termination == "max_turns" and len(t.actions) == 2 for t in batched)
    assert _sessions_left(backend) == []


def test_per_episode_expert_policies_solve_every_task_like_run_episode(mixed_tasks, backend):
    settings = EpisodeSettings(max_turns=3)
    pairs = [(task, index) for task in mixed_tasks for index in (0, 1)]
    batched = run_episodes_batched(pairs, ExpertPolicy("json"), backend, settings)
    assert [(t.task_id, t.rollout_index) for t in batched] == [(task.id, i) for task, i in pairs]
    assert all(t.reward["correct"] and t.termination == "answered" for t in batched)
    single = run_episode(mixed_tasks[0], ExpertPolicy("json"), backend, settings, rollout_index=1)
    assert _comparable(batched[1]) == _comparable(single)
    assert _sessions_left(backend) == []


def test_tool_call_format_passes_the_tool_schemas(mixed_tasks, backend):
    seen = []

    class Recording(Policy):
        name = "recording"

        def generate_batch(self, batch, **kw):
            seen.append((len(batch), kw["tools"], kw["max_new_tokens"], kw["temperature"]))
            return [PolicyReply('<tool_call>\n{"name": "final_answer", "arguments": {"answer": 1}}\n</tool_call>',
                                5, 3, 0.0) for _ in batch]

        def generate(self, messages, **kw):
            raise AssertionError("batched rollouts must call generate_batch")

    trajectories = run_episodes_batched([(task, 0) for task in mixed_tasks[:3]], Recording(), backend,
                                        EpisodeSettings(max_turns=2, action_format="tool_call"), temperature=0.7,
                                        max_new_tokens=11)
    assert len(seen) == 1 and seen[0][0] == 3 and seen[0][2:] == (11, 0.7)
    assert {tool["function"]["name"] for tool in seen[0][1]} >= {"code_execution", "final_answer"}
    assert all(t.termination == "answered" and t.final_answer == 1 for t in trajectories)
    assert all(t.tokens == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8} for t in trajectories)


class FailingOnTask(Policy):
    """generate_batch raises when any chat in the batch is about the given task; for_episode can fail too."""

    name = "failing"

    def __init__(self, bad_question: str, fail_in: str):
        self.bad_question, self.fail_in = bad_question, fail_in

    def for_episode(self, task, rollout_index):
        if self.fail_in == "for_episode" and task.question == self.bad_question:
            raise PolicyError("no policy for this task")
        return self

    def generate_batch(self, batch, **kw):
        if self.fail_in == "generate" and any(self.bad_question in m[1]["content"] for m in batch):
            raise PolicyError("the model server is down")
        return [PolicyReply('{"action": "code_execution", "params": {"code": "answer = 7"}}', 4, 2, 0.0)
                for _ in batch]

    def generate(self, messages, **kw):
        return self.generate_batch([messages], **kw)[0]


def test_policy_failure_in_for_episode_ends_only_that_episode(mixed_tasks, backend):
    policy = FailingOnTask(mixed_tasks[1].question, "for_episode")
    trajectories = run_episodes_batched([(task, 0) for task in mixed_tasks[:3]], policy, backend,
                                        EpisodeSettings(max_turns=1))
    assert [t.termination for t in trajectories] == ["max_turns", "policy_error", "max_turns"]
    assert "no policy for this task" in trajectories[1].meta["policy_error"]
    assert trajectories[1].reward is not None and trajectories[1].actions == []  # scored, never acted
    assert trajectories[0].final_answer == 7
    assert _sessions_left(backend) == []


def test_failed_generate_batch_is_a_policy_error_for_every_row_of_the_call(mixed_tasks, backend):
    policy = FailingOnTask(mixed_tasks[0].question, "generate")
    trajectories = run_episodes_batched([(task, 0) for task in mixed_tasks[:3]], policy, backend,
                                        EpisodeSettings(max_turns=2))
    assert all(t.termination == "policy_error" and "server is down" in t.meta["policy_error"] for t in trajectories)
    assert all(t.reward is not None and t.reward["correct"] is False for t in trajectories)
    # the same policy through run_episode: the same outcome for the failing task
    assert run_episode(mixed_tasks[0], policy, backend, EpisodeSettings(max_turns=2)).termination == "policy_error"
    assert _sessions_left(backend) == []


def test_environment_errors_raise_and_release_every_session(mixed_tasks, backend, tmp_path):
    broken = dataclasses.replace(mixed_tasks[0], id="broken", resources={"gone.sqlite": str(tmp_path / "gone")})
    with pytest.raises(FileNotFoundError, match="gone"):
        run_episodes_batched([(mixed_tasks[1], 0), (mixed_tasks[2], 0), (broken, 0)], ExpertPolicy("json"),
                             backend, EpisodeSettings(max_turns=2))
    assert _sessions_left(backend) == []


def test_bad_arguments_are_clear_errors(mixed_tasks, backend):
    with pytest.raises(TypeError, match=r"tasks_and_indices\[1\] must be \(Task, rollout_index int\)"):
        run_episodes_batched([(mixed_tasks[0], 0), mixed_tasks[1]], ExpertPolicy("json"), backend)
    with pytest.raises(ValueError, match="step_workers"):
        run_episodes_batched([(mixed_tasks[0], 0)], ExpertPolicy("json"), backend, step_workers=0)
    assert run_episodes_batched([], ExpertPolicy("json"), backend) == []
