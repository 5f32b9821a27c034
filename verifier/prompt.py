"""The verifier's prompt: one chat (system + user holding the trajectory) answered with one word, YES or NO.

    messages = verifier_messages(text)                       # [system, user]
    text = fit_to_tokens(text, tokenizer, max_tokens=32768)  # middle trimmed so the whole prompt fits

Training (copilot.stages.verifier) and scoring (verifier.scoring) both build prompts here, so a verifier is
always scored on exactly the format it was trained on. The trajectory text itself comes from
`copilot.sampling.converters.verifier.trajectory_text` (task, actions, observations, final answer).

Length cap: the text is cut in the MIDDLE, by tokens, keeping the head (`head_fraction` of the budget: the
task statement) and the whole tail (the final answer and the turns that led to it), joined by a marker that
says how many tokens were removed. The end is never trimmed. The budget is `max_tokens` minus the tokens of
the rest of the prompt (system prompt, question, chat-template markup) and a small margin for the answer.

Simplified: the marker's own tokens and re-tokenisation at the cut are absorbed by a fixed margin
(`MARGIN_TOKENS`), so a fitted prompt can be a few tokens under, never over, the cap; a text that cannot fit
even with an empty middle (a tiny max_tokens) is an error.
"""

from __future__ import annotations

from typing import Any

LABELS = ("YES", "NO")
SYSTEM_PROMPT = (
    "You are a verifier for a biomedical data-science agent. You read a task and the agent's whole trajectory: "
    "its actions (code, shell commands), the execution results it observed, and its final answer. Judge "
    "whether the final answer solves the task correctly. Reply with exactly one word: YES or NO.")
QUESTION = "Is the agent's final answer correct? Answer YES or NO."
TRIM_MARKER = "\n\n[... {n} tokens trimmed ...]\n\n"
MARGIN_TOKENS = 16


def verifier_messages(text: str) -> list[dict[str, str]]:
    """The prompt (system + user) for one trajectory text; the verifier's reply is one of LABELS."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Trajectory:\n\n{text}\n\n{QUESTION}"}]


def answer_message(label: str) -> dict[str, str]:
    if label not in LABELS:
        raise ValueError(f"verifier label {label!r}: expected one of {LABELS}")
    return {"role": "assistant", "content": label}


def prompt_overhead(tokenizer: Any) -> int:
    """Tokens of the prompt around an empty trajectory text (chat markup, system prompt, question)."""
    rendered = tokenizer.apply_chat_template(verifier_messages(""), tokenize=False, add_generation_prompt=True)
    return len(tokenizer(rendered, add_special_tokens=False)["input_ids"])


def fit_to_tokens(text: str, tokenizer: Any, max_tokens: int, *, head_fraction: float = 0.3,
                  overhead: int | None = None) -> tuple[str, bool]:
    """(text, trimmed): `text` cut in the middle so that the whole verifier prompt has <= max_tokens tokens."""
    if not 0.0 <= head_fraction < 1.0:
        raise ValueError(f"head_fraction: {head_fraction} must be in [0, 1)")
    overhead = prompt_overhead(tokenizer) if overhead is None else overhead
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if overhead + len(ids) + 2 <= max_tokens:   # +2: tokens may merge differently at the text's two edges
        return text, False
    budget = max_tokens - overhead - MARGIN_TOKENS
    marker_tokens = len(tokenizer(TRIM_MARKER.format(n=len(ids)), add_special_tokens=False)["input_ids"])
    budget -= marker_tokens
    if budget <= 0:
        raise ValueError(f"max_tokens = {max_tokens} leaves no room for a trajectory: the prompt around it already "
                         f"takes {overhead} tokens (+{MARGIN_TOKENS + marker_tokens} for the marker and margin)")
    head = int(budget * head_fraction)
    tail = budget - head
    removed = len(ids) - head - tail
    text = (tokenizer.decode(ids[:head]) + TRIM_MARKER.format(n=removed) + tokenizer.decode(ids[len(ids) - tail:]))
    return text, True
