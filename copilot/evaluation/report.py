"""One evaluated policy's full report: success rate, Pass@K / Best@K, code quality and error categories.

    results = build_results(trajectories, scores, label="after GRPO", model=..., policy=..., k=8)
    paths = write_report(results, out_dir)   # results.json, leaderboard.md / .csv (one row), curves.png (k > 1)

results.json = {
  "label", "model", "policy", "split", "k", "temperature": {"rollout_0": 0.0, "others": T}, "verifier",
  "success_rate" / "n" / "correct" / "overall" / "macro": rollout 0 only (greedy), as copilot.evaluation.success_rate,
  "curves": {"all": {"k": [1..K], "pass_at_k": [...], "best_at_k": [...] | null,   (unbiased estimators)
                      "first_k": {"pass_at_k": [...], "best_at_k": [...] | null}}, (the first k rollouts)
             <dataset>: {...}},
  "quality": copilot.evaluation.code_quality.aggregate of the rollout-0 trajectories (turns, tokens, radon
             figures, error categories),
  plus `extra` (timings) }
Floats are rounded to 6 digits so that files regenerate byte for byte.

Simplified: curves need the same number of rollouts for every task (the evaluate stage guarantees it);
code-quality figures describe the greedy rollout only, like the success rate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from copilot.evaluation import code_quality, pass_at_k
from copilot.evaluation.success_rate import success_rates

RESULTS = "results.json"
CURVES_PNG = "curves.png"


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def curve_lists(groups: dict[str, list], ks: list[int]) -> dict[str, Any]:
    """pass_at_k.curves (estimators over all n rollouts) and, under "first_k", pass_at_k.first_k_curves (the
    first k rollouts: K = 1 is the greedy one), as aligned lists (JSON has no int keys)."""
    def lists(result: dict[str, Any]) -> dict[str, Any]:
        best = result["best_at_k"]
        return {"pass_at_k": [result["pass_at_k"][k] for k in ks],
                "best_at_k": None if best is None else [best[k] for k in ks]}

    estimated = pass_at_k.curves(groups, ks)
    return {"k": list(ks), **lists(estimated), "first_k": lists(pass_at_k.first_k_curves(groups, ks)),
            "tasks": estimated["tasks"]}


def model_label(model: str) -> str:
    """runs/demo/grpo/model -> demo/grpo; /models/Qwen2.5-7B-Instruct -> Qwen2.5-7B-Instruct."""
    parts = [p for p in Path(model).parts if p not in ("/", ".", "runs", "model")]
    return "/".join(parts[-2:]) if Path(model).name == "model" and len(parts) >= 2 else Path(model).name


def build_results(trajectories: list, scores: dict | None, *, k: int, label: str, model: str, policy: str,
                  temperature: float = 0.6, split: str = "test", verifier: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    """The report of K rollouts per task (rollout 0 greedy); `scores` = verifier P(YES) per key, or None."""
    if k < 1:
        raise ValueError(f"k = {k}: expected >= 1")
    greedy = [t for t in trajectories if int(t.rollout_index) == 0]
    sr = success_rates(greedy)
    per_dataset: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for t in trajectories:
        if int(t.rollout_index) >= k:
            continue
        score = None if scores is None else scores[(t.task_id, t.policy, int(t.rollout_index))]
        per_dataset[t.dataset][t.task_id].append((int(t.rollout_index), score, t.reward.get("correct") is True))
    ks = list(range(1, k + 1))
    everything = {task: rollouts for groups in per_dataset.values() for task, rollouts in groups.items()}
    curves = {"all": curve_lists(everything, ks)}
    for dataset in sorted(per_dataset):
        curves[dataset] = curve_lists(dict(per_dataset[dataset]), ks)
    results = {"label": label, "model": model, "policy": policy, "split": split, "k": k,
               "temperature": {"rollout_0": 0.0, "others": temperature if k > 1 else None},
               "verifier": verifier, **sr, "curves": curves, "quality": code_quality.aggregate(greedy), **extra}
    return _round(results)


def write_report(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """results.json, a one-row leaderboard (md + csv) and, with K > 1, the Pass@K / Best@K plot."""
    from copilot.evaluation.curves_plot import plot_curves
    from copilot.evaluation.leaderboard import write_leaderboard

    out_dir = Path(out_dir)
    paths = {"results": out_dir / RESULTS}
    paths["results"].write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths["leaderboard_md"], paths["leaderboard_csv"] = write_leaderboard([results], out_dir)
    if results["k"] > 1:
        curve = results["curves"]["all"]
        paths["curves_png"] = plot_curves(
            {f"{results['label']} (estimator)": curves_for_plot(curve),
             f"{results['label']} (first K rollouts)": curves_for_plot({"k": curve["k"], **curve["first_k"]})},
            out_dir / CURVES_PNG)
    return paths


def curves_for_plot(curve: dict[str, Any]) -> dict[str, Any]:
    """A stored curve (aligned lists) back in pass_at_k.curves' shape (int-keyed dicts)."""
    ks = curve["k"]
    best = curve.get("best_at_k")
    return {"k": ks, "pass_at_k": dict(zip(ks, curve["pass_at_k"])),
            "best_at_k": None if best is None else dict(zip(ks, best))}
