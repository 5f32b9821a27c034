"""Checks a composed run config against the schemas, before any stage starts; errors name the key path.

    plain = validate_run_config(cfg)      # cfg: the DictConfig Hydra composed; returns a plain dict with
                                          # every stage node completed with its Config defaults

What is checked, in order (the first problem is raised as ConfigError):
- every node against its dataclass (copilot.config.schema): an unknown key names its path
  (`recipe.stages[2].learnig_rate`), suggests the closest valid key and lists them all; a wrong type or
  choice names the key, the value and what was expected; a missing required value names the key;
- every stage: `kind` among the registered kinds (a kind whose module is not written yet is a clear
  error), a unique `name` usable as a directory name, the other keys against the module's `Config`;
- `episode` against EpisodeSettings (fields, then its own validate());
- paths: a local model dir that does not exist (Hub names like Org/Model are NOT checked: nothing is
  downloaded, the stage that loads it says what to get) -> error naming it and model.prepare_command;
  a dataset dir that is missing or has no task files -> error naming it, unless a `packs` stage of this
  recipe builds it (a dir <offline_root>/<pack>); a data.audit file that does not exist;
- force_stage names a stage of the recipe.

Simplified: type checks cover the types the schemas use (str/int/float/bool, Optional, Union, Literal,
List, Dict, nested dataclasses, Any); ints are accepted (unchanged) for float fields. Not checked: that a Hub model
exists, that option maps (sandbox.options) suit their backend (the backend checks them when opened).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from copilot.config import schema

# stage kinds that load cfg.model.name_or_path when no earlier stage handed a model over
MODEL_STAGE_KINDS = {"sft", "dpo", "idpo", "evaluate", "rl", "verifier", "export"}
TASK_FILE_GLOB = "*.jsonl"


class ConfigError(ValueError):
    """A run config value is wrong; the message names the key path and what was expected."""


# --------------------------------------------------------------------------------------- generic checks
def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if hint is Any:
        return "anything"
    if origin is Literal:
        return f"one of {list(typing.get_args(hint))}"
    if origin is Union:
        return " or ".join("null" if a is type(None) else _describe(a) for a in typing.get_args(hint))
    if origin in (list, typing.List):
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if origin in (dict, typing.Dict):
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        return f"a mapping with keys {[f.name for f in dataclasses.fields(hint)]}"
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false"}.get(hint, str(hint))


def check_value(value: Any, hint: Any, path: str) -> Any:
    """`value` checked against the type hint; returns it (dataclass mappings completed with defaults)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{path}: {value!r} is not a valid choice; expected one of {list(typing.get_args(hint))}")
        return value
    if origin is Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{path}: null is not allowed; expected {_describe(hint)}")
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return check_value(value, option, path)
            except ConfigError as err:
                errors.append(err)
        # one non-null option: its own message is the most precise
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"{path}: {value!r} is not {_describe(hint)}")
    if value is None:
        raise ConfigError(f"{path}: null is not allowed; expected {_describe(hint)}")
    if origin in (list, typing.List):
        if not isinstance(value, list):
            raise ConfigError(f"{path}: {value!r} is not a list; expected {_describe(hint)}")
        (item,) = typing.get_args(hint) or (Any,)
        return [check_value(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {value!r} is not a mapping")
        return value
    if dataclasses.is_dataclass(hint):
        return check_mapping(value, hint, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: {value!r} is not true/false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: {value!r} is not an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: {value!r} is not a number")
        return value   # an int stays an int: some fields read int vs float differently (warmup_steps)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {value!r} is not a string")
        return value
    if isinstance(hint, type):
        if not isinstance(value, hint):
            raise ConfigError(f"{path}: {value!r} is not {_describe(hint)}")
        return value
    return value  # a hint this checker does not know: left to the code that uses it


def check_mapping(values: Any, cls: type, path: str) -> dict:
    """A mapping checked against dataclass `cls`: unknown keys, missing required keys, field types."""
    where = path or "the config root"
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {values!r} is not a mapping; expected {_describe(cls)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{_join(path, key)}: unknown key{hint}; valid keys under {where} are {sorted(fields)}")
    checked = {}
    for name, f in fields.items():
        if name in values and values[name] != schema.MISSING_VALUE:
            checked[name] = check_value(values[name], hints[name], _join(path, name))
        elif f.default is not dataclasses.MISSING:
            checked[name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
            checked[name] = dataclasses.asdict(default) if dataclasses.is_dataclass(default) else default
        else:
            raise ConfigError(f"{_join(path, name)}: missing a value; expected {_describe(hints[name])}")
    return checked


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --------------------------------------------------------------------------------------- run config
def validate_run_config(cfg: Any, check_paths: bool = True) -> dict:
    """The composed config (DictConfig or dict) checked and completed; raises ConfigError naming the key."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

    if isinstance(cfg, DictConfig):
        try:
            values = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        except MissingMandatoryValue as err:
            raise ConfigError(f"{err.full_key}: missing a value (???); set it on the command line, "
                              f"e.g. {err.full_key}=...") from err
        except InterpolationResolutionError as err:
            raise ConfigError(f"{getattr(err, 'full_key', '?')}: cannot resolve an interpolation: {err.msg}") from err
    else:
        values = dict(cfg)
    values.pop("hydra", None)
    checked = check_mapping(values, schema.RunConfig, "")
    checked["episode"] = _check_episode(checked["episode"])
    checked["recipe"]["stages"] = _check_stages(checked["recipe"]["stages"])
    _check_run_name(checked["run"]["name"])
    force = checked["force_stage"]
    names = [s["name"] for s in checked["recipe"]["stages"]]
    if force is not None and force not in names:
        raise ConfigError(f"force_stage: {force!r} is not a stage of recipe {checked['recipe']['name']!r}; "
                          f"its stages are {names}")
    if check_paths:
        _check_model_path(checked)
        _check_datasets(checked)
    return checked


def _check_run_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"run.name: {name!r} must be a non-empty directory name without '/'")


def _check_episode(values: dict) -> dict:
    from copilot.agent.episode import EpisodeSettings

    checked = check_mapping(values, EpisodeSettings, "episode")
    try:
        EpisodeSettings(**checked).validate()
    except ValueError as err:
        raise ConfigError(f"episode: {err}") from err
    return checked


def _check_stages(stages: list) -> list:
    from copilot.stages import STAGES, StageNotAvailableError, load_stage

    if not stages:
        raise ConfigError("recipe.stages: the recipe has no stages")
    seen: dict[str, int] = {}
    checked = []
    for index, node in enumerate(stages):
        path = f"recipe.stages[{index}]"
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: {node!r} is not a mapping {{kind: ..., name: ..., ...}}")
        kind = node.get("kind")
        if kind not in STAGES:
            raise ConfigError(f"{path}.kind: {kind!r} is not a stage kind; valid kinds are {sorted(STAGES)}")
        try:
            module = load_stage(kind)
        except StageNotAvailableError as err:
            raise ConfigError(f"{path}.kind: {err}") from err
        name = node.get("name", kind)
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ConfigError(f"{path}.name: {name!r} must be a directory name (no '/', not starting with '.')")
        if name in seen:
            raise ConfigError(f"{path}.name: {name!r} is already the name of recipe.stages[{seen[name]}]; "
                              f"stage names must be unique (they are directory names)")
        seen[name] = index
        keys = {k: v for k, v in node.items() if k not in ("kind", "name")}
        filled = check_mapping(keys, module.Config, path)
        checked.append({"kind": kind, "name": name, **filled})
    return checked


def _looks_local(name: str) -> bool:
    """A Hub name is exactly Org/Model; anything else (absolute, ./, ~, a bare name, a/b/c) is a local path."""
    return name.startswith(("/", ".", "~")) or name.count("/") != 1 or Path(name).exists()


def _stage_uses_model(stage: dict) -> bool:
    """Whether the stage loads model.name_or_path (an evaluate stage of the expert or an endpoint does not, nor
    a verifier stage with its own base_model)."""
    if stage["kind"] == "evaluate":
        return stage.get("policy", "hf") == "hf"
    if stage["kind"] == "sample":
        return stage.get("policy") == "model"
    if stage["kind"] == "verifier":
        return not stage.get("base_model")
    return stage["kind"] in MODEL_STAGE_KINDS


def _check_model_path(checked: dict) -> None:
    uses_model = any(_stage_uses_model(s) for s in checked["recipe"]["stages"])
    name = checked["model"]["name_or_path"]
    if not uses_model or not _looks_local(name):
        return
    path = Path(os.path.expanduser(name))
    prepare = checked["model"].get("prepare_command")
    how = (f"create it with `{prepare}`" if prepare else
           "download the model on a machine with network access and set model.name_or_path to its directory")
    if not path.is_dir():
        raise ConfigError(f"model.name_or_path: local model directory {path} does not exist; {how}")
    if not (path / "config.json").is_file():
        raise ConfigError(f"model.name_or_path: {path} has no config.json (not a saved transformers model); {how}")


def _check_datasets(checked: dict) -> None:
    data = checked["data"]
    if data["audit"] is not None and not Path(os.path.expanduser(data["audit"])).is_file():
        raise ConfigError(f"data.audit: {data['audit']} does not exist; write it with `python -m "
                          f"copilot.tasks.audit <data dir> --out {data['audit']}`, or set data.audit=null")
    offline_root = Path(os.path.expanduser(data["offline_root"]))
    built: set[Path] = set()
    for stage in checked["recipe"]["stages"]:
        if stage["kind"] == "packs":
            built.update((offline_root / pack).resolve() for pack in stage.get("packs", []))
    needs = {"train": {"sample", "idpo", "rl"}, "test": {"evaluate"}}
    kinds = {s["kind"] for s in checked["recipe"]["stages"]}
    for split in ("train", "test"):
        if kinds & needs[split] and not data[split]:
            raise ConfigError(f"data.{split}: empty, but stage kind(s) {sorted(kinds & needs[split])} need "
                              f"{split} dataset dirs")
        for index, item in enumerate(data[split]):
            path = Path(os.path.expanduser(item))
            if path.resolve() in built:
                continue
            where = f"data.{split}[{index}]"
            if not path.is_dir():
                raise ConfigError(f"{where}: dataset dir {path} does not exist; build the offline packs "
                                  f"(`python -m copilot.tasks.packs build --out {offline_root}`, or a packs stage "
                                  f"in the recipe) and use data=offline_packs, or put the MedAgentGym release "
                                  f"there (MEDAGENTGYM_DIR=<release dir>, holding <dataset>/train_tasks.jsonl)")
            if not any(path.glob(TASK_FILE_GLOB)):
                raise ConfigError(f"{where}: dataset dir {path} is empty (no {TASK_FILE_GLOB} task files); "
                                  f"expected train_tasks.jsonl / test_tasks.jsonl as in the release layout")
