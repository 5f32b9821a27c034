"""Per-stage metrics: an append-only `metrics.jsonl` in the stage directory, mirrored to wandb when asked.

    writer = MetricsWriter(out_dir, cfg)          # cfg = the whole run config (None: JSONL only)
    writer.log({"success_rate": 0.4}, step=3)     # -> {"time": ..., "step": 3, "success_rate": 0.4}
    writer.close()

    trainer = SFTTrainer(..., callbacks=[JsonlMetricsCallback(out_dir)])   # every Trainer log line too
    run = init_wandb(cfg, out_dir, job_type="sft")                         # None when wandb is off

wandb modes (cfg.logger.wandb.mode):
- "offline" (the default): runs are written under <out_dir>/wandb/ (WANDB_DIR points there) and can be
  uploaded later with `wandb sync <out_dir>/wandb/offline-run-*`.
- "online": only when WANDB_API_KEY is set; without a key it falls back to offline with a warning (a
  training run must never stop, or hang on a login prompt, because of tracking).
- "disabled": nothing is imported; works without wandb installed.
Each stage gets its own wandb run, named "<run.name>/<stage.name>" and grouped by run.name.

Simplified / not protected against: the JSONL file is opened in append mode and written one line per call
(flushed), so a killed stage keeps every line written before the kill but may leave a torn last line; two
processes logging to the same stage dir (multi-GPU) interleave lines -- JsonlMetricsCallback therefore
writes from the main process only. Values that are not JSON-serialisable are written with str().
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
WANDB_MODES = ("offline", "online", "disabled")


def _select(cfg: Any, key: str, default: Any = None) -> Any:
    """cfg.key.path for a DictConfig or a plain dict; `default` when any part is missing."""
    node = cfg
    for part in key.split("."):
        if node is None:
            return default
        try:
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        except (KeyError, AttributeError):
            return default
    return default if node is None else node


def _plain_config(cfg: Any) -> dict:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a hard dependency; a plain dict works anyway
        pass
    return dict(cfg) if isinstance(cfg, dict) else {}


def wandb_mode(cfg: Any) -> str:
    """The effective wandb mode for this run config (see the module docstring)."""
    mode = _select(cfg, "logger.wandb.mode", "offline") if cfg is not None else "disabled"
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode: {mode!r} is unknown; expected one of {list(WANDB_MODES)}")
    if mode == "online" and not os.environ.get("WANDB_API_KEY"):
        log.warning("logger.wandb.mode=online but WANDB_API_KEY is not set: logging to wandb offline instead")
        return "offline"
    return mode


def init_wandb(cfg: Any, out_dir: Path, job_type: str):
    """Start (or return the already active) wandb run for this stage; None when wandb is disabled.

    WANDB_DIR is set to `out_dir` so that transformers' own WandbCallback (report_to=["wandb"]) logs into
    the same run and the same directory.
    """
    mode = wandb_mode(cfg)
    if mode == "disabled":
        return None
    try:
        import wandb
    except ImportError as err:
        raise RuntimeError(
            f"logger.wandb.mode={mode} needs the wandb package (pip install wandb), or run with "
            f"logger=none / logger.wandb.mode=disabled") from err
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["WANDB_DIR"] = str(out_dir.resolve())
    if wandb.run is not None:
        return wandb.run
    run_name = _select(cfg, "run.name", "run")
    stage_name = _select(cfg, "stage.name", job_type)
    return wandb.init(
        project=_select(cfg, "logger.wandb.project", "med-copilot"),
        entity=_select(cfg, "logger.wandb.entity", None),
        name=f"{run_name}/{stage_name}",
        group=str(run_name),
        job_type=job_type,
        dir=str(out_dir.resolve()),
        mode=mode,
        config=_plain_config(cfg),
    )


def finish_wandb() -> None:
    """Close the active wandb run if any (the pipeline calls this after each stage)."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is not None:
        wandb.finish()


def _json_line(record: dict) -> str:
    return json.dumps(record, default=str, allow_nan=True)


class MetricsWriter:
    """Appends {"time", "step", **metrics} lines to out_dir/metrics.jsonl; mirrors to wandb per cfg.logger."""

    def __init__(self, out_dir: Path, cfg: Any = None, job_type: Optional[str] = None):
        self.path = Path(out_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        self._wandb_run = None
        if cfg is not None:
            self._wandb_run = init_wandb(cfg, Path(out_dir), job_type or _select(cfg, "stage.kind", "stage"))

    def log(self, metrics: dict, step: Optional[int] = None) -> None:
        if self._file is None:
            raise RuntimeError(f"MetricsWriter for {self.path} is closed")
        self._file.write(_json_line({"time": time.time(), "step": step, **metrics}) + "\n")
        self._file.flush()
        if self._wandb_run is not None:
            numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float, bool))}
            self._wandb_run.log(numeric, step=step)

    def close(self) -> None:
        # the wandb run is left to the pipeline (finish_wandb), which may share it with a Trainer
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "MetricsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _make_callback_class():
    """Built on first use so that importing this module never imports transformers."""
    from transformers import TrainerCallback

    class JsonlMetricsCallback(TrainerCallback):
        """A TrainerCallback that appends every on_log record to out_dir/metrics.jsonl (main process only)."""

        def __init__(self, out_dir: Path):
            self.path = Path(out_dir) / METRICS_FILE
            self.path.parent.mkdir(parents=True, exist_ok=True)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            record = {"time": time.time(), "step": state.global_step, "epoch": state.epoch, **logs}
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(_json_line(record) + "\n")

    JsonlMetricsCallback.__qualname__ = "JsonlMetricsCallback"
    JsonlMetricsCallback.__module__ = __name__
    return JsonlMetricsCallback


_LAZY: dict[str, Any] = {}


def __getattr__(name: str):
    if name == "JsonlMetricsCallback":
        if name not in _LAZY:
            _LAZY[name] = _make_callback_class()
        return _LAZY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_metrics(out_dir: Path) -> list[dict]:
    """All records of out_dir/metrics.jsonl (a torn last line from a killed stage is an error naming it)."""
    path = Path(out_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON line ({err})") from err
    return records
