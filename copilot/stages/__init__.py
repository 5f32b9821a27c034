"""Stage registry: stage kind -> module (imported only when a recipe uses the kind).

Every stage module exposes (DESIGN §4, issue-5 contract):
    Config                                   a dataclass of its keys besides kind/name, paper defaults
    run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]
Only copilot.pipeline (and the config validator it calls) imports stages.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from types import ModuleType

STAGES: dict[str, str] = {
    "packs": "copilot.stages.packs",
    "sample": "copilot.stages.sample",
    "sft": "copilot.stages.sft",
    "dpo": "copilot.stages.dpo",
    "idpo": "copilot.stages.idpo",
    "rl": "copilot.stages.rl",
    "evaluate": "copilot.stages.evaluate",
    "verifier": "copilot.stages.verifier",
}


class StageNotAvailableError(LookupError):
    """The stage kind is unknown, or its module does not exist (yet) or lacks Config / run."""


def load_stage(kind: str) -> ModuleType:
    if kind not in STAGES:
        raise StageNotAvailableError(f"stage kind {kind!r} is unknown; valid kinds are {sorted(STAGES)}")
    module_name = STAGES[kind]
    if importlib.util.find_spec(module_name) is None:
        raise StageNotAvailableError(
            f"stage kind {kind!r} is registered but its module {module_name} does not exist in this checkout "
            f"(not implemented yet); remove that stage from the recipe or use one of {available_kinds()}")
    module = importlib.import_module(module_name)
    config = getattr(module, "Config", None)
    if not (isinstance(config, type) and dataclasses.is_dataclass(config)) or not callable(getattr(module, "run", None)):
        raise StageNotAvailableError(f"stage module {module_name} must define a dataclass `Config` and "
                                     f"`run(cfg, inputs, out_dir)`")
    return module


def available_kinds() -> list[str]:
    """Kinds whose module file exists (checked without importing them)."""
    return [kind for kind, module in STAGES.items() if importlib.util.find_spec(module) is not None]


__all__ = ["STAGES", "StageNotAvailableError", "available_kinds", "load_stage"]
