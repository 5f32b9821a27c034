"""`python -m copilot.evaluate`: evaluate any policy on any dataset (SR, Pass@K, Best@K, code quality).

    python -m copilot.evaluate model.name_or_path=runs/demo/grpo/model k=8 verifier=runs/vd/verifier/model
    python -m copilot.evaluate run_dir=runs/demo k=4                    # the last model that run handed over
    python -m copilot.evaluate policy=openai base_url=http://127.0.0.1:8000/v1 \\
        served_model=Qwen/Qwen2.5-7B-Instruct data=medagentgym data.limit_test=100
    python -m copilot.evaluation.leaderboard runs/eval_a/eval runs/eval_b/eval --out reports/   # compare runs

It composes the `evaluate` recipe (recipes/recipe/evaluate.yaml) with the Hydra overrides given (data=...,
model=..., sandbox=..., episode.max_turns=..., run.name=...), sets the evaluate stage's keys from the short
flags below, and runs it through the pipeline, so the run dir, resume (re-run the same command), logging and
config validation are those of `python -m copilot.train`.

Short flags (the evaluate stage's keys; see copilot/stages/evaluate.py): k, temperature, verifier, policy
(hf | openai | expert), base_url, served_model, api_key_env, label, split, max_new_tokens, batch_size;
plus run_dir=DIR: evaluate the model of the last stage of that run that handed one over (its summary.json),
with that run's `episode` and `data` settings (a group choice such as data=medagentgym replaces the run's
data settings; single keys such as data.limit_test=4 or episode.max_turns=3 override theirs).
The run is named eval_<label or model dir> unless run.name is given. Outputs: runs/<name>/eval/ holds
eval.json / eval.md (greedy SR), results.json, leaderboard.md / .csv, curves.png (k > 1), trajectories.jsonl
and, with a verifier, trajectories.verifier_scores.jsonl.

Exit codes as copilot.train: 0 done, 2 a bad flag or config (named), 1 a stage failed.
Not protected against: two evaluations with the same run.name at once (the second resumes the first's store).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

STAGE_KEYS = ("k", "temperature", "verifier", "policy", "base_url", "served_model", "api_key_env", "label",
              "split", "max_new_tokens", "batch_size")
INT_KEYS = {"k", "max_new_tokens", "batch_size"}


class EvaluateArgsError(ValueError):
    """A short flag or run_dir is unusable (the message names it)."""


def model_of_run(run_dir: Path) -> tuple[str, Path]:
    """(model, that stage's dir): the model handed over by the last stage of a run that produced one."""
    from copilot.run_outputs import RunDirError, run_summary, stage_model

    try:
        stage, model = stage_model(run_dir, run_summary(run_dir))
    except RunDirError as err:
        raise EvaluateArgsError(f"run_dir={run_dir}: {err}") from err
    return str(model), Path(run_dir) / stage


def settings_of_run(stage_dir: Path, overrides: list[str]) -> list[str]:
    """The run's `episode` and `data` settings (from that stage's config.yaml) as Hydra overrides, to go BEFORE
    the user's: a model is evaluated on the episodes it was trained for (turns, action format, prompt style,
    datasets) unless the command line says otherwise."""
    from omegaconf import OmegaConf

    from copilot.config.hydra_values import hydra_value

    config_path = stage_dir / "config.yaml"
    if not config_path.is_file():
        raise EvaluateArgsError(f"run_dir: {config_path} does not exist; the run's stage dir lacks its config")
    run_cfg = OmegaConf.to_container(OmegaConf.load(config_path), resolve=False)
    chosen = {o.split("=", 1)[0].lstrip("+~") for o in overrides}      # e.g. "data" for data=medagentgym
    return [f"++{group}.{key}={hydra_value(value)}" for group in ("episode", "data") if group not in chosen
            for key, value in (run_cfg.get(group) or {}).items()]


def split_args(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """(short flags, Hydra overrides)."""
    flags, overrides = {}, []
    for arg in argv:
        key, eq, value = arg.partition("=")
        if not eq:
            raise EvaluateArgsError(f"argument {arg!r}: expected KEY=VALUE (a short flag such as k=8, or a Hydra "
                                    f"override such as data=medagentgym)")
        if key in STAGE_KEYS or key == "run_dir":
            flags[key] = value
        else:
            overrides.append(arg)
    return flags, overrides


def stage_values(flags: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, value in flags.items():
        if key == "run_dir":
            continue
        if key in INT_KEYS:
            try:
                values[key] = int(value)
            except ValueError:
                raise EvaluateArgsError(f"{key}={value!r}: expected an integer") from None
        elif key == "temperature":
            try:
                values[key] = float(value)
            except ValueError:
                raise EvaluateArgsError(f"temperature={value!r}: expected a number") from None
        elif key == "verifier" and value.lower() in ("null", "none", ""):
            values[key] = None
        else:
            values[key] = value
    return values


def compose(flags: dict[str, str], overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf, open_dict

    if not any(o.startswith("recipe=") for o in overrides):
        overrides = ["recipe=evaluate", *overrides]
    overrides = list(overrides)
    if "run_dir" in flags:
        model, stage_dir = model_of_run(Path(flags["run_dir"]))
        overrides = [*settings_of_run(stage_dir, overrides), f"model.name_or_path={model}", *overrides]
    config_dir = str(Path(__file__).resolve().parent.parent / "recipes")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = hydra_compose("config", overrides=overrides)
    stages = cfg.recipe.stages
    evaluate = [i for i, s in enumerate(stages) if s.get("kind") == "evaluate"]
    if not evaluate:
        raise EvaluateArgsError(f"recipe {cfg.recipe.name!r} has no evaluate stage to set "
                                f"{sorted(flags)} on; use recipe=evaluate (the default)")
    values = stage_values(flags)
    with open_dict(cfg):
        for key, value in values.items():
            stages[evaluate[-1]][key] = value
        if not any(o.startswith("run.name=") for o in overrides):
            from copilot.evaluation.report import model_label

            label = str(values.get("label") or values.get("served_model") or model_label(str(cfg.model.name_or_path)))
            cfg.run.name = "eval_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "model")
    return OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    from copilot.config import ConfigError, validate_run_config
    from copilot.pipeline import PipelineError, run

    try:
        flags, overrides = split_args(argv)
        config = validate_run_config(compose(flags, overrides))
    except (EvaluateArgsError, ConfigError) as err:
        print(f"error: bad arguments: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 -- Hydra composition errors (unknown group option / key)
        if type(err).__module__.startswith(("hydra", "omegaconf")):
            print(f"error: bad arguments: {err}", file=sys.stderr)
            return 2
        raise
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "copilot.evaluate", *argv])
    try:
        summary = run(config, command)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    eval_dir = Path(config["run"]["root"]) / config["run"]["name"] / summary["stages"][-1]["stage"]
    board = eval_dir / "leaderboard.md"
    if board.is_file():
        print(board.read_text(encoding="utf-8"))
    print(f"results: {eval_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
