"""Evaluate stage with K rollouts and a verifier: rollout 0 greedy and the rest at T, verifier scores stored
next to the trajectories, results.json with Pass@K / Best@K curves that recompute from the stored files, a
leaderboard that regenerates byte for byte, the plot, resume when K grows; an OpenAI-compatible endpoint as
the policy; bad keys are clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest
from stage_configs import make_cfg

from copilot.evaluation.pass_at_k import curves, first_k_curves
from copilot.sampling.trajectory_store import TrajectoryStore
from copilot.stages import evaluate
from copilot.stages.model_loading import StageInputError
from verifier.score import load_scores

STAGE = {"kind": "evaluate", "name": "eval_k", "label": "tiny", "max_new_tokens": 12, "batch_size": 4,
         "temperature": 0.6}


def test_k_rollouts_with_a_verifier(tiny_qwen2_dir, pack_dirs, tmp_path):
    out = tmp_path / "eval_k"
    out.mkdir()
    cfg = make_cfg(tiny_qwen2_dir, {**STAGE, "k": 3, "verifier": "auto"}, test=pack_dirs, data_roots=pack_dirs,
                   limit_test=1)
    # the tiny model stands in as its own verifier: any causal LM with a chat template can score
    outputs = evaluate.run(cfg, {"model": tiny_qwen2_dir, "verifier": tiny_qwen2_dir}, out)
    results = json.loads(outputs["results"].read_text())
    stored = list(TrajectoryStore(out / "trajectories.jsonl", create=False))
    assert len(stored) == 2 * 3 and results["episodes_run"] == 6 and results["k"] == 3
    assert {(t.rollout_index, t.meta["sampling"]["temperature"]) for t in stored} == {(0, 0.0), (1, 0.6), (2, 0.6)}
    scores = load_scores(out / "trajectories.verifier_scores.jsonl")
    assert len(scores) == 6 and all(0.0 < s < 1.0 for s in scores.values())
    # the curves recompute from the stored trajectories and scores
    groups = defaultdict(list)
    for t in stored:
        groups[t.task_id].append((t.rollout_index, scores[(t.task_id, t.policy, t.rollout_index)],
                                  t.reward["correct"] is True))
    expected, schedule = curves(groups, [1, 2, 3]), first_k_curves(groups, [1, 2, 3])
    curve = results["curves"]["all"]
    assert curve["k"] == [1, 2, 3] and results["verifier"] == str(tiny_qwen2_dir)
    assert curve["pass_at_k"] == pytest.approx([expected["pass_at_k"][k] for k in (1, 2, 3)])
    assert curve["best_at_k"] == pytest.approx([expected["best_at_k"][k] for k in (1, 2, 3)])
    assert curve["first_k"]["pass_at_k"][0] == results["overall"]        # first-K Pass@1 = greedy SR
    assert curve["first_k"]["best_at_k"] == pytest.approx([schedule["best_at_k"][k] for k in (1, 2, 3)])
    assert set(results["curves"]) == {"all", "biostat", "ehr_sql"}
    assert results["quality"]["all"]["trajectories"] == 2                # rollout 0 only
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the leaderboard regenerates byte for byte from the stored results
    regenerated = tmp_path / "board"
    subprocess.run([sys.executable, "-m", "copilot.evaluation.leaderboard", str(out), "--out", str(regenerated)],
                   check=True, capture_output=True)
    for name in ("leaderboard.md", "leaderboard.csv"):
        assert (regenerated / name).read_bytes() == (out / name).read_bytes()
    # a larger K later plays only the new rollouts
    cfg4 = make_cfg(tiny_qwen2_dir, {**STAGE, "k": 4, "verifier": None}, test=pack_dirs, data_roots=pack_dirs,
                    limit_test=1)
    again = json.loads(evaluate.run(cfg4, {"model": tiny_qwen2_dir}, out)["results"].read_text())
    assert again["episodes_run"] == 2 and again["curves"]["all"]["best_at_k"] is None and again["verifier"] is None


def test_openai_compatible_endpoint_as_the_policy(pack_dirs, tmp_path):
    from openai_compat_server import OpenAICompatServer

    out = tmp_path / "eval_api"
    out.mkdir()
    reply = '{"action": "code_execution", "params": {"code": "answer = 1"}}'
    with OpenAICompatServer(responder=lambda body: reply) as server:
        stage = {**STAGE, "k": 2, "policy": "openai", "base_url": server.base_url,
                 "served_model": server.model_name, "label": None, "verifier": None}
        cfg = make_cfg("unused", stage, test=pack_dirs, data_roots=pack_dirs, limit_test=1)
        results = json.loads(evaluate.run(cfg, {}, out)["results"].read_text())
        temperatures = sorted(r["body"].get("temperature") for r in server.requests)
    assert results["label"] == server.model_name and results["n"] == {"biostat": 1, "ehr_sql": 1}
    assert results["curves"]["all"]["pass_at_k"] == [0.0, 0.0]          # "answer = 1" is wrong everywhere
    assert results["quality"]["all"]["errors"]["wrong_answer"] == 2
    # rollout 0 greedy, rollout 1 at T 0.6; the same number of turns each (2-turn episodes, same reply)
    assert set(temperatures) == {0.0, 0.6} and temperatures.count(0.0) == temperatures.count(0.6)


def test_bad_keys_are_clear_errors(tiny_qwen2_dir, pack_dirs, tmp_path):
    def run(**stage):
        return evaluate.run(make_cfg(tiny_qwen2_dir, {**STAGE, **stage}, test=pack_dirs), {}, tmp_path)

    with pytest.raises(StageInputError, match="k = 0"):
        run(k=0)
    with pytest.raises(StageInputError, match="temperature = 0.0 with k = 2"):
        run(k=2, temperature=0.0)
    with pytest.raises(StageInputError, match="verifier = .* is not a saved model dir"):
        run(verifier=str(tmp_path / "nope"))
    with pytest.raises(StageInputError, match="policy openai needs base_url"):
        run(policy="openai")
    with pytest.raises(StageInputError, match="policy = 'gpt'"):
        run(policy="gpt")
