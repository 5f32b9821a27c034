"""The CodeAct episode through a real sandbox session, real offline-pack tasks and the real reward."""

import copy
import json
from pathlib import Path

import pytest

from copilot.agent.actions import Action
from copilot.agent.episode import CodeActEnv, EpisodeOverError, EpisodeSettings
from copilot.agent.rollout import run_episode
from copilot.agent.tool_call_parser import TOOLS, render_tool_call
from copilot.tasks import load
from reward.checkers import InvalidTaskError
from agent_policies import Scripted


def act(kind, **params):
    return Action(kind, params).to_json_text()


@pytest.fixture
def sql_task(sql_tasks):
    return sql_tasks[0]


@pytest.fixture(scope="module")
def biocoder_task(pack_root):
    return load(pack_root / "biocoder", "test")[0]


def test_reset_gives_prompt_with_data_location_and_actions(backend, sql_task):
    env = CodeActEnv(backend, EpisodeSettings())
    messages, info = env.reset(options={"task": sql_task})
    try:
        assert [m["role"] for m in messages] == ["system", "user"]
        assert "/data/mimic_iii.sqlite: a SQLite database" in messages[0]["content"]
        assert '{"action": NAME, "params": {...}}' in messages[0]["content"]
        assert sql_task.question in messages[1]["content"]
        assert json.dumps(sql_task.answer) not in messages[0]["content"] + messages[1]["content"]
        assert info["task_id"] == sql_task.id and info["tools"] is None
        assert env.session is not None and not env.session.closed
    finally:
        env.close()
    assert env.session is None


def test_compact_prompt_for_small_models_still_runs_the_same_episode(backend, sql_task):
    env = CodeActEnv(backend, EpisodeSettings(prompt_style="compact", max_turns=1))
    messages, _ = env.reset(options={"task": sql_task})
    try:
        system = messages[0]["content"]
        assert "/data/mimic_iii.sqlite" in system and "sqlite3" in system and "`answer`" in system
        assert '{"action": "code_execution", "params": {"code": "..."}}' in system
        full_env = CodeActEnv(backend, EpisodeSettings(max_turns=1))
        full_system = full_env.reset(options={"task": sql_task})[0][0]["content"]
        full_env.close()
        assert len(system) * 3 < len(full_system) and messages[1]["content"].startswith("Task:")
        code = "import sqlite3\nanswer = [1]"
        _, _, terminated, truncated, _ = env.step(act("code_execution", code=code))
        assert terminated or truncated
        assert env.trajectory.final_answer == [1]
    finally:
        env.close()


def test_every_action_through_one_session(backend, sql_task):
    env = CodeActEnv(backend, EpisodeSettings(exec_timeout_s=5))
    env.reset(options={"task": sql_task})
    session = env.session
    obs, reward, term, trunc, info = env.step(act("request_info", query="distinct_values", target="prescriptions",
                                                  column="route"))
    assert obs.startswith("Data information:") and "po:" in obs and (reward, term, trunc) == (0.0, False, False)
    obs, *_ = env.step(act("code_execution", code="import json\nopen('note.txt', 'w').write('kept')\nx = 5\n"
                                                  "print('hello')\nanswer = [1, 2]"))
    assert obs.startswith("Code execution finished successfully.") and "stdout:\nhello" in obs
    assert "answer = [1, 2]" in obs
    obs, *_ = env.step(act("code_execution", code="print(open('note.txt').read())\nprint(x)"))
    assert "failed with an error" in obs and "kept" in obs and "NameError" in obs and "debug action" in obs
    obs, *_ = env.step(act("terminal", command="cat note.txt; ls /data | head -3; "
                                               "python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), 2)\""))
    assert obs.startswith("Terminal command failed") and "kept" in obs and "mimic_iii.sqlite" not in obs.split("stderr")[1]
    assert "OSError" in obs or "unreachable" in obs  # no network in the sandbox
    obs, *_ = env.step(act("debug", code="import sqlite3\nc = sqlite3.connect('file:/data/mimic_iii.sqlite?mode=ro', uri=True)\n"
                                         "c.execute('select * from admission')",
                           error="Traceback (most recent call last):\n  File \"<snippet>\", line 3, in <module>\n"
                                 "sqlite3.OperationalError: no such table: admission"))
    assert obs.startswith("Debug explanation:") and "Closest: admissions" in obs and "Line 3" in obs
    obs, reward, term, trunc, info = env.step(act("final_answer", answer=sql_task.answer))
    assert term and not trunc and info["termination"] == "answered"
    assert reward == pytest.approx(1.1) and env.trajectory.reward["correct"]
    assert session.closed and env.session is None  # released as soon as the episode ends
    traj = env.trajectory
    assert [a["kind"] for a in traj.actions] == ["request_info", "code_execution", "code_execution", "terminal",
                                                 "debug", "final_answer"]
    assert len(traj.executions) == 3  # request_info's inspection is not an agent execution
    assert [a["execution"] for a in traj.actions] == [None, 0, 1, 2, None, None]
    assert traj.final_answer == sql_task.answer and traj.termination == "answered"
    assert traj.timings["sandbox_s"] > 0 and traj.timings["env_step_s"] >= traj.timings["sandbox_s"]
    assert all("env_step_s" in a["timings"] for a in traj.actions)
    # the chat: system, user, then assistant/observation pairs, without an observation after the final answer
    assert [m["role"] for m in traj.messages] == ["system", "user"] + ["assistant", "user"] * 5 + ["assistant"]
    with pytest.raises(EpisodeOverError):
        env.step(act("final_answer", answer=1))


def test_ground_truth_never_ends_the_episode_but_paper_mode_does(backend, sql_task):
    reference = sql_task.meta["reference_solution"]
    texts = [act("code_execution", code=reference), act("code_execution", code="answer = ['nothing']")]
    normal = run_episode(sql_task, Scripted(texts), backend, EpisodeSettings(max_turns=2))
    assert normal.termination == "max_turns" and len(normal.actions) == 2
    assert normal.final_answer == ["nothing"] and not normal.reward["correct"]  # the LAST execution's answer
    paper = run_episode(sql_task, Scripted(texts), backend, EpisodeSettings(max_turns=2, paper_compatible=True))
    assert paper.termination == "paper_first_pass" and len(paper.actions) == 1
    assert paper.reward["correct"] and sorted(paper.final_answer) == sorted(sql_task.answer)


def test_turn_budget_and_last_answer_fallback(backend, sql_task):
    texts = [act("code_execution", code=f"answer = {i}") for i in range(10)]
    traj = run_episode(sql_task, Scripted(texts), backend, EpisodeSettings(max_turns=3))
    assert traj.termination == "max_turns" and len(traj.actions) == 3
    assert traj.has_final_answer and traj.final_answer == 2 and traj.reward is not None
    assert "turn limit was reached" not in traj.messages[-1]["content"]  # the budget note is for the caller


def test_final_answer_without_a_value_falls_back_to_the_last_answer(backend, sql_task):
    texts = [act("code_execution", code=sql_task.meta["reference_solution"]), act("final_answer", answer=None)]
    traj = run_episode(sql_task, Scripted(texts), backend, EpisodeSettings())
    assert traj.termination == "answered" and traj.reward["correct"]
    assert sorted(traj.final_answer) == sorted(sql_task.answer)


def test_token_budget(backend, sql_task):
    texts = [act("code_execution", code="print('x' * 3000)")] * 10
    # no usage reported: the context is estimated at 4 characters per token
    traj = run_episode(sql_task, Scripted(texts, usage=(0, 0)), backend, EpisodeSettings(max_total_tokens=2500))
    assert traj.termination == "max_tokens" and 1 < len(traj.actions) < 10
    # usage reported by the policy is trusted: a 3000-token prompt is over the budget after one turn
    traj = run_episode(sql_task, Scripted(texts, usage=(3000, 10)), backend, EpisodeSettings(max_total_tokens=2500))
    assert traj.termination == "max_tokens" and len(traj.actions) == 1


def test_parse_failure_is_an_observation_and_costs_a_turn(backend, sql_task):
    env = CodeActEnv(backend, EpisodeSettings(max_turns=2))
    env.reset(options={"task": sql_task})
    obs, reward, term, trunc, info = env.step("I believe the answer is po.")
    assert obs.startswith("Your last reply could not be used as an action.") and "No JSON object" in obs
    assert '"action" is one of: request_info, code_execution' in obs
    assert info["parse_error"] and not term and env.trajectory.messages[-1] == {"role": "user", "content": obs}
    obs, reward, term, trunc, info = env.step('{"action": "final_answer"}')
    assert trunc and info["termination"] == "max_turns" and 'needs param "answer"' in obs
    assert reward == 0.0 and not env.trajectory.reward["format_ok"]
    env.close()


def test_tool_call_format_same_actions_same_observations(backend, sql_task):
    steps = [Action("request_info", {"query": "column_names", "target": "patients"}),
             Action("code_execution", {"code": sql_task.meta["reference_solution"]}),
             Action("terminal", {"command": "ls /data | wc -l"}),
             Action("debug", {"code": "x", "error": "NameError: name 'x' is not defined"})]
    seen = {}
    for fmt, render in (("json", Action.to_json_text), ("tool_call", render_tool_call)):
        policy = Scripted([render(a) for a in steps] + [render(Action("final_answer", {"answer": sql_task.answer}))])
        traj = run_episode(sql_task, policy, backend, EpisodeSettings(action_format=fmt))
        assert traj.reward["correct"] and traj.termination == "answered"
        observations = [m for m in traj.messages[2:] if m["role"] != "assistant"]
        seen[fmt] = [m["content"] for m in observations]
        assert policy.seen[0][1] == (TOOLS if fmt == "tool_call" else None)
        if fmt == "tool_call":
            assert [m["role"] for m in observations] == ["tool"] * 4
            assert [m["name"] for m in observations] == ["request_info", "code_execution", "terminal", "debug"]
    assert seen["json"] == seen["tool_call"]


def test_code_tasks_take_final_code_from_the_last_successful_execution(backend, biocoder_task):
    reference = biocoder_task.meta["reference_solution"]
    texts = [act("code_execution", code=reference), act("code_execution", code="raise ValueError('scratch')"),
             act("final_answer", answer="done")]
    traj = run_episode(biocoder_task, Scripted(texts), backend, EpisodeSettings())
    assert traj.final_code == reference and traj.reward["correct"]


def test_policy_error_is_recorded_not_raised(backend, sql_task):
    traj = run_episode(sql_task, Scripted([act("code_execution", code=sql_task.meta["reference_solution"])]),
                       backend, EpisodeSettings(), rollout_index=3)
    assert traj.termination == "policy_error" and "ran out of turns" in traj.meta["policy_error"]
    assert traj.rollout_index == 3 and traj.policy == "scripted"
    assert traj.reward["correct"]  # the last execution's answer still counts
    assert traj.tokens == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert {"policy_s", "wall_s", "sandbox_s", "env_step_s", "env_overhead_s", "reward_s"} <= set(traj.timings)


def test_timeout_status_and_network_note(backend, sql_task):
    env = CodeActEnv(backend, EpisodeSettings(exec_timeout_s=1, allow_network=True))
    env.reset(options={"task": sql_task})
    obs, *_ = env.step(act("code_execution", code="import time\ntime.sleep(5)"))
    assert "was stopped at the time limit (1 s)" in obs
    obs, *_ = env.step(act("terminal", command="echo hi"))
    assert "network was allowed in the settings, but the process sandbox gives code no network" in obs
    env.close()


def test_session_released_when_a_step_raises(backend, biocoder_task):
    broken = copy.deepcopy(biocoder_task)
    broken.checker_params["harness"] = "print('no placeholder here')"
    env = CodeActEnv(backend, EpisodeSettings(paper_compatible=True))
    env.reset(options={"task": broken})
    session = env.session
    with pytest.raises(InvalidTaskError):
        env.step(act("code_execution", code=broken.meta["reference_solution"]))
    assert session.closed and not Path(session.host_dir).exists() and env.session is None and env.done


def test_debug_without_a_traceback_explains_the_last_failed_execution(backend, sql_task):
    code = "import pandas as pd\ndf = pd.read_csv('/data/prescriptions.csv')\nprint(df[df.drug_name == 'x'])"
    env = CodeActEnv(backend, EpisodeSettings())
    env.reset(options={"task": sql_task})
    env.step(act("code_execution", code=code))
    obs, *_ = env.step(act("debug", code="", error="see above"))
    assert "explaining your last failed execution" in obs
    assert "AttributeError: 'DataFrame' object has no attribute 'drug_name'" in obs
    assert "Line 3 of your code: print(df[df.drug_name == 'x'])" in obs and "closest real column names:" in obs
    assert "drug" in obs.split("closest real column names:")[1]
    env.close()


def test_llm_debug_through_a_policy(backend, sql_task):
    class Explainer:
        def act(self, messages, **kw):
            return "The table is called admissions."

    env = CodeActEnv(backend, EpisodeSettings(debug="llm"), debug_policy=Explainer())
    env.reset(options={"task": sql_task})
    obs, *_ = env.step(act("debug", code="c.execute('select * from admission')",
                           error="sqlite3.OperationalError: no such table: admission"))
    assert "Closest: admissions" in obs and obs.endswith("Explanation: The table is called admissions.")
    env.close()


def test_bad_settings_and_reset_arguments(backend):
    with pytest.raises(ValueError, match="action_format"):
        CodeActEnv(backend, EpisodeSettings(action_format="xml"))
    with pytest.raises(ValueError, match="max_turns"):
        CodeActEnv(backend, EpisodeSettings(max_turns=0))
    with pytest.raises(ValueError, match="prompt_style.*'full', 'compact'"):
        CodeActEnv(backend, EpisodeSettings(prompt_style="tiny"))
    with pytest.raises(ValueError, match="debug_policy"):
        CodeActEnv(backend, EpisodeSettings(debug="llm"))
    with pytest.raises(ValueError, match="must be a Task"):
        CodeActEnv(backend).reset(options={"task": {"id": 1}})
