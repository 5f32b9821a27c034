"""The CodeAct episode as a `gymnasium.Env`: one task, one sandbox session, turns of action → observation.

    env = CodeActEnv(backend, EpisodeSettings(action_format="json"))
    messages, info = env.reset(options={"task": task})        # system + user prompt
    obs, reward, terminated, truncated, info = env.step(model_text)
    env.trajectory                                             # everything so far; env.close() releases

Each step parses the model's text (`json_action_parser` or `tool_call_parser`, chosen by
settings.action_format), runs the action in the episode's sandbox session (task resources mounted read-only at
/data/<name>) and returns the observation text, which is also appended to `env.messages` (role "user" in the
JSON format; role "tool" in the tool-call format, except for parse failures, which answer no call). A reply
that is not a usable action costs a turn and its observation says what was wrong.

Ending (never the ground truth): a final_answer action (termination "answered"), the turn budget
(settings.max_turns, "max_turns", truncated=True), or the token budget (settings.max_total_tokens:
the context size, from the token counts the rollout reports through `note_usage`, else estimated as
characters / 4; "max_tokens", truncated=True). `end(reason)` ends it from outside (e.g. a policy error).
In paper_compatible mode each code execution is also checked against the ground truth and the first one whose
answer passes ends the episode with termination "paper_first_pass" (the paper's evaluation loop; it leaks
the checker's verdict into the episode length, so use it only to compare with published numbers).

At the end the final answer is settled (BRIEF: explicit final_answer value, else the `answer` of the last
code execution that set one; final_code for code-writing families), the session is released, and the
trajectory is scored with `reward.score` (the step's reward; 0.0 before the end).

debug: the rule-based explainer (or an LLM, settings.debug="llm" with a debug_policy), grounded in the schema
that `request_info.schema_program()` prints inside the session; an "error" without a Python exception line
("see above") is replaced by the traceback of the episode's last failed code execution.

Terminal commands run in the same session as the code. Network: no backend of this project gives sandboxed
code a network (process: its own network namespace; docker: network_mode="none"), so settings.allow_network
only adds a note saying so; it cannot open one.

Timings (per turn in actions[i]["timings"], totals in trajectory.timings): env_step_s (the whole step: parse,
sandbox, formatting; the final step's scoring is separate, reward_s), sandbox_s (time inside session calls),
env_overhead_s (env_step_s - sandbox_s), session_open_s.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium

from copilot.agent import debug_explainer, observations, request_info
from copilot.agent.actions import Action
from copilot.agent.json_action_parser import ActionParseError, parse_json_action
from copilot.agent.prompts import PROMPT_STYLES, initial_messages, writes_code
from copilot.agent.tool_call_parser import TOOLS, parse_tool_call
from copilot.agent.trajectory import Trajectory
from copilot.tasks.task import Task
from sandbox.execution import ExecRequestError, ExecResult

ACTION_FORMATS = ("json", "tool_call")
DEBUG_MODES = ("rules", "llm")
CHARS_PER_TOKEN = 4


@dataclass
class EpisodeSettings:
    max_turns: int = 15
    max_total_tokens: int | None = None
    action_format: str = "json"
    paper_compatible: bool = False
    exec_timeout_s: float = 10.0
    allow_network: bool = False
    debug: str = "rules"
    exec_memory_mb: int = 2048
    stream_cap: int = observations.STREAM_CAP
    prompt_style: str = "full"           # "compact" for very small models (copilot.agent.prompts)

    def validate(self) -> "EpisodeSettings":
        if not isinstance(self.max_turns, int) or self.max_turns < 1:
            raise ValueError(f"EpisodeSettings.max_turns: {self.max_turns!r} must be an integer >= 1")
        if self.max_total_tokens is not None and (not isinstance(self.max_total_tokens, int)
                                                  or self.max_total_tokens < 1):
            raise ValueError(f"EpisodeSettings.max_total_tokens: {self.max_total_tokens!r} must be None or >= 1")
        if self.action_format not in ACTION_FORMATS:
            raise ValueError(f"EpisodeSettings.action_format: {self.action_format!r}; expected one of {ACTION_FORMATS}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"EpisodeSettings.prompt_style: {self.prompt_style!r}; expected one of {PROMPT_STYLES}")
        if self.debug not in DEBUG_MODES:
            raise ValueError(f"EpisodeSettings.debug: {self.debug!r}; expected one of {DEBUG_MODES}")
        if not isinstance(self.exec_timeout_s, (int, float)) or not 0 < self.exec_timeout_s <= 600:
            raise ValueError(f"EpisodeSettings.exec_timeout_s: {self.exec_timeout_s!r} must be in (0, 600]")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EpisodeOverError(RuntimeError):
    """step() after the episode ended, or before reset()."""


class CodeActEnv(gymnasium.Env):
    """See the module docstring. Observations and actions are free text (no gymnasium space describes them)."""

    metadata = {"render_modes": []}

    def __init__(self, backend, settings: EpisodeSettings | None = None, *, debug_policy=None):
        self.backend = backend
        self.settings = (settings or EpisodeSettings()).validate()
        if self.settings.debug == "llm":
            if debug_policy is None:
                raise ValueError("EpisodeSettings.debug='llm' needs a debug_policy (a Policy with act())")
            self._explain = debug_explainer.LLMExplainer(debug_policy)
        else:
            self._explain = debug_explainer.explain
        self._parse = parse_json_action if self.settings.action_format == "json" else parse_tool_call
        self.task: Task | None = None
        self.session = None
        self.trajectory: Trajectory | None = None
        self.done = True
        self._schema: dict | None = None
        self._usage: tuple[int, int] | None = None

    # ------------------------------------------------------------------ gymnasium API
    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.trajectory.messages if self.trajectory else []

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        """The `tools=` schema to give the policy (tool-call format only)."""
        return TOOLS if self.settings.action_format == "tool_call" else None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        task = (options or {}).get("task")
        if not isinstance(task, Task):
            raise ValueError(f'CodeActEnv.reset: options["task"] must be a Task, got {type(task).__name__}')
        self._release()
        self.task, self.done, self._schema, self._usage = task, False, None, None
        messages = initial_messages(task, self.settings.action_format, self.settings.prompt_style)
        self.trajectory = Trajectory(task_id=task.id, dataset=task.dataset, messages=messages,
                                     timings={"sandbox_s": 0.0, "env_step_s": 0.0, "env_overhead_s": 0.0,
                                              "session_open_s": 0.0, "reward_s": 0.0},
                                     meta={"settings": self.settings.to_dict(), "family": task.family})
        start = time.perf_counter()
        self.session = self.backend.open_session(task.resource_paths())
        self.trajectory.timings["session_open_s"] = time.perf_counter() - start
        return copy.deepcopy(messages), {"task_id": task.id, "tools": self.tools}

    def note_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Real token counts of the policy call whose text the next step() receives (for the token budget)."""
        self._usage = (int(prompt_tokens or 0), int(completion_tokens or 0))

    def step(self, action_text: Any):
        if self.done or self.trajectory is None:
            raise EpisodeOverError("the episode is over (or never started): call reset() first")
        try:
            return self._step(action_text)
        except BaseException:
            self._release()  # the sandbox session never outlives a failed step
            self.done = True
            raise

    def end(self, reason: str, detail: str = "") -> float:
        """End the episode from outside (e.g. termination "policy_error"); returns the reward."""
        if self.done:
            raise EpisodeOverError("the episode is already over")
        if detail:
            self.trajectory.meta["end_detail"] = detail
        return self._finish(reason)

    def close(self) -> None:
        self._release()
        self.done = True

    # ------------------------------------------------------------------ one step
    def _step(self, action_text: Any):
        start = time.perf_counter()
        traj, turn = self.trajectory, len(self.trajectory.actions) + 1
        text = action_text if isinstance(action_text, str) else json.dumps(action_text, ensure_ascii=False)
        traj.messages.append({"role": "assistant", "content": text})
        record: dict[str, Any] = {"turn": turn, "kind": None, "content": None, "raw": text, "error": None,
                                  "execution": None}
        sandbox_before = traj.timings["sandbox_s"]
        try:
            # the tool-call parser also takes an OpenAI message dict; the JSON parser reads text only
            action = self._parse(action_text if self.settings.action_format == "tool_call" else text)
        except ActionParseError as err:
            action = None
            record["error"] = str(err)
            observation, role = observations.parse_error_observation(str(err)), "user"
        if action is not None:
            record["kind"], record["content"] = action.kind, action.params
            role = "user" if self.settings.action_format == "json" else "tool"
            observation = self._run_action(action, record)
        traj.actions.append(record)

        reason = None
        if record["kind"] == "final_answer":
            reason = "answered"
        elif self.task and self.settings.paper_compatible and self._passes_now(record):
            reason = "paper_first_pass"
        else:
            message = {"role": role, "content": observation}
            if role == "tool":
                message["name"] = record["kind"]
            traj.messages.append(message)
            if turn >= self.settings.max_turns:
                reason = "max_turns"
            elif self.settings.max_total_tokens and self._context_tokens() > self.settings.max_total_tokens:
                reason = "max_tokens"
        step_s = time.perf_counter() - start
        sandbox_s = traj.timings["sandbox_s"] - sandbox_before
        record["timings"] = {"env_step_s": step_s, "sandbox_s": sandbox_s}
        traj.timings["env_step_s"] += step_s
        traj.timings["env_overhead_s"] += step_s - sandbox_s
        self._usage = None
        reward = 0.0
        info: dict[str, Any] = {"turn": turn, "action_kind": record["kind"], "parse_error": record["error"]}
        if reason is not None:
            if reason in ("max_turns", "max_tokens"):
                observation += "\n" + observations.budget_observation(reason)
            reward = self._finish(reason)
            info.update(termination=reason, reward=traj.reward)
        terminated = reason in ("answered", "paper_first_pass")
        truncated = reason in ("max_turns", "max_tokens")
        return observation, reward, terminated, truncated, info

    def _run_action(self, action: Action, record: dict[str, Any]) -> str:
        kind, params = action.kind, action.params
        if kind == "final_answer":
            return self._settle_final(action)
        if kind == "debug":
            return self._debug(str(params.get("code", "")), str(params.get("error", "")))
        if kind == "request_info":
            result = self._execute(request_info.program_for(params), "python", record, keep=False)
            return result if isinstance(result, str) else observations.request_info_observation(result)
        if kind == "terminal":
            result = self._execute(params["command"], "bash", record)
            if isinstance(result, str):
                return result
            text = observations.execution_observation(result, "Terminal command", self.settings.exec_timeout_s,
                                                      self.settings.stream_cap)
            if self.settings.allow_network:
                text += (f"\nNote: network was allowed in the settings, but the {getattr(self.backend, 'name', '')}"
                         " sandbox gives code no network.")
            return text
        result = self._execute(params["code"], "python", record)
        if isinstance(result, str):
            return result
        return observations.execution_observation(result, "Code execution", self.settings.exec_timeout_s,
                                                  self.settings.stream_cap)

    def _execute(self, code: str, language: str, record: dict[str, Any], keep: bool = True) -> ExecResult | str:
        """Run in the session; record the ExecResult (when keep) and its index; a refused request → message."""
        start = time.perf_counter()
        try:
            if language == "python":
                result = self.session.run_python(code, timeout_s=self.settings.exec_timeout_s,
                                                 memory_mb=self.settings.exec_memory_mb)
            else:
                result = self.session.run_shell(code, timeout_s=self.settings.exec_timeout_s,
                                                memory_mb=self.settings.exec_memory_mb)
        except ExecRequestError as err:
            return f"The sandbox refused to run this: {err}"
        finally:
            self.trajectory.timings["sandbox_s"] += time.perf_counter() - start
        if keep:
            self.trajectory.executions.append(result.to_dict())
            record["execution"] = len(self.trajectory.executions) - 1
        return result

    def _debug(self, code: str, error: str) -> str:
        if self._schema is None and self.task.resources:
            start = time.perf_counter()
            try:
                probe = self.session.run_python(request_info.schema_program(), timeout_s=self.settings.exec_timeout_s)
                self._schema = request_info.parse_schema(probe.stdout) or {}
            finally:
                self.trajectory.timings["sandbox_s"] += time.perf_counter() - start
        note = ""
        if not debug_explainer.parse_traceback(error)["type"]:
            # "see above" and the like: explain the traceback the agent is looking at, its last failed run
            failed = [(rec, ex) for rec, ex in self._code_executions() if ex.get("status") != "ok" and ex.get("stderr")]
            if failed:
                error = failed[-1][1]["stderr"]
                code = failed[-1][0]["content"]["code"]  # the traceback's line numbers refer to this code
                note = "(The given error has no Python exception line: explaining your last failed execution.)\n"
        return "Debug explanation:\n" + note + self._explain(code, error, self._schema or None)

    # ------------------------------------------------------------------ answers and ending
    def _code_executions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(action record, execution dict) for each code_execution that ran, in order."""
        out = []
        for record in self.trajectory.actions:
            if record.get("kind") == "code_execution" and record.get("execution") is not None:
                out.append((record, self.trajectory.executions[record["execution"]]))
        return out

    def _settle_final(self, action: Action | None) -> str:
        """Set final_answer / final_code (BRIEF convention); returns the observation."""
        traj = self.trajectory
        value = action.params.get("answer") if action else None
        usable = action is not None and value is not None and not (isinstance(value, str) and not value.strip())
        source = "final_answer action"
        if usable:
            traj.has_final_answer, traj.final_answer = True, value
        else:
            source = "answer of the last code execution"
            answered = [ex for _, ex in self._code_executions() if ex.get("has_answer")]
            if answered:
                traj.has_final_answer, traj.final_answer = True, answered[-1]["answer"]
        if writes_code(self.task):
            given = action.params.get("code") if action else None
            if isinstance(given, str) and given.strip():
                traj.final_code = given
            else:
                ok = [rec["content"]["code"] for rec, ex in self._code_executions() if ex.get("status") == "ok"]
                traj.final_code = ok[-1] if ok else None
        return observations.final_answer_observation(traj.final_answer, traj.has_final_answer, source)

    def _passes_now(self, record: dict[str, Any]) -> bool:
        """paper_compatible: does this code execution's answer (or code) pass the checker right now?"""
        if record.get("kind") != "code_execution" or record.get("execution") is None:
            return False
        execution = self.trajectory.executions[record["execution"]]
        probe = Trajectory(task_id=self.task.id, dataset=self.task.dataset)
        if writes_code(self.task):
            if execution.get("status") != "ok":
                return False
            probe.final_code = record["content"]["code"]
        elif not execution.get("has_answer"):
            return False
        probe.has_final_answer, probe.final_answer = execution.get("has_answer", False), execution.get("answer")
        import reward  # lazily: scoring only happens at the end of episodes and in this mode

        start = time.perf_counter()
        try:
            return reward.score(self.task, probe, backend=self.backend, format_ok=True,
                                exec_timeout_s=self.settings.exec_timeout_s).correct
        finally:
            self.trajectory.timings["reward_s"] += time.perf_counter() - start

    def _finish(self, reason: str) -> float:
        import reward

        traj = self.trajectory
        if reason == "paper_first_pass":
            record = traj.actions[-1]
            execution = traj.executions[record["execution"]]
            traj.has_final_answer, traj.final_answer = execution.get("has_answer", False), execution.get("answer")
            if writes_code(self.task):
                traj.final_code = record["content"]["code"]
        elif reason != "answered":
            self._settle_final(None)
        traj.termination = reason
        self.done = True
        self._release()
        start = time.perf_counter()
        result = reward.score(self.task, traj, backend=self.backend, exec_timeout_s=self.settings.exec_timeout_s)
        traj.timings["reward_s"] += time.perf_counter() - start
        traj.reward = result.to_dict()
        return float(result.score)

    def _context_tokens(self) -> int:
        last = self.trajectory.messages[-1]["content"] if self.trajectory.messages else ""
        if self._usage is not None:
            return self._usage[0] + self._usage[1] + len(last) // CHARS_PER_TOKEN
        return sum(len(str(m.get("content") or "")) for m in self.trajectory.messages) // CHARS_PER_TOKEN

    def _release(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()
