"""`python -m copilot.export RUN_DIR --out DIR`: a run's model as a plain Hugging Face model dir, with a card.

    python -m copilot.export runs/demo --out exports/demo                         # the last model the run handed over
    python -m copilot.export runs/pipeline_7b --stage sft --out exports/sft7b       # one stage's model
    python -m copilot.export runs/x --checkpoint runs/x/grpo/verl/checkpoints --out exports/x   # a verl / TRL checkpoint
    HF_TOKEN=... python -m copilot.export runs/demo --out exports/demo --push-to-hub me/med-copilot-demo --private

What it does:
1. Finds the weights: `--checkpoint` when given, else the hand-off ("model" output) of `--stage`, else of the
   run's last stage that handed one over (runs/<run>/summary.json). A verl FSDP checkpoint (a dir with
   global_step_N/actor, or the actor dir itself) is merged with verl's model merger (copilot.rl.verl_merge);
   a PEFT adapter (adapter_config.json: a LoRA checkpoint of a TRL stage, or verl's lora_adapter/) is merged
   into its base with PEFT. Stage hand-offs are already full weights (LoRA merged at hand-off).
2. Saves safetensors, the tokenizer and its chat template (`save_pretrained`), in the dtype the weights have,
   to a temporary sibling of --out and renames it into place (never a half-written export).
3. Writes README.md, a model card: front matter (library, base model, tags), the run's evaluation table (every
   evaluate stage's eval.json: SR per dataset; Pass@K / Best@K when the stage ran K > 1), the training recipe
   (stages and their key settings, from each stage's config.yaml) and the command that trained it.
4. With --push-to-hub REPO_ID: creates the repo (`--private` for a private one) and uploads the folder with
   huggingface_hub, the token from HF_TOKEN (or HUGGING_FACE_HUB_TOKEN); HF_ENDPOINT selects another Hub.

Exit codes: 0 done, 2 a bad run dir / stage / checkpoint / missing token (the message names it), 1 an upload
that failed (the export on disk is complete and kept).
Not protected against: a checkpoint from another architecture than the run's tokenizer; exporting the
model of a stage that is still training (the hand-off is renamed into place only when training ended).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from copilot.export_card import model_card
from copilot.run_outputs import RunDirError, run_summary, stage_model


class ExportError(ValueError):
    """The run dir, stage or checkpoint to export is unusable (the message names it)."""


def is_verl_checkpoint(path: Path) -> bool:
    return any(path.glob("global_step_*")) or (path / "fsdp_config.json").is_file() or \
        (path / "actor" / "fsdp_config.json").is_file()


def materialise(source: Path, staging: Path) -> None:
    """Full weights + tokenizer of `source` (a model dir, a PEFT adapter or a verl checkpoint) at `staging`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if is_verl_checkpoint(source):
        from copilot.rl.verl_merge import fold_lora_adapter, merge_checkpoint

        merge_checkpoint(source, staging)
        fold_lora_adapter(staging)
        return
    if (source / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(source, local_files_only=True).merge_and_unload()
    elif (source / "config.json").is_file():
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype="auto")
    else:
        raise ExportError(f"{source}: neither a model dir (config.json), a PEFT adapter (adapter_config.json) nor "
                          f"a verl checkpoint (global_step_N/actor)")
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    with torch.no_grad():
        model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)


def export(run_dir: Path, out: Path, *, stage: str | None = None, checkpoint: Path | None = None,
           repo_id: str | None = None) -> Path:
    """Export to `out` (replaced atomically); returns it."""
    run_dir, out = Path(run_dir), Path(out)
    summary = run_summary(run_dir)
    if checkpoint is not None:
        source, stage_name = Path(checkpoint), stage or "checkpoint"
        if not source.exists():
            raise ExportError(f"--checkpoint {source} does not exist")
    else:
        stage_name, source = stage_model(run_dir, summary, stage)
        if not source.is_dir():
            raise ExportError(f"stage {stage_name!r} model {source} does not exist (was the run moved or cleaned?)")
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    materialise(source, staging)
    (staging / "README.md").write_text(model_card(run_dir, summary, stage_name, str(source), repo_id),
                                       encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    return out


def push(out: Path, repo_id: str, private: bool) -> str:
    """Create the Hub repo (exist_ok) and upload the export; returns the commit URL."""
    from huggingface_hub import HfApi

    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if not token:
        raise ExportError("--push-to-hub needs a token in HF_TOKEN (or HUGGING_FACE_HUB_TOKEN)")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(folder_path=str(out), repo_id=repo_id, repo_type="model",
                             commit_message=f"Med-Copilot export of {out.name}")
    return str(getattr(info, "commit_url", info))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copilot.export", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run dir (runs/<name>) holding summary.json")
    parser.add_argument("--out", type=Path, required=True, help="the export dir (replaced if it exists)")
    parser.add_argument("--stage", default=None, help="export this stage's model (default: the last one)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a verl or TRL checkpoint dir instead")
    parser.add_argument("--push-to-hub", dest="repo_id", default=None, help="Hub repo id, e.g. me/med-copilot-7b")
    parser.add_argument("--private", action="store_true", help="create the Hub repo private")
    args = parser.parse_args(argv)
    if args.repo_id and not (os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        print("error: --push-to-hub needs a token in HF_TOKEN (or HUGGING_FACE_HUB_TOKEN)", file=sys.stderr)
        return 2
    try:
        out = export(args.run_dir, args.out, stage=args.stage, checkpoint=args.checkpoint, repo_id=args.repo_id)
    except (ExportError, RunDirError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported: {out}")
    if args.repo_id:
        try:
            print(f"pushed: {push(out, args.repo_id, args.private)}")
        except Exception as err:  # noqa: BLE001 -- network / Hub errors: the export on disk stays
            print(f"error: upload to {args.repo_id} failed ({type(err).__name__}: {err}); the export in {out} is "
                  f"complete, re-run with --push-to-hub to retry", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
