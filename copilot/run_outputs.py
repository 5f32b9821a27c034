"""What a finished (or interrupted) run dir says about itself: its summary.json and the models its stages handed over.

    summary = run_summary("runs/demo")
    stage, model_dir = stage_model("runs/demo", summary)            # the last stage that handed a model over
    stage, model_dir = stage_model("runs/demo", summary, "sft")     # that stage's

Used by `python -m copilot.evaluate run_dir=...` and `python -m copilot.export`. The pipeline records output
paths as it saw them, usually relative to where it was launched ("runs/<name>/<stage>/model"); such a path is
re-rooted at the given run dir when it exists there, so a run can be read from another directory or after
being moved, and never silently swapped for another run's same-named path under the current directory. Not protected against: a run root of more than one path component that was moved (the
re-rooting assumes "<root>/<name>/...").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RunDirError(ValueError):
    """The run dir, or the stage asked for, does not hold what was expected (the message says what)."""


def run_summary(run_dir: Path | str) -> dict[str, Any]:
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise RunDirError(f"{run_dir}: no summary.json; expected a run dir written by python -m copilot.train "
                          f"(runs/<name>)")
    return json.loads(path.read_text(encoding="utf-8"))


def resolve_output(path: str, run_dir: Path | str) -> Path:
    """A recorded output path: absolute as is; a relative one under the given run dir when it is there (the run
    dir asked for wins over a same-named path that happens to exist under the current directory)."""
    candidate = Path(path)
    if candidate.is_absolute() or len(candidate.parts) <= 2:
        return candidate
    rerooted = Path(run_dir, *candidate.parts[2:])
    return rerooted if rerooted.exists() else candidate


def stage_model(run_dir: Path | str, summary: dict[str, Any], stage: str | None = None) -> tuple[str, Path]:
    """(stage name, model dir) of `stage`, or of the last stage that handed a model over."""
    stages = summary.get("stages", [])
    names = [s.get("stage") for s in stages]
    if stage is not None and stage not in names:
        raise RunDirError(f"stage {stage!r}: the run {run_dir} has stages {names}")
    for entry in reversed(stages):
        if stage is not None and entry.get("stage") != stage:
            continue
        model = (entry.get("outputs") or {}).get("model")
        if model:
            return str(entry["stage"]), resolve_output(model, run_dir)
        if stage is not None:
            raise RunDirError(f"stage {stage!r} handed over no model (its outputs: "
                              f"{sorted(entry.get('outputs') or {})}); pick a training stage")
    raise RunDirError(f"{run_dir}: no stage of that run handed over a model (stages {names})")
