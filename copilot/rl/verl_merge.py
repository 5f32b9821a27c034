"""Hand-off after verl training: merge an FSDP actor checkpoint into a Hugging Face model dir (verl's merger).

    from copilot.rl.verl_merge import merge_checkpoint
    hf_dir = merge_checkpoint("runs/x/rl/checkpoints", "runs/x/rl/model")   # latest global_step_N/actor

runs `python -m verl.model_merger merge --backend fsdp --local_dir <actor dir> --target_dir <target>` in a
subprocess (verl's CLI, unchanged). `checkpoint_dir` may be the actor dir itself
(.../global_step_N/actor), one global_step_N dir, or verl's trainer.default_local_dir (then the step named
in latest_checkpointed_iteration.txt, else the highest global_step_N). A dir that holds no FSDP shard is a
clear error naming what was looked for and what was found.

Not covered: megatron checkpoints (backend="megatron" is passed through, but the shard check is FSDP's);
merging needs enough CPU memory for the full model (verl loads every shard); upload to the Hub is not done
here (copilot.export does it). `fold_lora_adapter` folds the PEFT adapter verl's merger writes for a LoRA
run into the base weights.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

STEP_RE = re.compile(r"^global_step_(\d+)$")
LATEST_FILE = "latest_checkpointed_iteration.txt"


class CheckpointError(FileNotFoundError):
    """No mergeable verl checkpoint where one was expected."""


def _is_actor_dir(path: Path) -> bool:
    return (path / "fsdp_config.json").is_file() and any(path.glob("model_world_size_*_rank_0.pt"))


def find_actor_dir(checkpoint_dir: str | Path) -> Path:
    """The FSDP actor checkpoint dir inside `checkpoint_dir` (see the module docstring)."""
    root = Path(checkpoint_dir)
    if not root.is_dir():
        raise CheckpointError(f"verl checkpoint dir {root} does not exist (expected trainer.default_local_dir, a "
                              f"global_step_N dir or its actor/ dir)")
    if _is_actor_dir(root):
        return root
    if _is_actor_dir(root / "actor"):
        return root / "actor"
    steps = {int(m.group(1)): p for p in root.iterdir() if p.is_dir() and (m := STEP_RE.match(p.name))}
    if steps:
        latest = root / LATEST_FILE
        step = int(latest.read_text().strip()) if latest.is_file() else max(steps)
        if step not in steps:
            raise CheckpointError(f"{latest} names step {step}, but {root} has only global_step_"
                                  f"{sorted(steps)}")
        if _is_actor_dir(steps[step] / "actor"):
            return steps[step] / "actor"
        raise CheckpointError(f"{steps[step] / 'actor'} holds no FSDP shards (fsdp_config.json and "
                              f"model_world_size_*_rank_0.pt)")
    found = sorted(p.name for p in root.iterdir())[:20]
    raise CheckpointError(f"{root} holds no verl FSDP checkpoint: looked for fsdp_config.json + "
                          f"model_world_size_*_rank_0.pt, actor/, or global_step_N/; found {found}")


def merge_command(local_dir: str | Path, target_dir: str | Path, *, backend: str = "fsdp",
                  python: str = sys.executable, trust_remote_code: bool = False) -> list[str]:
    if backend not in ("fsdp", "megatron"):
        raise ValueError(f"merge backend: {backend!r}; expected 'fsdp' or 'megatron'")
    command = [python, "-m", "verl.model_merger", "merge", "--backend", backend, "--local_dir", str(local_dir),
               "--target_dir", str(target_dir)]
    if trust_remote_code:
        command.append("--trust-remote-code")
    return command


def merge_checkpoint(checkpoint_dir: str | Path, target_dir: str | Path, *, backend: str = "fsdp",
                     trust_remote_code: bool = False, timeout_s: float | None = None) -> Path:
    """Merge the checkpoint into `target_dir` (a HF model dir) and return it; raises with verl's error text."""
    local_dir = find_actor_dir(checkpoint_dir) if backend == "fsdp" else Path(checkpoint_dir)
    if not local_dir.is_dir():
        raise CheckpointError(f"verl checkpoint dir {local_dir} does not exist")
    target = Path(target_dir)
    command = merge_command(local_dir, target, backend=backend, trust_remote_code=trust_remote_code)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"verl model merger failed (exit {done.returncode}) on {local_dir}:\n"
                           f"{' '.join(command)}\n{done.stderr[-3000:]}")
    if not (target / "config.json").is_file():
        raise RuntimeError(f"verl model merger exited 0 but {target} has no config.json:\n{done.stdout[-2000:]}")
    return target


def fold_lora_adapter(model_dir: Path) -> bool:
    """verl's merger writes a LoRA run as the base weights plus model_dir/lora_adapter/ (a PEFT adapter): merge
    the adapter into the weights (PEFT), so the hand-off is a plain full model like every stage's."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    adapter = model_dir / "lora_adapter"
    if not (adapter / "adapter_config.json").is_file():
        return False
    folded = model_dir.with_name(model_dir.name + ".folded")
    if folded.exists():
        shutil.rmtree(folded)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, local_files_only=True)
    PeftModel.from_pretrained(base, adapter).merge_and_unload().save_pretrained(folded)
    AutoTokenizer.from_pretrained(model_dir, local_files_only=True).save_pretrained(folded)
    shutil.rmtree(model_dir)
    os.replace(folded, model_dir)
    return True
