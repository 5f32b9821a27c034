"""Batched YES/NO scoring: r = exp(l_YES) / (exp(l_YES) + exp(l_NO)) at the verifier's first answer token.

    scorer = Verifier.load("runs/v/verifier/model")              # any causal LM with a chat template
    scorer.score_texts(["user:\\n...", ...])                      # -> [P(YES), ...]
    scores = scorer.score_trajectories(trajectories)             # (task_id, policy, rollout_index) -> P(YES)

The prompt is `verifier.prompt.verifier_messages(text)` rendered with the tokenizer's chat template and the
generation prompt (so the next token is the verifier's answer); l_YES / l_NO are the logits of the first token
of "YES" and of "NO" at that position. This is the paper's (MedAgentGym) verifier score.

Batching: prompts are sorted by length and left-padded; position ids are computed from the attention mask,
so a padded row gets the same logits as the row alone (tested against an unbatched forward pass). Long
trajectories are cut in the middle to `max_tokens` (verifier.prompt.fit_to_tokens), never at the end.

Simplified / not protected against: only the first token of each label is compared (a tokenizer that splits
"YES" and "NO" into pieces sharing a first token is an error, said at load time); no KV-cache reuse between
trajectories that share a prefix; the model must fit on one device (no tensor parallelism: score on a GPU
node with a big model through `device_map="auto"` = `device="auto"`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from verifier.prompt import LABELS, fit_to_tokens, prompt_overhead, verifier_messages

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 32768


class VerifierError(ValueError):
    """The verifier model or its inputs are unusable (the message says which and what was expected)."""


def label_token_ids(tokenizer: Any) -> tuple[int, int]:
    """The token ids that start the replies "YES" and "NO" (as the chat template puts them after the prompt)."""
    ids = []
    for label in LABELS:
        pieces = tokenizer(label, add_special_tokens=False)["input_ids"]
        if not pieces:
            raise VerifierError(f"the tokenizer turns {label!r} into no tokens; it cannot be used as a verifier")
        ids.append(int(pieces[0]))
    if ids[0] == ids[1]:
        raise VerifierError(f"'YES' and 'NO' start with the same token ({ids[0]}) for this tokenizer, so their "
                            f"first-token logits cannot tell them apart")
    return ids[0], ids[1]


class Verifier:
    """A causal LM used as an outcome reward model (see the module docstring)."""

    def __init__(self, model: Any, tokenizer: Any, *, max_tokens: int = DEFAULT_MAX_TOKENS, batch_size: int = 8,
                 name: str = "verifier"):
        if not getattr(tokenizer, "chat_template", None):
            raise VerifierError(f"{name}: the tokenizer has no chat template; the verifier prompt needs one")
        if max_tokens < 64:
            raise VerifierError(f"max_tokens = {max_tokens}: expected >= 64 (the prompt alone needs that much)")
        if batch_size < 1:
            raise VerifierError(f"batch_size = {batch_size}: expected >= 1")
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.max_tokens, self.batch_size = int(max_tokens), int(batch_size)
        self.yes_id, self.no_id = label_token_ids(tokenizer)
        self._overhead = prompt_overhead(tokenizer)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None, dtype: str | None = None, **kw) -> "Verifier":
        """A saved verifier (or any local causal LM with a chat template): fp32 on CPU, bf16 on GPU by default."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from copilot.policies.hf_local_policy import torch_dtype_for

        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise VerifierError(f"verifier {path}: no config.json there; expected a saved transformers model "
                                f"(a verifier stage's out_dir/model)")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            torch_dtype = torch_dtype_for(dtype, "cpu" if device == "cpu" else "cuda")
        except ValueError as err:
            raise VerifierError(f"verifier {path}: {err}") from err
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if device == "auto":
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch_dtype,
                                                         device_map="auto")
        else:
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch_dtype).to(device)
        return cls(model, tokenizer, name=str(path), **kw)

    # ------------------------------------------------------------------------------------------ prompts
    def prompt(self, text: str) -> str:
        fitted, _ = fit_to_tokens(text, self.tokenizer, self.max_tokens, overhead=self._overhead)
        return self.tokenizer.apply_chat_template(verifier_messages(fitted), tokenize=False,
                                                  add_generation_prompt=True)

    # ------------------------------------------------------------------------------------------ scoring
    def label_logits(self, prompts: Sequence[str]):
        """(batch, 2) logits of [YES, NO] at the last prompt position, for already rendered prompts."""
        import torch

        encoded = self.tokenizer(list(prompts), padding=True, padding_side="left", add_special_tokens=False,
                                 return_tensors="pt")
        mask = encoded["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            logits = self.model(input_ids=encoded["input_ids"].to(device), attention_mask=mask.to(device),
                                position_ids=positions.to(device)).logits
        return logits[:, -1, [self.yes_id, self.no_id]].float().cpu()

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """P(YES) for each trajectory text, in the given order."""
        import torch

        prompts = [self.prompt(text) for text in texts]
        lengths = [len(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: -lengths[i])   # similar lengths share a batch
        scores: list[float] = [0.0] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            pair = self.label_logits([prompts[i] for i in rows])
            p_yes = torch.softmax(pair, dim=-1)[:, 0].tolist()
            for i, p in zip(rows, p_yes):
                scores[i] = float(p)
        return scores

    def score_trajectories(self, trajectories: Iterable[Any]) -> dict[tuple[str, str, int], float]:
        """(task_id, policy, rollout_index) -> P(YES) for every trajectory."""
        from copilot.sampling.converters.verifier import trajectory_text

        trajectories = list(trajectories)
        keys = [(t.task_id, t.policy, int(t.rollout_index)) for t in trajectories]
        if len(set(keys)) != len(keys):
            raise VerifierError("score_trajectories: two trajectories share a (task_id, policy, rollout_index) key; "
                                "their scores would overwrite each other")
        texts = [trajectory_text(t) for t in trajectories]
        return dict(zip(keys, self.score_texts(texts)))
