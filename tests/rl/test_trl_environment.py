"""The TRL backend's pieces against a real sandbox, without a model: the environment's tools are our episode's
tools (same JSON schemas through transformers' get_json_schema, which TRL renders into the prompt), a
multi-turn exchange runs real actions, the turn TRL did not execute is caught up at the end, and the reward
is exactly reward.score on the finished trajectory (tool-call and json episodes). Also reward.verl's
require_trajectory / weights options and the verl config that sets them."""

from __future__ import annotations

import json

import pytest

from copilot.agent.episode import EpisodeSettings
from copilot.agent.tool_call_parser import TOOLS
from copilot.rl.trl_grpo import ENDED_OBSERVATION, EpisodeEnvironment, episode_reward

WEIGHTS = {"correct": 1.0, "format": 0.25}


@pytest.fixture(scope="module")
def backend(pack_root):
    from sandbox import open_backend

    with open_backend("process", workers=1, data_roots=[str(pack_root)]) as opened:
        yield opened


def tool_turn(name, **arguments) -> dict:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}


def test_environment_tools_are_the_episode_tools():
    from transformers.utils import get_json_schema

    env = EpisodeEnvironment.__new__(EpisodeEnvironment)   # schemas only: no sandbox needed
    public = sorted(n for n in dir(EpisodeEnvironment) if not n.startswith("_") and callable(getattr(env, n)))
    assert public == sorted([t["function"]["name"] for t in TOOLS] + ["reset"])
    for tool in TOOLS:
        name = tool["function"]["name"]
        assert get_json_schema(getattr(env, name)) == tool, name             # bound method, as TRL passes it
        assert get_json_schema(getattr(EpisodeEnvironment, name)) == tool, name


def test_multi_turn_exchange_then_catch_up_and_reward(backend, sql_tasks):
    import reward

    task = sql_tasks[0]
    env = EpisodeEnvironment(backend, EpisodeSettings(max_turns=6, action_format="tool_call"))
    assert env.reset(task=json.dumps(task.to_dict()), prompt=[]) is None
    schema = env.request_info(query="column_names", target="*")
    assert "Traceback" not in schema and len(schema) > 20
    ran = env.code_execution(code="answer = 6 * 7\nprint('hello from the sandbox')")
    assert "hello from the sandbox" in ran
    unbound = env.code_execution(cod="answer = 1")       # a call TRL could not bind: our parser's parse error
    assert "code" in unbound
    completion = [tool_turn("request_info", query="column_names", target="*"), {"role": "tool", "content": schema},
                  tool_turn("code_execution", code="..."), {"role": "tool", "content": ran},
                  tool_turn("code_execution", cod="answer = 1"), {"role": "tool", "content": unbound},
                  {"role": "assistant", "content": "I think the answer is 42."}]   # no tool call: TRL's loop ends
    scores = episode_reward(backend, env.env.settings, WEIGHTS)(completions=[completion], environments=[env])
    trajectory = env._finish(completion)                  # idempotent: the reward already finished it
    kinds = [a["kind"] for a in trajectory.actions]
    assert kinds == ["request_info", "code_execution", None, None]         # the catch-up turn is a parse error
    assert trajectory.actions[2]["error"] and trajectory.actions[3]["error"]
    assert trajectory.termination == "no_tool_call" and trajectory.final_answer == 42   # last code answer
    assert env.env.session is None                                         # the session is released
    expected = reward.score(task, trajectory, weights=WEIGHTS)
    assert scores == [expected.score] and not expected.format_ok


def test_final_answer_ends_the_episode_and_scores_like_reward_score(backend, sql_tasks):
    import reward

    task = sql_tasks[1]
    settings = EpisodeSettings(max_turns=3, action_format="tool_call")
    right, wrong = EpisodeEnvironment(backend, settings), EpisodeEnvironment(backend, settings)
    for env, answer in ((right, task.answer), (wrong, ["not", "it"])):
        env.reset(task=json.dumps(task.to_dict()))
        env.final_answer(answer=answer)
        assert env.code_execution(code="answer = 1") == ENDED_OBSERVATION    # TRL may go on; nothing runs
    completions = [[tool_turn("final_answer", answer=task.answer), {"role": "tool", "content": "..."},
                    tool_turn("code_execution", code="answer = 1"), {"role": "tool", "content": ENDED_OBSERVATION}],
                   [tool_turn("final_answer", answer=["not", "it"])]]
    scores = episode_reward(backend, settings, WEIGHTS)(completions=completions, environments=[right, wrong])
    for env, got in ((right, scores[0]), (wrong, scores[1])):
        trajectory = env._finish([])
        assert trajectory.termination == "answered" and len(trajectory.actions) == 1
        assert got == reward.score(task, trajectory, weights=WEIGHTS).score
    assert scores == [1.25, 0.25]


def test_turn_budget_catch_up_runs_the_last_call(backend, sql_tasks):
    task = sql_tasks[0]
    env = EpisodeEnvironment(backend, EpisodeSettings(max_turns=2, action_format="tool_call"))
    env.reset(task=json.dumps(task.to_dict()))
    env.code_execution(code="answer = [1]")
    # TRL stopped after max_turns - 1 tool rounds: the second call was generated but not executed
    completion = [tool_turn("code_execution", code="answer = [1]"), {"role": "tool", "content": "..."},
                  tool_turn("code_execution", code="answer = [2]")]
    trajectory = env._finish(completion)
    assert [a["kind"] for a in trajectory.actions] == ["code_execution", "code_execution"]
    assert trajectory.termination == "max_turns" and trajectory.final_answer == [2]


def test_json_single_turn_episode_reward(backend, sql_tasks, tmp_path):
    import reward
    from copilot.agent.trajectory import Trajectory

    task = sql_tasks[2]
    settings = EpisodeSettings(max_turns=1, action_format="json", prompt_style="compact")
    function = episode_reward(backend, settings, None, out_dir=tmp_path)
    good = json.dumps({"action": "code_execution", "params": {"code": f"answer = {json.dumps(task.answer)}"}})
    completions = [[{"role": "assistant", "content": good}], [{"role": "assistant", "content": "no idea"}]]
    scores = function(completions=completions, task=[json.dumps(task.to_dict())] * 2)
    lines = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert [line["correct"] for line in lines] == [True, False] and lines[1]["parse_errors"] == 1
    assert scores[0] == reward.score(task, Trajectory.answered(task.id, task.dataset, task.answer)).score == 1.1
    assert scores[1] == 0.0


def test_compute_score_require_trajectory_and_weights(sql_tasks):
    import reward
    from copilot.agent.trajectory import Trajectory
    from reward.verl import MissingTrajectoryError, compute_score

    task = sql_tasks[0]
    with pytest.raises(MissingTrajectoryError, match=f"task '{task.id}'.*no trajectory.*extra_fields"):
        compute_score(task.dataset, "```python\nanswer = 1\n```", "", {"task": task.to_dict()},
                      require_trajectory=True)
    trajectory = Trajectory.answered(task.id, task.dataset, task.answer)
    extra = {"task": task.to_dict(), "trajectory": trajectory.to_dict()}
    got = compute_score(task.dataset, "", "", extra, require_trajectory=True, weights=WEIGHTS)
    assert got["score"] == reward.score(task, trajectory, weights=WEIGHTS).score == 1.25


@pytest.mark.slow
def test_verl_config_requires_the_trajectory_and_passes_weights(tool_config_path):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    from copilot.rl.verl_config import compose_verl_config

    cfg = compose_verl_config("grpo", "Qwen/Qwen2.5-7B-Instruct", {"train": ["/x/train.parquet"]},
                              tool_config_path=tool_config_path, overrides=[
                                  "++reward.custom_reward_function.reward_kwargs.weights={correct:1.0,format:0.5}"])
    kwargs = cfg.reward.custom_reward_function.reward_kwargs
    assert kwargs.require_trajectory is True and dict(kwargs.weights) == {"correct": 1.0, "format": 0.5}
    passed = get_custom_reward_fn(cfg).args[1]             # verl's partial(_call_with_kwargs, fn, reward_kwargs)
    assert passed["require_trajectory"] is True and dict(passed["weights"]) == {"correct": 1.0, "format": 0.5}
