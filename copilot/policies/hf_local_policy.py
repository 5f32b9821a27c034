"""A policy that runs a local Hugging Face causal LM with transformers' `generate`.

    policy = HFLocalPolicy("/models/Qwen2.5-7B-Instruct")            # a directory on disk, never the Hub
    replies = policy.generate_batch([chat_a, chat_b], temperature=0.0)

- Loads with `local_files_only=True`: a missing directory is a FileNotFoundError that names the path and how
  to get a model; nothing is downloaded.
- fp32 on CPU (bf16 is several times slower on CPUs without bf16 units), bf16 on a GPU, unless `dtype` says.
- Prompts are rendered with the tokenizer's chat template (tools passed through, so native tool calls
  appear as hermes `<tool_call>` text in the reply) and batched with LEFT padding, so every row's
  continuation starts at the same position.
- Generation runs under `torch.no_grad()` with the model switched to eval() and back afterwards: a model
  shared with a trainer may be in train mode with gradient checkpointing, which disables the KV cache and
  enables dropout. temperature 0 = greedy; decoding stops at the end-of-turn / EOS tokens.
- The generation settings are built from this policy's options only (`_generation_config`), so sampling
  defaults shipped in a checkpoint's generation_config.json (Qwen's top_k=20, repetition_penalty=1.05, ...)
  do not silently change what "greedy" means; pass them explicitly to reproduce a vendor's settings.

Not protected against: prompts longer than the model's context (transformers raises or degrades), and one
call monopolising the device: calls are serialised by a lock, batch through `generate_batch` instead.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from copilot.policies.base import Messages, Policy, PolicyError, PolicyReply

HOW_TO_GET_A_MODEL = (
    "download one on a machine with network access (e.g. `huggingface-cli download Qwen/Qwen2.5-7B-Instruct "
    "--local-dir DIR`) and copy DIR here, point to a checkpoint this project trained (runs/<name>/<stage>/...), "
    "or build the tiny test model with `python tests/models/tiny_qwen2.py DIR`")


class HFLocalPolicy(Policy):
    """Local transformers generation (see module docstring).

    model_path:      a directory holding config.json, weights and a tokenizer with a chat template.
    device:          "cpu", "cuda", "cuda:1", ...; None = the first GPU when there is one, else the CPU.
    dtype:           "float32" / "bfloat16" / "float16"; None = fp32 on CPU, bf16 on GPU.
    max_new_tokens:  default per call.
    top_p / top_k / repetition_penalty: used only when sampling (temperature > 0), except the penalty.
    batch_size:      rows per `generate` call inside generate_batch.
    chat_template_kwargs: extra variables for the chat template (e.g. {"enable_thinking": False}).
    """

    def __init__(self, model_path: str | Path, *, device: str | None = None, dtype: str | None = None,
                 max_new_tokens: int = 512, top_p: float = 1.0, top_k: int = 0, repetition_penalty: float = 1.0,
                 batch_size: int = 8, chat_template_kwargs: dict[str, Any] | None = None, name: str | None = None):
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"HFLocalPolicy: model directory {path} does not exist; {HOW_TO_GET_A_MODEL}")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"HFLocalPolicy: {path} has no config.json, so it is not a saved transformers "
                                    f"model; {HOW_TO_GET_A_MODEL}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = torch_dtype_for(dtype, device)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch_dtype).to(device)
        self._setup(model, tokenizer, name or f"hf:{path.name}", max_new_tokens, top_p, top_k, repetition_penalty,
                    batch_size, chat_template_kwargs)
        self.model_path = path

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, *, name: str = "hf:in-memory", max_new_tokens: int = 512,
                   top_p: float = 1.0, top_k: int = 0, repetition_penalty: float = 1.0, batch_size: int = 8,
                   chat_template_kwargs: dict[str, Any] | None = None) -> "HFLocalPolicy":
        """Wrap a model already in memory (e.g. the one a trainer is updating); its device and dtype are kept."""
        policy = cls.__new__(cls)
        policy._setup(model, tokenizer, name, max_new_tokens, top_p, top_k, repetition_penalty, batch_size,
                      chat_template_kwargs)
        policy.model_path = None
        return policy

    def _setup(self, model, tokenizer, name, max_new_tokens, top_p, top_k, repetition_penalty, batch_size,
               chat_template_kwargs) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"HFLocalPolicy {name}: the tokenizer has no chat template; use an instruct/chat "
                             f"checkpoint or set tokenizer.chat_template")
        if batch_size < 1 or max_new_tokens < 1:
            raise ValueError(f"HFLocalPolicy {name}: batch_size and max_new_tokens must be >= 1")
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.max_new_tokens, self.top_p, self.top_k = max_new_tokens, top_p, top_k
        self.repetition_penalty, self.batch_size = repetition_penalty, batch_size
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if self.pad_id is None:
            raise ValueError(f"HFLocalPolicy {name}: the tokenizer has neither a pad nor an EOS token")
        self.stop_ids = _stop_token_ids(model, tokenizer)
        self._lock = threading.Lock()

    # The lock cannot be pickled; a copy (e.g. sent to a worker process) gets its own.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ---- generation ----

    def _generation_config(self, temperature: float, max_new_tokens: int | None):
        from transformers import GenerationConfig

        sampling = temperature > 0
        return GenerationConfig(
            max_new_tokens=int(max_new_tokens or self.max_new_tokens), do_sample=sampling,
            temperature=float(temperature) if sampling else None, top_p=self.top_p if sampling else None,
            top_k=self.top_k if sampling else None, repetition_penalty=self.repetition_penalty,
            eos_token_id=self.stop_ids, pad_token_id=self.pad_id, use_cache=True)

    def render(self, messages: Messages, tools: list[dict[str, Any]] | None = None) -> str:
        """The prompt text the model sees for a chat (the chat template with the generation prompt)."""
        return self.tokenizer.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True,
                                                  tokenize=False, **self.chat_template_kwargs)

    def generate(self, messages: Messages, *, temperature: float = 0.0, max_new_tokens: int | None = None,
                 tools: list[dict[str, Any]] | None = None) -> PolicyReply:
        return self.generate_batch([messages], temperature=temperature, max_new_tokens=max_new_tokens,
                                   tools=tools)[0]

    def generate_batch(self, batch: list[Messages], *, temperature: float = 0.0, max_new_tokens: int | None = None,
                       tools: list[dict[str, Any]] | None = None) -> list[PolicyReply]:
        if temperature < 0:
            raise ValueError(f"HFLocalPolicy: temperature must be >= 0, got {temperature}")
        prompts = [self.render(messages, tools) for messages in batch]
        config = self._generation_config(temperature, max_new_tokens)
        replies: list[PolicyReply] = []
        for start in range(0, len(prompts), self.batch_size):
            replies.extend(self._generate_rows(prompts[start:start + self.batch_size], config))
        return replies

    def _generate_rows(self, prompts: list[str], config) -> list[PolicyReply]:
        import torch

        # The chat template already wrote every special token; adding BOS again would change the prompt.
        encoded = self.tokenizer(prompts, padding=True, padding_side="left", add_special_tokens=False,
                                 return_tensors="pt")
        device = next(self.model.parameters()).device
        input_ids, attention_mask = encoded["input_ids"].to(device), encoded["attention_mask"].to(device)
        with self._lock:
            was_training = self.model.training
            self.model.eval()
            start = time.perf_counter()
            try:
                with torch.no_grad():
                    output = self.model.generate(input_ids=input_ids, attention_mask=attention_mask,
                                                 generation_config=config)
            except Exception as err:  # surfaced as a policy failure the episode records, with the cause chained
                raise PolicyError(f"HFLocalPolicy {self.name}: generate failed: {type(err).__name__}: {err}") from err
            finally:
                if was_training:
                    self.model.train()
            latency = time.perf_counter() - start
        prompt_len = input_ids.shape[1]
        replies = []
        for row in range(len(prompts)):
            new_tokens = output[row, prompt_len:].tolist()
            stop_at = next((i for i, tok in enumerate(new_tokens) if tok in self.stop_ids), None)
            kept = new_tokens if stop_at is None else new_tokens[:stop_at]
            replies.append(PolicyReply(
                text=self.tokenizer.decode(kept, skip_special_tokens=True),
                prompt_tokens=int(attention_mask[row].sum()),
                completion_tokens=len(kept) + (0 if stop_at is None else 1),  # the stop token was generated too
                latency_s=latency, finish_reason="length" if stop_at is None else "stop",
                meta={"batch_rows": len(prompts)}))
        return replies

    def close(self) -> None:
        self.model = None
        self.tokenizer = None


def torch_dtype_for(name: str | None, device: str):
    """The torch dtype for a name (float32 / fp32, bfloat16 / bf16, float16 / fp16); None: fp32 on CPU (bf16 is
    several times slower there), bf16 on a GPU. Also used by verifier.scoring."""
    import torch

    if name is None:
        return torch.float32 if device == "cpu" else torch.bfloat16
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if name not in table:
        raise ValueError(f"dtype {name!r} is unknown; expected one of {sorted(table)}")
    return table[name]


def _stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """EOS ids from the generation config and tokenizer, plus ChatML's end-of-turn when the vocabulary has it."""
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        ids.extend(value if isinstance(value, list) else [value] if value is not None else [])
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else None
    if im_end is not None:
        ids.append(im_end)
    if not ids:
        raise ValueError("HFLocalPolicy: no EOS / end-of-turn token id found in the model or tokenizer")
    return sorted(set(int(i) for i in ids))
