"""Runs a recipe's stages in order under runs/<run.name>/<stage.name>/, resumably.

    summary = run(validated_config, command)      # validated_config: copilot.config.validate_run_config(...)

Per stage directory: config.yaml (the resolved run config with `stage` = this stage's node, defaults
filled in), command.txt (one `cd DIR && COMMAND` line per launch), stage.log (this stage's log records),
metrics.jsonl (written by the stage through copilot.run_metrics), outputs.json ({name: path}) and DONE
(written last, atomically: a stage without DONE is unfinished, whatever else its dir holds).
Inputs of a stage = the outputs of every earlier stage merged in order (a later stage's key wins).

Resume rules (a re-run of the same command):
- a DONE stage is skipped and its outputs.json loaded (every listed path must still exist);
- the first stage without DONE runs again in its existing dir (training stages resume from their last
  checkpoint, sample stages from their store); every later stage dir is then set aside (moved to
  runs/<run>/.replaced/), because it was built on outputs that are about to change;
- a stage whose recorded config differs from the new one (ignoring logger, cluster, run.root,
  recipe.description, the stages after it and these resume switches) is an error listing the changed keys.
  Two ways on: `+force_stage=NAME` redoes NAME and every stage after it (their dirs are moved to
  runs/<run>/.replaced/<stage>-<time>/, never deleted); `+allow_config_change=true` keeps the finished
  stages and carries on with the new config. Both are one-off switches: leave them out of the next re-run.
A stage that raises leaves no DONE; the error names the stage and its stage.log, and the re-run resumes there.
At the end: a table of the stages (ran / skipped, seconds, outputs), runs/<run>/summary.json, and when the
recipe has evaluate stages a per-dataset success-rate table, first evaluate stage ("before") vs last ("after").

Multi-GPU: the pipeline itself is one process. With cluster.launcher=accelerate, each training stage
(kinds in DISTRIBUTED_KINDS) runs as a child `accelerate launch [--config_file cluster.accelerate_config]
--num_processes N -m copilot.pipeline run-stage <stage dir>`, which reads the stage's config.yaml and
inputs.json; rank 0 writes outputs.json. Sampling / evaluation stages stay in the pipeline's process.

Not protected against: two pipelines running the same run dir at once; a child launch that leaves
processes behind after a failure (accelerate's own cleanup is relied on).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

log = logging.getLogger("copilot.pipeline")

DONE = "DONE"
CONFIG_FILE = "config.yaml"
COMMAND_FILE = "command.txt"
OUTPUTS_FILE = "outputs.json"
LOG_FILE = "stage.log"
INPUTS_FILE = "inputs.json"
SUMMARY_FILE = "summary.json"
REPLACED_DIR = ".replaced"
# keys whose change does not change what a finished stage produced
IGNORED_FOR_IDENTITY = ("logger", "cluster", "force_stage", "allow_config_change")
# stage kinds that train (run under `accelerate launch` when cluster.launcher=accelerate)
DISTRIBUTED_KINDS = {"sft", "dpo", "idpo", "rl", "verifier"}


def runs_under_accelerate(config: dict, kind: str, stage_cfg: dict) -> bool:
    """Whether this stage is started as N `accelerate launch` processes. An rl stage on the verl backend is not:
    verl starts its own Ray workers over the node's GPUs, so N copies of it would each claim all of them."""
    if config["cluster"]["launcher"] != "accelerate" or kind not in DISTRIBUTED_KINDS:
        return False
    return not (kind == "rl" and stage_cfg.get("backend", "verl") == "verl")


class PipelineError(RuntimeError):
    """A stage failed, or the run dir disagrees with the config; the message says which stage and what to do."""


# ------------------------------------------------------------------------------------------ small helpers
def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def stage_config(config: dict, index: int) -> dict:
    """The run config a stage sees: everything, plus `stage` = its node."""
    node = dict(config)
    node["stage"] = config["recipe"]["stages"][index]
    return node


def identity(stage_cfg: dict, index: int) -> dict:
    """The part of a stage's config that defines its result (see the module docstring)."""
    # `stage` is a copy of recipe.stages[index]: compared there only
    kept = {k: v for k, v in stage_cfg.items() if k not in IGNORED_FOR_IDENTITY and k != "stage"}
    kept["run"] = {k: v for k, v in kept.get("run", {}).items() if k not in ("root", "name")}
    recipe = dict(kept.get("recipe", {}))
    recipe.pop("description", None)
    recipe.pop("name", None)
    recipe["stages"] = list(recipe.get("stages", []))[: index + 1]
    kept["recipe"] = recipe
    return kept


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def changed_keys(old: dict, new: dict) -> list[str]:
    a, b = flatten(old), flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))


def set_aside(stage_dir: Path, console: Console) -> None:
    target = stage_dir.parent / REPLACED_DIR / f"{stage_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = 0
    while target.exists():
        suffix += 1
        target = target.with_name(f"{target.name}.{suffix}")
    stage_dir.rename(target)
    console.print(f"  moved {stage_dir} aside to {target}")


def load_outputs(stage_dir: Path, name: str) -> dict[str, Path]:
    path = stage_dir / OUTPUTS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise PipelineError(f"stage {name!r} is marked DONE but {path} is unreadable ({err}); redo it with "
                            f"+force_stage={name}") from err
    outputs = {key: Path(value) for key, value in raw.items()}
    missing = [f"{key}={value}" for key, value in outputs.items() if not value.exists()]
    if missing:
        raise PipelineError(f"stage {name!r} is DONE but its outputs are gone: {', '.join(missing)}; redo it with "
                            f"+force_stage={name}")
    return outputs


# ------------------------------------------------------------------------------------------ one stage
class _StageLog:
    """Copies every log record to <stage dir>/stage.log while the stage runs."""

    def __init__(self, path: Path):
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.root = logging.getLogger()

    def __enter__(self):
        self.previous_level = self.root.level
        if self.root.level > logging.INFO or self.root.level == logging.NOTSET:
            self.root.setLevel(logging.INFO)
        self.root.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        self.root.removeHandler(self.handler)
        self.root.setLevel(self.previous_level)
        self.handler.close()


def run_stage(module: Any, stage_cfg: dict, inputs: dict[str, Path], stage_dir: Path, label: str) -> dict[str, Path]:
    """Run one stage in this process; write outputs.json (rank 0). Raises PipelineError naming the stage and log."""
    from omegaconf import OmegaConf

    from copilot.run_metrics import finish_wandb

    rank = int(os.environ.get("RANK", "0"))
    log_path = stage_dir / (LOG_FILE if rank == 0 else f"stage.rank{rank}.log")
    with _StageLog(log_path):
        try:
            outputs = module.run(OmegaConf.create(stage_cfg), dict(inputs), stage_dir)
            if not isinstance(outputs, dict) or not all(isinstance(k, str) for k in outputs):
                raise TypeError(f"run() must return dict[str, Path], got {type(outputs).__name__}")
            outputs = {key: Path(value) for key, value in outputs.items()}
        except BaseException as err:
            log.exception("%s failed", label)
            finish_wandb()
            if isinstance(err, KeyboardInterrupt):
                raise
            raise PipelineError(
                f"{label} failed: {type(err).__name__}: {err}\n  its log: {log_path}\n  fix the cause and re-run "
                f"the same command: finished stages are skipped and this one resumes") from err
    finish_wandb()
    if rank == 0:
        write_atomically(stage_dir / OUTPUTS_FILE, json.dumps({k: str(v) for k, v in outputs.items()}, indent=2))
    return outputs


def launch_stage(config: dict, inputs: dict[str, Path], stage_dir: Path, label: str) -> dict[str, Path]:
    """Run a training stage as a child `accelerate launch ... -m copilot.pipeline run-stage STAGE_DIR`."""
    cluster = config["cluster"]
    write_atomically(stage_dir / INPUTS_FILE, json.dumps({k: str(v) for k, v in inputs.items()}, indent=2))
    (stage_dir / OUTPUTS_FILE).unlink(missing_ok=True)
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(cluster["num_processes"])]
    if cluster["accelerate_config"]:
        argv += ["--config_file", str(cluster["accelerate_config"])]
    argv += ["-m", "copilot.pipeline", "run-stage", str(stage_dir)]
    log.info("%s: %s", label, " ".join(argv))
    code = subprocess.call(argv)
    if code != 0 or not (stage_dir / OUTPUTS_FILE).exists():
        raise PipelineError(f"{label} failed under accelerate (exit code {code})\n  its log: {stage_dir / LOG_FILE} "
                            f"(other ranks: stage.rank<N>.log)\n  fix the cause and re-run the same command: "
                            f"finished stages are skipped and this one resumes")
    return {k: Path(v) for k, v in json.loads((stage_dir / OUTPUTS_FILE).read_text(encoding="utf-8")).items()}


def run_stage_from_dir(stage_dir: Path) -> int:
    """The child side of launch_stage (every rank): the stage's config.yaml + inputs.json -> run_stage."""
    from omegaconf import OmegaConf

    from copilot.stages import load_stage

    stage_cfg = OmegaConf.to_container(OmegaConf.load(stage_dir / CONFIG_FILE), resolve=True)
    inputs = {k: Path(v) for k, v in json.loads((stage_dir / INPUTS_FILE).read_text(encoding="utf-8")).items()}
    module = load_stage(stage_cfg["stage"]["kind"])
    try:
        run_stage(module, stage_cfg, inputs, stage_dir, f"stage {stage_cfg['stage']['name']}")
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------------------------------ the run
def run(config: dict, command: str = "", console: Console | None = None) -> dict:
    """Run (or resume) every stage of config["recipe"]; returns the summary (also in summary.json)."""
    from omegaconf import OmegaConf

    from copilot.stages import load_stage

    console = console or Console(stderr=True)
    run_dir = Path(os.path.expanduser(config["run"]["root"])) / config["run"]["name"]
    stages = config["recipe"]["stages"]
    total = len(stages)
    names = [s["name"] for s in stages]
    force_from = names.index(config["force_stage"]) if config.get("force_stage") else None
    run_dir.mkdir(parents=True, exist_ok=True)
    console.rule(f"recipe {config['recipe']['name']}: {total} stage(s) -> {run_dir}")
    inputs: dict[str, Path] = {}
    rows: list[dict] = []
    rerun_from: int | None = None    # index of the first stage that ran in this invocation
    started = time.perf_counter()
    for index, node in enumerate(stages):
        name, kind = node["name"], node["kind"]
        label = f"stage {index + 1}/{total}: {name}"
        stage_dir = run_dir / name
        stage_cfg = stage_config(config, index)
        if stage_dir.exists() and force_from is not None and index >= force_from:
            set_aside(stage_dir, console)
        elif stage_dir.exists() and rerun_from is not None:
            console.print(f"  {name} was built on the outputs of a stage that ran again: set aside")
            set_aside(stage_dir, console)
        if (stage_dir / CONFIG_FILE).exists():
            old = OmegaConf.to_container(OmegaConf.load(stage_dir / CONFIG_FILE), resolve=False)
            changed = changed_keys(identity(old, index), identity(stage_cfg, index))
            if changed and not config.get("allow_config_change"):
                state = "finished" if (stage_dir / DONE).exists() else "started"
                raise PipelineError(
                    f"{label} was {state} with another config (see {stage_dir / CONFIG_FILE}); changed: "
                    f"{', '.join(changed[:12])}{' ...' if len(changed) > 12 else ''}.\n  To redo it and every "
                    f"later stage with the new config: add +force_stage={name}. To keep what it produced and go "
                    f"on with the new config: add +allow_config_change=true. Or use another run.name.")
        if (stage_dir / DONE).exists():
            outputs = load_outputs(stage_dir, name)
            inputs.update(outputs)
            console.print(f"[dim]{label} ({kind}) -- done earlier, skipped[/dim]")
            rows.append({"stage": name, "kind": kind, "status": "skipped (done)", "seconds": None,
                         "outputs": {k: str(v) for k, v in outputs.items()}})
            continue
        if rerun_from is None:
            rerun_from = index
        console.rule(f"{label} ({kind})")
        module = load_stage(kind)
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / CONFIG_FILE).write_text(OmegaConf.to_yaml(OmegaConf.create(stage_cfg)), encoding="utf-8")
        with open(stage_dir / COMMAND_FILE, "a", encoding="utf-8") as handle:
            handle.write(f"cd {Path.cwd()} && {command}\n")
        t0 = time.perf_counter()
        if runs_under_accelerate(config, kind, stage_cfg):
            outputs = launch_stage(config, inputs, stage_dir, label)
        else:
            outputs = run_stage(module, stage_cfg, inputs, stage_dir, label)
        seconds = time.perf_counter() - t0
        write_atomically(stage_dir / DONE, json.dumps({"finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                                       "seconds": round(seconds, 3)}) + "\n")
        inputs.update(outputs)
        console.print(f"[green]{label} done[/green] in {seconds:.1f} s")
        rows.append({"stage": name, "kind": kind, "status": "ran", "seconds": round(seconds, 3),
                     "outputs": {k: str(v) for k, v in outputs.items()}})
    summary = {"run_dir": str(run_dir), "recipe": config["recipe"]["name"], "stages": rows,
               "seconds": round(time.perf_counter() - started, 3),
               "evaluations": collect_evaluations(rows)}
    write_atomically(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2))
    print_summary(summary, Console())   # the report goes to stdout, progress to stderr
    return summary


# ------------------------------------------------------------------------------------------ the report
def collect_evaluations(rows: list[dict]) -> list[dict]:
    """[{stage, success_rate: {dataset: float}, n, overall}] from every held-out evaluate stage's eval.json
    (an evaluate stage run on the train split, e.g. to sample rollouts for a verifier, is not a before/after)."""
    found = []
    for row in rows:
        if row["kind"] != "evaluate" or "eval" not in row["outputs"]:
            continue
        path = Path(row["outputs"]["eval"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise PipelineError(f"stage {row['stage']!r}: cannot read its eval output {path}: {err}") from err
        if data.get("split", "test") == "train":
            continue
        found.append({"stage": row["stage"], "success_rate": data.get("success_rate", {}), "n": data.get("n", {}),
                      "overall": data.get("overall")})
    return found


def _percent(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}"


def print_summary(summary: dict, console: Console) -> None:
    table = Table(title=f"run {summary['run_dir']} ({summary['seconds']:.1f} s)")
    for column in ("stage", "kind", "status", "seconds", "outputs"):
        table.add_column(column)
    for row in summary["stages"]:
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.1f}"
        table.add_row(row["stage"], row["kind"], row["status"], seconds, ", ".join(row["outputs"]))
    console.print(table)
    evaluations = summary["evaluations"]
    if not evaluations:
        return
    first, last = evaluations[0], evaluations[-1]
    datasets = sorted({d for e in evaluations for d in e["success_rate"]})
    sr = Table(title="held-out success rate (%) per dataset" + (f": {first['stage']} (before) vs {last['stage']} "
                                                                 f"(after)" if len(evaluations) > 1 else ""))
    sr.add_column("dataset")
    sr.add_column("n", justify="right")
    for evaluation in evaluations:
        sr.add_column(evaluation["stage"], justify="right")
    if len(evaluations) > 1:
        sr.add_column("change (points)", justify="right")
    for dataset in datasets + ["overall"]:
        values = [e["overall"] if dataset == "overall" else e["success_rate"].get(dataset) for e in evaluations]
        n = sum(last["n"].values()) if dataset == "overall" else last["n"].get(dataset)
        cells = [dataset, "-" if n is None else str(n), *map(_percent, values)]
        if len(evaluations) > 1:
            change = None if values[0] is None or values[-1] is None else 100 * (values[-1] - values[0])
            cells.append("-" if change is None else f"{change:+.1f}")
        sr.add_row(*cells)
    console.print(sr)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "run-stage":
        print("usage: python -m copilot.pipeline run-stage STAGE_DIR   (used by launch_stage under accelerate)",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(run_stage_from_dir(Path(sys.argv[2])))
