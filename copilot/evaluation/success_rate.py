"""Success rate per dataset from scored trajectories, written as eval.json and an eval.md markdown table.

    result = success_rates(trajectories, model="runs/demo/sft/model", policy="hf:model")
    json_path, md_path = write_eval(result, out_dir)               # eval.json + eval.md
    print(markdown_table({"before": load_eval(a), "after": load_eval(b)}))   # one row per evaluated model

eval.json = {"success_rate": {dataset: SR}, "n": {dataset: episodes}, "correct": {dataset: successes},
"overall": SR over all episodes (micro), "macro": mean of the per-dataset SRs, "model": ..., "policy": ...,
plus whatever `extra` the caller adds (timings, label)}. SR = correct / episodes, where "correct" is the
reward's verdict (`trajectory.reward["correct"]`, MedAgentGym's success rate). Datasets are sorted by name.

Simplified: one rollout per task (greedy), so no Pass@K / Best@K here (they come with the evaluation issue);
no confidence intervals. Not protected against: two trajectories of the same task counted twice (the caller
owns de-duplication; the evaluate stage keys rollouts by (task, policy, rollout) and never repeats one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

EVAL_JSON = "eval.json"
EVAL_MD = "eval.md"


class UnscoredTrajectoryError(ValueError):
    """A trajectory has no reward, so it cannot count towards a success rate."""


def success_rates(trajectories: Iterable, **extra: Any) -> dict[str, Any]:
    """Per-dataset and overall success rates of scored trajectories (unscored ones are an error)."""
    episodes: dict[str, int] = defaultdict(int)
    correct: dict[str, int] = defaultdict(int)
    for trajectory in trajectories:
        if not trajectory.reward or "correct" not in trajectory.reward:
            raise UnscoredTrajectoryError(
                f"trajectory (task {trajectory.task_id!r}, policy {trajectory.policy!r}, rollout "
                f"{trajectory.rollout_index}) is not scored; score it with reward.score before computing SR")
        episodes[trajectory.dataset] += 1
        correct[trajectory.dataset] += int(trajectory.reward["correct"] is True)
    if not episodes:
        raise ValueError("success_rates: no trajectories to evaluate")
    names = sorted(episodes)
    rates = {name: correct[name] / episodes[name] for name in names}
    total = sum(episodes.values())
    return {
        "success_rate": rates,
        "n": {name: episodes[name] for name in names},
        "correct": {name: correct[name] for name in names},
        "overall": sum(correct.values()) / total,
        "macro": sum(rates.values()) / len(rates),
        **extra,
    }


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per labelled result, one column per dataset (SR in %, with episode counts), plus overall."""
    names = sorted({name for result in results.values() for name in result["success_rate"]})
    header = "| model | " + " | ".join(names) + " | overall | macro |"
    rule = "|---|" + "---:|" * (len(names) + 2)
    lines = [header, rule]
    for label, result in results.items():
        cells = []
        for name in names:
            if name in result["success_rate"]:
                n = result["n"][name]
                cells.append(f"{100 * result['success_rate'][name]:.1f} ({result['correct'][name]}/{n})")
            else:
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells)
                     + f" | {100 * result['overall']:.1f} | {100 * result['macro']:.1f} |")
    return "\n".join(lines) + "\n"


def write_eval(result: dict[str, Any], out_dir: Path, label: str | None = None) -> tuple[Path, Path]:
    """eval.json and eval.md (a one-row table) in out_dir; returns their paths."""
    out_dir = Path(out_dir)
    json_path, md_path = out_dir / EVAL_JSON, out_dir / EVAL_MD
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    row = label or str(result.get("label") or result.get("model") or "model")
    md_path.write_text(f"Success rate (%) per dataset, greedy, one rollout per task\n\n"
                       f"{markdown_table({row: result})}", encoding="utf-8")
    return json_path, md_path


def load_eval(path: Path | str) -> dict[str, Any]:
    """An eval.json (or the directory holding one), checked for the keys the table needs."""
    path = Path(path)
    if path.is_dir():
        path = path / EVAL_JSON
    if not path.is_file():
        raise FileNotFoundError(f"evaluation result {path} does not exist; run an evaluate stage first")
    result = json.loads(path.read_text(encoding="utf-8"))
    missing = [key for key in ("success_rate", "n", "correct", "overall", "macro") if key not in result]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; expected an eval.json written by write_eval")
    return result
