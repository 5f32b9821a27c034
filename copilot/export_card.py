"""The model card (README.md) of an exported run: front matter, evaluation table, training recipe, usage.

    text = model_card(run_dir, summary, stage="grpo", source="runs/demo/grpo/model", repo_id="me/demo")

Sources, all inside the run dir: summary.json (stages, outputs), each evaluate stage's eval.json (greedy SR
per dataset) and results.json (Pass@K / Best@K when K > 1), each stage's config.yaml (the resolved config:
recipe, base model, stage settings) and command.txt (the command that ran it).

Simplified: the card lists every evaluation of the run, including those made before the exported stage
(they are labelled with their stage); no license is asserted (the base model's license applies: say so on
the Hub page).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Stage settings worth a line in the card (the rest is in the stage's config.yaml).
KEY_SETTINGS = ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps", "num_train_epochs",
                "max_steps", "max_length", "beta", "iterations", "k", "temperature", "backend", "algorithm",
                "num_generations", "policy", "max_tokens")


def _stage_config(run_dir: Path, stage: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    path = Path(run_dir) / stage / "config.yaml"
    return OmegaConf.to_container(OmegaConf.load(path), resolve=False) if path.is_file() else {}


def evaluation_section(run_dir: Path, summary: dict[str, Any]) -> str:
    from copilot.evaluation.success_rate import markdown_table

    results, curves = {}, []
    for entry in summary.get("stages", []):
        if entry.get("kind") != "evaluate":
            continue
        stage_dir = Path(run_dir) / entry["stage"]
        if (stage_dir / "eval.json").is_file():
            result = json.loads((stage_dir / "eval.json").read_text(encoding="utf-8"))
            results[f"{entry['stage']} ({result.get('label') or 'model'})"] = result
        if (stage_dir / "results.json").is_file():
            full = json.loads((stage_dir / "results.json").read_text(encoding="utf-8"))
            curve = (full.get("curves") or {}).get("all") or {}
            if full.get("k", 1) > 1 and curve:
                best = curve.get("best_at_k")
                curves.append(f"| {entry['stage']} | {full['k']} | " + " | ".join(
                    f"{100 * p:.1f}" + (f" / {100 * b:.1f}" if best else "")
                    for p, b in zip(curve["pass_at_k"], best or [None] * len(curve["pass_at_k"]))) + " |")
    if not results:
        return "No evaluate stage ran in this run.\n"
    text = "Held-out success rate (%) per dataset, greedy (temperature 0), one rollout per task:\n\n"
    text += markdown_table(results)
    if curves:
        width = max(len(line.split("|")) - 4 for line in curves)
        text += ("\nPass@K / Best@K (%) for K = 1, 2, ... (rollout 0 greedy, the others at T 0.6; unbiased "
                 "estimators):\n\n| stage | K | " + " | ".join(f"K={k}" for k in range(1, width + 1)) + " |\n"
                 "|---|---:|" + "---:|" * width + "\n" + "\n".join(curves) + "\n")
    return text


def recipe_section(run_dir: Path, summary: dict[str, Any], stage: str) -> str:
    lines = ["| stage | kind | settings |", "|---|---|---|"]
    for entry in summary.get("stages", []):
        node = _stage_config(run_dir, entry["stage"]).get("stage") or {}
        settings = ", ".join(f"{k}={node[k]}" for k in KEY_SETTINGS if node.get(k) is not None)
        marker = " (exported)" if entry["stage"] == stage else ""
        lines.append(f"| {entry['stage']}{marker} | {entry.get('kind', '')} | {settings} |")
    command_path = Path(run_dir) / summary["stages"][0]["stage"] / "command.txt" if summary.get("stages") else None
    command = command_path.read_text(encoding="utf-8").strip() if command_path and command_path.is_file() else ""
    return "\n".join(lines) + "\n" + (f"\nTrained with:\n\n```bash\n{command}\n```\n" if command else "")


def model_card(run_dir: Path, summary: dict[str, Any], stage: str, source: str, repo_id: str | None) -> str:
    config = _stage_config(run_dir, summary["stages"][0]["stage"]) if summary.get("stages") else {}
    base = str((config.get("model") or {}).get("name_or_path") or "unknown")
    recipe = str(summary.get("recipe") or (config.get("recipe") or {}).get("name") or "unknown")
    name = repo_id or Path(str(summary.get("run_dir") or run_dir)).name
    front = ["---", "library_name: transformers", "pipeline_tag: text-generation",
             "tags: [med-copilot, medagentgym, agent, code, biomedical]"]
    if "/" in base and not base.startswith(("/", ".", "~", "$")) and base.count("/") == 1:
        front.append(f"base_model: {base}")
    front.append("---")
    return "\n".join(front) + f"""

# {name}

A biomedical data-science coding agent trained with the Med-Copilot trainer (recipe `{recipe}`), exported from
stage `{stage}` of run `{Path(run_dir).name}` (weights from `{source}`). Base model: `{base}`.

## Evaluation

{evaluation_section(run_dir, summary)}
## Training recipe

{recipe_section(run_dir, summary, stage)}
## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained("{name}")
model = AutoModelForCausalLM.from_pretrained("{name}")
# The agent writes code: serve it (e.g. vLLM) and run it in the Med-Copilot sandbox:
#   python -m copilot.evaluate model.name_or_path=<this dir> k=8
```

The model was trained to act in the Med-Copilot episode format (its chat template and action format are
saved with it); outside a sandbox its code is untested output, not a result.
"""
