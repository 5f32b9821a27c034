"""A tiny, randomly initialised Qwen2 chat model built entirely on this machine, for tests.

    from tiny_qwen2 import build_tiny_qwen2
    model_dir = build_tiny_qwen2(tmp_dir)   # config.json, model.safetensors, tokenizer.json, chat_template.jinja

What it is: a real `Qwen2ForCausalLM` (2 layers, hidden 64, 4 heads / 2 KV heads) and a byte-level BPE
tokenizer trained with the `tokenizers` library on a fixed text (standard-library Python sources, the chat
markup and action examples: not this repository's files, which change under other work), with Qwen2.5's
special tokens (<|endoftext|>, <|im_start|>, <|im_end|>) and tool tokens (<tool_call>, <tool_response>,
<think> and their closers). Its chat template renders Qwen2.5's ChatML layout with hermes tool calls and
`{% generation %}` markers around assistant turns, so `return_assistant_tokens_mask=True` and TRL's
`assistant_only_loss` work on it. It loads with AutoModelForCausalLM / AutoTokenizer and
`local_files_only=True`: nothing is downloaded.

Simplified / not protected against: the weights are random (the model emits gibberish — tests check
mechanics, never answers); the initialiser range is raised to 0.5 so that greedy argmaxes are well separated
and batched vs one-by-one decoding compares exactly; the vocabulary is the same for a given Python version
(the corpus is that interpreter's standard library).
"""

from __future__ import annotations

import json
from pathlib import Path

from copilot.models.chat_template import chatml_tool_template

VOCAB_SIZE = 2048
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2.5 adds these as ordinary (non-special) tokens, so decoding with skip_special_tokens keeps them.
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]

# Qwen2.5's default system prompt in our ChatML + hermes tool-call template with {% generation %} markers.
CHAT_TEMPLATE = chatml_tool_template("You are a helpful assistant.")


# Fixed training text, so the vocabulary (and so every greedy output) does not change when the repository's
# files do: Python standard-library sources of the running interpreter, plus the chat markup and actions.
CORPUS_MODULES = ("json.decoder", "json.encoder", "textwrap", "csv", "statistics", "string", "difflib",
                  "sqlite3.dbapi2", "fractions", "calendar")


def _training_text() -> list[str]:
    import importlib
    import inspect

    texts = [inspect.getsource(importlib.import_module(name)) for name in CORPUS_MODULES]
    texts.append(CHAT_TEMPLATE)
    texts.append(json.dumps({"action": "code_execution", "params": {"code": "answer = 1"}}))
    texts.append('<tool_call>\n{"name": "final_answer", "arguments": {"answer": ["po"]}}\n</tool_call>')
    return texts


def build_tokenizer(out_dir: Path):
    """Train the byte-level BPE and save it as a transformers fast tokenizer in out_dir; returns it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_training_text(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        unk_token=None, bos_token=None, model_max_length=32768,
                                        additional_special_tokens=["<|im_start|>"])
    tokenizer.add_tokens(TOOL_TOKENS)  # ordinary added tokens, as in Qwen2.5
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out_dir)
    return tokenizer


def build_tiny_qwen2(out_dir: Path | str, seed: int = 0) -> Path:
    """Build (or reuse, when out_dir already holds a finished build) the tiny model; returns out_dir."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    done = out_dir / "BUILT"
    if done.exists():
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out_dir)
    im_end, pad = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                         initializer_range=0.5, tie_word_embeddings=True, bos_token_id=pad, eos_token_id=im_end,
                         pad_token_id=pad)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=[im_end, pad], pad_token_id=pad, bos_token_id=pad,
                                               do_sample=False)
    model.save_pretrained(out_dir)
    done.write_text("tiny random Qwen2ForCausalLM built by tests/models/tiny_qwen2.py\n")
    return out_dir


if __name__ == "__main__":
    import sys

    print(build_tiny_qwen2(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-qwen2")))
