"""The single-node / CPU backend of the rl stage: TRL's GRPOTrainer with our CodeAct episode as its environment.

    env = EpisodeEnvironment(backend, settings)              # what TRL's environment_factory builds per rollout
    reward = episode_reward(backend, settings, weights, out_dir)   # reward_funcs=[reward]
    summary = train_grpo(cfg, inputs, out_dir, knobs, settings, tasks, backend)   # -> train_and_hand_off summary

How our episode maps onto TRL (trl 1.16, `GRPOTrainer(environment_factory=...)`):
- tool_call episodes (the paper's setting, and verl's): one `EpisodeEnvironment` per rollout. `reset(**row)`
  opens a `CodeActEnv` episode (copilot.agent.episode) for the row's task, with its own sandbox session. Its
  five public methods ARE our five actions: they are generated from the episode's own tool schemas
  (`copilot.agent.tool_call_parser.TOOLS`), so the prompt TRL renders (`tools=`) shows exactly the schemas
  our episodes and verl show. Each call TRL parses from the model's turn runs one `env.step` with that call,
  so actions, observations, sandbox and final-answer settling are the episode's. At reward time
  `_finish(completion)` runs the generation TRL did not execute (its last one: TRL stops its loop on the turn
  budget, `max_tool_calling_iterations = max_turns - 1`, and when a turn holds no parseable tool call; our
  parser then records the parse error, as it does in an episode), ends the episode ("no_tool_call" /
  "max_tokens"), releases the session and scores it with `reward.score`.
- json episodes: TRL's tool loop only parses native tool calls, so a json-action rollout is ONE generation;
  the reward function runs it through a fresh episode (reset, one step, end). Only `episode.max_turns: 1`
  (the CPU demo's single-turn setting) is accepted for it; multi-turn json would not be our episode.
- reward: one function, `sandbox_episode` = `reward.score(task, trajectory, weights=...)`: correctness +
  format of the finished trajectory, exactly (`reward.score.combine` on the episode's own scoring). Per-rollout
  lines (task, termination, turns, correct, format_ok, score, sandbox timings) go to out_dir/episodes.jsonl
  and the batch means to the trainer's metrics (episode/correct, episode/format_ok, episode/turns, ...).

Where TRL's environment loop is NOT exactly our episode (said here rather than hidden):
- after a `final_answer` call ends the episode, TRL still lets the model generate again (its loop stops only on
  a turn without tool calls or on its budgets); further calls get "the task has already ended" and are not run.
  Those extra tokens are trained with the episode's reward. (Our verl agent loop stops right there.)
- a call whose arguments do not bind (missing / unknown argument) still goes to our parser, which records it
  as a parse error turn, as in an episode; several calls in one turn each run as their own episode turn
  (our episode would refuse the turn; verl runs only the first, max_parallel_calls=1).
- the assistant's free text before a tool call is trained on but not kept in the recorded trajectory's
  message (TRL passes tools only the call's arguments).
- tool-call parsing is TRL's (the tokenizer's response schema; for a chat template TRL does not know, the
  Qwen / hermes `<tool_call>` schema, which is our native format).
Simplified: the sandbox steps of a batch run one after another (TRL calls tools sequentially); no vLLM here
(`trl_overrides: {use_vllm: true, ...}` turns TRL's own vLLM on where installed).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Literal

from copilot.agent.episode import CodeActEnv, EpisodeSettings
from copilot.agent.tool_call_parser import TOOLS
from copilot.tasks.task import Task

log = logging.getLogger(__name__)

EPISODES_FILE = "episodes.jsonl"
ENDED_OBSERVATION = "The task has already ended; no further actions are run. Reply without a tool call."
_JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict, "array": list}


# ------------------------------------------------------------------------------------- the environment
def _type_hint(spec: dict[str, Any]):
    if "enum" in spec:
        return Literal[tuple(spec["enum"])]
    if "type" not in spec:
        return Any
    if spec["type"] not in _JSON_TYPES:
        raise ValueError(f"tool schema type {spec['type']!r} has no Python equivalent")
    return _JSON_TYPES[spec["type"]]


def _tool_method(tool: dict[str, Any]) -> Callable:
    """A method whose signature + Google docstring make transformers' get_json_schema give back `tool`; calling
    it passes the arguments, unchecked, to the episode (so a bad call is our parser's parse error)."""
    function = tool["function"]
    name, params = function["name"], function["parameters"]
    required = set(params.get("required", []))

    def method(self, **arguments):
        return self._act(name, arguments)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    lines = [function["description"], "", "Args:"]
    for key, spec in params["properties"].items():
        annotations[key] = _type_hint(spec)
        default = inspect.Parameter.empty if key in required else None
        parameters.append(inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=annotations[key]))
        lines.append(f"    {key}: {spec.get('description', key)}")
    method.__name__ = method.__qualname__ = name
    method.__doc__ = "\n".join(lines)
    method.__annotations__ = annotations
    method.__signature__ = inspect.Signature(parameters)
    return method


class EpisodeEnvironment:
    """One rollout's CodeAct episode for TRL's environment_factory (see the module docstring).

    Public methods are what TRL exposes as tools: `reset` and the five actions only (everything else is private).
    """

    def __init__(self, backend, settings: EpisodeSettings):
        self.env = CodeActEnv(backend, settings)
        self.task: Task | None = None
        self._trajectory = None

    def reset(self, task=None, **row) -> None:
        """Start the episode of the row's task (the dataset's `task` column: Task JSON); the prompt is the row's."""
        if task is None:
            raise ValueError(f"TRL dataset row has no 'task' column (columns: {sorted(row)})")
        self.task = Task.from_dict(json.loads(task) if isinstance(task, str) else dict(task), where="TRL row 'task'")
        self._trajectory = None
        self.env.reset(options={"task": self.task})
        return None

    def _act(self, name: str, arguments: dict[str, Any]) -> str:
        if self.env.done:
            return ENDED_OBSERVATION
        reply = {"role": "assistant", "content": "",
                 "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}
        observation, *_ = self.env.step(reply)
        return observation

    def _finish(self, completion: list[dict[str, Any]] | str):
        """Run the generation the loop did not execute, end the episode, release the session -> Trajectory."""
        if self._trajectory is not None:
            return self._trajectory
        if isinstance(completion, str):
            completion = [{"role": "assistant", "content": completion}]
        turns = [m for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
        last = turns[-1] if turns else {"role": "assistant", "content": ""}
        try:
            if not self.env.done and len(turns) > len(self.env.trajectory.actions):
                tool_format = self.env.settings.action_format == "tool_call"
                self.env.step(last if tool_format else str(last.get("content") or ""))
            if not self.env.done:
                self.env.end("max_tokens" if last.get("tool_calls") else "no_tool_call")
        finally:
            self.env.close()   # the session never outlives the rollout
        self._trajectory = self.env.trajectory
        return self._trajectory


for _tool in TOOLS:
    setattr(EpisodeEnvironment, _tool["function"]["name"], _tool_method(_tool))


# ------------------------------------------------------------------------------------------ the reward
def episode_reward(backend, settings: EpisodeSettings, weights: dict[str, float] | None = None,
                   out_dir: Path | None = None) -> Callable[..., list[float]]:
    """TRL reward function: the finished episode of each completion, scored by reward.score with `weights`."""
    from reward.score import combine

    weights = dict(weights or {})
    combine(True, True, weights)   # unknown weight keys fail now, not after the first rollouts
    rank = int(os.environ.get("RANK", "0"))
    lines_path = None
    if out_dir is not None:
        lines_path = Path(out_dir) / (EPISODES_FILE if rank == 0 else f"episodes.rank{rank}.jsonl")

    def sandbox_episode(prompts=None, completions=None, task=None, environments=None, trainer_state=None,
                        log_metric=None, **_) -> list[float]:
        if environments is None:   # json episodes: one generation, run through a fresh episode here
            if task is None:
                raise ValueError("TRL reward: the dataset needs a 'task' column (Task JSON per row)")
            environments = []
            for value in task:
                environment = EpisodeEnvironment(backend, settings)
                environment.reset(task=value)
                environments.append(environment)
        scores, lines = [], []
        for environment, completion in zip(environments, completions, strict=True):
            trajectory = environment._finish(completion)
            result = trajectory.reward or {}
            score = combine(bool(result.get("correct")), bool(result.get("format_ok")), weights)
            scores.append(score)
            timings = trajectory.timings or {}
            lines.append({"step": getattr(trainer_state, "global_step", None), "task_id": trajectory.task_id,
                          "dataset": trajectory.dataset, "termination": trajectory.termination,
                          "turns": len(trajectory.actions), "kinds": [a.get("kind") for a in trajectory.actions],
                          "parse_errors": sum(1 for a in trajectory.actions if a.get("error")),
                          "correct": bool(result.get("correct")), "format_ok": bool(result.get("format_ok")),
                          "score": score, **{k: round(float(v), 4) for k, v in timings.items()}})
        if lines_path is not None:
            with open(lines_path, "a", encoding="utf-8") as handle:
                handle.writelines(json.dumps(line) + "\n" for line in lines)
        if log_metric is not None and lines:
            for key in ("correct", "format_ok", "turns", "sandbox_s", "session_open_s", "reward_s"):
                log_metric(f"episode/{key}", sum(float(line.get(key, 0.0)) for line in lines) / len(lines))
        return scores

    return sandbox_episode


# ------------------------------------------------------------------------------------------ the trainer
def ensure_tool_parsing(tokenizer) -> None:
    """TRL parses tool calls with the tokenizer's response schema: TRL's own for templates it knows, else the
    hermes `<tool_call>` schema (Qwen's), our agent's native format."""
    import transformers
    from packaging.version import Version
    from trl.chat_template_utils import add_response_schema, qwen3_schema, qwen3_template

    if getattr(tokenizer, "response_schema", None) or getattr(tokenizer, "response_template", None):
        return
    try:
        add_response_schema(tokenizer)
        return
    except ValueError:
        pass
    log.info("TRL does not know this chat template; parsing tool calls as hermes <tool_call> blocks (our format)")
    if Version(transformers.__version__) >= Version("5.13.0.dev0"):
        tokenizer.response_template = qwen3_template
    else:
        tokenizer.response_schema = qwen3_schema


def task_dataset(tasks: list[Task], settings: EpisodeSettings):
    """One row per task: the episode's opening chat ("prompt") and the Task JSON ("task")."""
    import datasets

    from copilot.agent.prompts import initial_messages

    rows = [{"prompt": initial_messages(task, settings.action_format, settings.prompt_style),
             "task": json.dumps(task.to_dict(), ensure_ascii=False)} for task in tasks]
    return datasets.Dataset.from_list(rows)


def grpo_arguments(knobs, cfg, out_dir: Path, settings: EpisodeSettings) -> dict[str, Any]:
    """GRPOConfig keyword arguments: the shared trainer arguments, the stage's RL keys, then trl_overrides."""
    from copilot.stages.model_loading import training_arguments

    args = training_arguments(knobs, cfg, out_dir, "rl")
    args.pop("max_length")   # GRPO bounds prompts by the data and completions by max_completion_length
    args.update(num_generations=knobs.num_generations, max_completion_length=knobs.max_completion_length,
                temperature=knobs.temperature, beta=knobs.kl_coef, remove_unused_columns=False,
                reward_weights=[1.0],   # the weights are inside the one reward (reward.score's)
                max_tool_calling_iterations=(settings.max_turns - 1 if settings.action_format == "tool_call"
                                             else None))
    args.update(knobs.trl_overrides)
    return args


def train_grpo(cfg, inputs: dict[str, Path], out_dir: Path, knobs, settings: EpisodeSettings, tasks: list[Task],
               backend) -> dict[str, Any]:
    """GRPO on `tasks` with our episode; hands the model over at out_dir/model (train_and_hand_off)."""
    from trl import GRPOConfig, GRPOTrainer

    from copilot.stages.model_loading import (StageInputError, base_model_loader, load_model_and_tokenizer,
                                              lora_config, metrics_callback, train_and_hand_off)

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")   # environment_factory is experimental in TRL 1.16
    try:
        args = GRPOConfig(**grpo_arguments(knobs, cfg, out_dir, settings))
    except (TypeError, ValueError) as err:
        raise StageInputError(f"stage {knobs_name(cfg)!r}: TRL's GRPOConfig refused the settings (trl_overrides "
                              f"{sorted(knobs.trl_overrides)}): {err}") from err
    model, tokenizer, source = load_model_and_tokenizer(cfg, inputs)
    tool_format = settings.action_format == "tool_call"
    if tool_format:
        ensure_tool_parsing(tokenizer)
    peft = lora_config(cfg)
    started = time.perf_counter()
    try:
        trainer = GRPOTrainer(model=model, reward_funcs=[episode_reward(backend, settings, knobs.reward_weights,
                                                                        out_dir)],
                              args=args, train_dataset=task_dataset(tasks, settings), processing_class=tokenizer,
                              peft_config=peft, callbacks=[metrics_callback(out_dir)],
                              environment_factory=partial(EpisodeEnvironment, backend, settings) if tool_format
                              else None)
    except ValueError as err:
        if "chat template" in str(err):
            raise StageInputError(f"stage {knobs_name(cfg)!r}: {err} Tool-call episodes need a chat template that "
                                  f"renders tools and tool messages (set model.chat_template to one)") from err
        raise
    log.info("GRPO trainer ready in %.1f s (%d tasks, %s episodes)", time.perf_counter() - started, len(tasks),
             settings.action_format)
    return train_and_hand_off(trainer, tokenizer, out_dir, base_model_loader(cfg, source),
                              extra={"base_model": source, "backend": "trl", "tasks": len(tasks),
                                     "lora": peft is not None, "action_format": settings.action_format})


def knobs_name(cfg) -> str:
    stage = cfg.get("stage") or {}
    return str(stage.get("name", "rl"))
