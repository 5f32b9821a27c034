"""verifier.scoring: batched YES/NO scores equal a direct computation from the model's logits; long
trajectories lose their middle, never their end; bad models / inputs are clear errors."""

from __future__ import annotations

import math

import pytest
from scored_trajectories import trajectory

from verifier.prompt import fit_to_tokens, verifier_messages
from verifier.scoring import Verifier, VerifierError, label_token_ids


def direct_score(model, tokenizer, text: str) -> float:
    """P(YES) from one unpadded forward pass: exp(l_YES) / (exp(l_YES) + exp(l_NO)) at the last position."""
    import torch

    prompt = tokenizer.apply_chat_template(verifier_messages(text), tokenize=False, add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        last = model(input_ids=ids).logits[0, -1]
    yes = tokenizer("YES", add_special_tokens=False)["input_ids"][0]
    no = tokenizer("NO", add_special_tokens=False)["input_ids"][0]
    l_yes, l_no = float(last[yes]), float(last[no])
    return math.exp(l_yes) / (math.exp(l_yes) + math.exp(l_no))


def test_batched_scores_equal_direct_logit_computation(tiny_verifier_dir):
    scorer = Verifier.load(tiny_verifier_dir, batch_size=3)
    texts = ["user:\nshort", "user:\n" + "a much longer trajectory text with code answer = 1\n" * 12,
             "assistant:\nSELECT count(*) FROM admissions", "user:\nmid length " * 5, "x"]
    batched = scorer.score_texts(texts)
    direct = [direct_score(scorer.model, scorer.tokenizer, t) for t in texts]
    assert batched == pytest.approx(direct, abs=1e-5)
    assert all(0.0 < s < 1.0 for s in batched)
    assert len(set(round(s, 6) for s in batched)) > 1          # the model does look at the text


def test_score_trajectories_keys_and_duplicate_keys(tiny_verifier_dir):
    scorer = Verifier.load(tiny_verifier_dir, batch_size=2)
    rollouts = [trajectory("biostat/t/0", r, r == 1) for r in range(3)]
    scores = scorer.score_trajectories(rollouts)
    assert sorted(scores) == [("biostat/t/0", "hf:test", r) for r in range(3)]
    with pytest.raises(VerifierError, match="share a"):
        scorer.score_trajectories([rollouts[0], rollouts[0]])


def test_long_trajectories_lose_the_middle_never_the_end(tiny_verifier_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_verifier_dir, local_files_only=True)
    text = "TASK HEAD " + " ".join(f"step{i}" for i in range(600)) + " FINAL ANSWER 17"
    fitted, trimmed = fit_to_tokens(text, tokenizer, max_tokens=400)
    assert trimmed and fitted.startswith("TASK HEAD") and fitted.endswith("FINAL ANSWER 17")
    assert "tokens trimmed" in fitted
    prompt = tokenizer.apply_chat_template(verifier_messages(fitted), tokenize=False, add_generation_prompt=True)
    assert len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) <= 400
    assert fit_to_tokens("short", tokenizer, max_tokens=400) == ("short", False)
    with pytest.raises(ValueError, match="leaves no room"):
        fit_to_tokens(text, tokenizer, max_tokens=190)


def test_bad_verifiers_are_clear_errors(tiny_verifier_dir, tmp_path):
    with pytest.raises(VerifierError, match="no config.json"):
        Verifier.load(tmp_path)

    class SameFirstToken:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [7, 8]}

    with pytest.raises(VerifierError, match="same token"):
        label_token_ids(SameFirstToken())
    with pytest.raises(VerifierError, match="max_tokens"):
        Verifier.load(tiny_verifier_dir, max_tokens=10)
