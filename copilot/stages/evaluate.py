"""Stage `evaluate`: episodes on held-out tasks -> success rate per dataset, Pass@K / Best@K, code quality.

    stages: [{kind: evaluate, name: eval_after, policy: hf, label: after}]                 # greedy SR only
    stages: [{kind: evaluate, name: eval_k8, k: 8, temperature: 0.6, verifier: auto}]      # + Pass@K, Best@K
    outputs = run(cfg, {"model": model_dir?, "verifier": dir?}, out_dir)   # -> {"eval": eval.json, "results": ...}

- Tasks: the `split` ("test") of every dir in cfg.data.test (a relative dir that does not exist is also looked
  up under cfg.data.offline_root), the first cfg.data.limit_test tasks of each when set (limit_train for
  split: train -- e.g. to sample the agent's rollouts on training tasks for a verifier).
- Policy: "hf" (default) = inputs["model"], else cfg.model.name_or_path, run locally with transformers
  (fp32 on CPU, bf16 on GPU, generation in eval() mode: copilot.policies.hf_local_policy); "openai" = an
  OpenAI-compatible endpoint (`base_url`, `served_model`, key in the `api_key_env` variable: vLLM, SGLang,
  APIs); "expert" = the reference-solution policy, a sanity row whose SR must be 1.0 on offline packs.
- Episodes: K = `k` rollouts per task, the paper's schedule: rollout 0 at temperature 0 (greedy), rollouts
  1..K-1 at `temperature` (0.6). They run `batch_size` at a time in lockstep (copilot.agent.batched_rollout:
  one generate_batch per turn) and are appended to out_dir/trajectories.jsonl as each batch finishes; a
  re-run skips the episodes already there (raising k later only plays the new rollouts).
- Verifier: `verifier` = a saved verifier dir, "auto" (default: inputs["verifier"] when an earlier stage
  trained one, else none) or null. With one, every rollout gets P(YES) (verifier.scoring), written next to
  the store (trajectories.verifier_scores.jsonl), and Best@K is computed.
- Output: eval.json / eval.md = the greedy rollout's SR per dataset (copilot.evaluation.success_rate), and
  results.json + leaderboard.md / .csv + (k > 1) curves.png (copilot.evaluation.report): Pass@K (unbiased
  estimator), Best@K, turns, tokens, radon code metrics, error categories. A tqdm bar while episodes run;
  one metrics line with the SRs and the Pass@K / Best@K at the largest K.

`open_sandbox`, `episode_settings`, `task_list` and `play_episodes` are shared with the idpo stage.

Simplified / not protected against: the whole batch waits for its slowest episode; a model too large for
the machine fails in transformers, not here; the policy model is freed before the verifier is loaded (the
two never share the device), so a verifier run re-scores every rollout of the store each time.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from copilot.stages.model_loading import StageInputError, model_source, positive, stage_settings

log = logging.getLogger(__name__)

POLICIES = ("hf", "expert", "openai")
TRAJECTORIES = "trajectories.jsonl"


@dataclass
class Config:
    policy: str = "hf"                # hf | openai | expert
    label: str | None = None          # the row name in eval.md (default: the model dir's name)
    split: str = "test"
    k: int = 1                        # rollouts per task: rollout 0 greedy, the others at `temperature`
    temperature: float = 0.6          # the paper's sampling temperature for rollouts 1..k-1
    verifier: str | None = "auto"     # a verifier dir | auto (an earlier stage's, if any) | null
    verifier_batch_size: int = 8
    verifier_max_tokens: int = 32768
    max_new_tokens: int = 512
    batch_size: int = 8               # episodes stepped together (rows per generate call)
    step_workers: int = 2             # threads running the sandbox steps of one turn
    base_url: str | None = None       # policy openai: e.g. http://127.0.0.1:8000/v1
    served_model: str | None = None   # policy openai: the model name the server serves
    api_key_env: str = "OPENAI_API_KEY"


# ------------------------------------------------------------------------------- shared with idpo
def episode_settings(cfg):
    from omegaconf import OmegaConf

    from copilot.agent.episode import EpisodeSettings

    node = cfg.get("episode") or {}
    options = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    known = {f.name for f in dataclasses.fields(EpisodeSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise StageInputError(f"episode.{unknown[0]}: unknown key; EpisodeSettings fields are {sorted(known)}")
    try:
        return EpisodeSettings(**options).validate()
    except ValueError as err:
        raise StageInputError(f"episode: {err}") from err


def dataset_dirs(cfg, key: str) -> list[Path]:
    """cfg.data.<key> entries as existing directories (also tried under cfg.data.offline_root)."""
    from copilot.tasks.task_selection import DataSelectionError, resolve_dirs

    try:
        return resolve_dirs(cfg.get("data") or {}, key)
    except DataSelectionError as err:
        raise StageInputError(str(err)) from err


def select_split(cfg, key: str, split: str, limit_key: str):
    """The `DataSelection` of `split` of every dir in cfg.data.<key>: the audit's exclusions applied
    (data.audit / data.exclude), the first cfg.data.<limit_key> of each dir, tasks.on_malformed honoured."""
    from copilot.tasks.task_selection import DataSelectionError, select_tasks

    data = cfg.get("data") or {}
    limit = data.get(limit_key)
    if limit is not None:
        positive(f"data.{limit_key}", "data", limit)
    on_malformed = str((cfg.get("tasks") or {}).get("on_malformed", "error"))
    try:
        return select_tasks(data, key, split, limit, on_malformed=on_malformed)
    except DataSelectionError as err:
        raise StageInputError(str(err)) from err


def task_list(cfg, key: str, split: str, limit_key: str) -> list:
    """The tasks of `select_split`."""
    return select_split(cfg, key, split, limit_key).tasks


def open_sandbox(cfg, roots: list[Path]):
    """The sandbox of cfg.sandbox; the process backend gets the task dirs as data roots and the reward's
    preloaded modules (so its warm workers never need recycling mid-run)."""
    from omegaconf import OmegaConf

    from sandbox import open_backend

    node = cfg.get("sandbox") or {}
    kind = str(node.get("kind", "process"))
    options_node = node.get("options") or {}
    options = OmegaConf.to_container(options_node, resolve=True) if OmegaConf.is_config(options_node) \
        else dict(options_node)
    if kind == "process":
        from reward.serve import REWARD_PRELOAD, available_modules

        options["data_roots"] = sorted({str(p) for p in [*(options.get("data_roots") or []), *roots]})
        options.setdefault("preload", available_modules(REWARD_PRELOAD))
    try:
        return open_backend(kind, **options)
    except (TypeError, ValueError) as err:
        raise StageInputError(f"sandbox: {kind!r} with options {sorted(options)}: {err}") from err


def play_episodes(jobs: list[tuple], policy, backend, settings, store, *, temperature: float,
                  max_new_tokens: int | None, batch_size: int, step_workers: int, desc: str) -> int:
    """Run (task, rollout_index) jobs `batch_size` at a time, appending each trajectory to `store`."""
    from tqdm import tqdm

    try:
        from copilot.agent.batched_rollout import run_episodes_batched
    except ImportError:   # batched rollouts not installed: one episode at a time, same results
        run_episodes_batched = None
    successes = 0
    with tqdm(total=len(jobs), desc=desc, unit="episode", dynamic_ncols=True) as bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            if run_episodes_batched is not None:
                trajectories = run_episodes_batched(chunk, policy, backend, settings, temperature=temperature,
                                                    max_new_tokens=max_new_tokens, step_workers=step_workers)
            else:
                from copilot.agent.rollout import run_episode

                trajectories = [run_episode(task, policy, backend, settings, rollout_index=index,
                                            temperature=temperature, max_new_tokens=max_new_tokens)
                                for task, index in chunk]
            for trajectory in trajectories:
                trajectory.meta["sampling"] = {"temperature": temperature}
                store.append(trajectory)
                successes += int(bool(trajectory.reward) and trajectory.reward.get("correct") is True)
            bar.update(len(chunk))
            bar.set_postfix_str(f"ok {successes}/{bar.n}")
    return successes


def make_policy_for(cfg, inputs: dict[str, Path], knobs: Config, name: str):
    from copilot.policies import make_policy

    if knobs.policy == "expert":
        settings = episode_settings(cfg)
        return make_policy("expert", action_format=settings.action_format), "expert (reference solutions)"
    if knobs.policy == "openai":
        if not knobs.base_url or not knobs.served_model:
            raise StageInputError(f"stage {cfg.stage.get('name')!r}: policy openai needs base_url (e.g. "
                                  f"http://127.0.0.1:8000/v1) and served_model (the name the server serves)")
        try:
            policy = make_policy("openai", model=knobs.served_model, base_url=knobs.base_url,
                                 api_key_env=knobs.api_key_env, max_new_tokens=knobs.max_new_tokens,
                                 batch_concurrency=knobs.batch_size, name=name)
        except ValueError as err:
            raise StageInputError(f"stage {cfg.stage.get('name')!r}: {err}") from err
        return policy, f"{knobs.served_model} @ {knobs.base_url}"
    source = model_source(cfg, inputs)
    dtype = (cfg.get("model") or {}).get("dtype")
    policy = make_policy("hf", model_path=source, dtype=None if dtype in (None, "auto") else str(dtype),
                         max_new_tokens=knobs.max_new_tokens, batch_size=knobs.batch_size, name=name)
    return policy, source


def verifier_dir(knobs: Config, inputs: dict[str, Path], stage: str) -> str | None:
    """The verifier to score rollouts with: an explicit dir, an earlier stage's ("auto"), or none."""
    if knobs.verifier in (None, "", "none", "null"):
        return None
    if knobs.verifier == "auto":
        return str(inputs["verifier"]) if inputs.get("verifier") is not None else None
    path = Path(str(knobs.verifier)).expanduser()
    if not (path / "config.json").is_file():
        raise StageInputError(f"stage {stage!r}: verifier = {knobs.verifier!r} is not a saved model dir (no "
                              f"config.json); train one with a verifier stage or set verifier: null")
    return str(path)


def check_knobs(knobs: Config, stage: str) -> None:
    if knobs.policy not in POLICIES:
        raise StageInputError(f"stage {stage!r}: policy = {knobs.policy!r}; expected one of {list(POLICIES)}")
    for key in ("k", "max_new_tokens", "batch_size", "step_workers", "verifier_batch_size"):
        positive(key, stage, getattr(knobs, key))
    if knobs.k > 1 and knobs.temperature <= 0:
        raise StageInputError(f"stage {stage!r}: temperature = {knobs.temperature} with k = {knobs.k}; rollouts "
                              f"1..k-1 need a temperature > 0 (the paper uses 0.6)")


def play_k(tasks: list, policy, cfg, knobs: Config, store, label: str) -> int:
    """Rollout 0 of every task greedily, then rollouts 1..k-1 at knobs.temperature; skips stored ones."""
    done = store.done_keys()
    greedy = [(task, 0) for task in tasks if (task.id, policy.name, 0) not in done]
    sampled = [(task, r) for task in tasks for r in range(1, knobs.k) if (task.id, policy.name, r) not in done]
    if len(greedy) + len(sampled) < len(tasks) * knobs.k:
        log.info("%s: %d of %d episodes already in %s", label, len(tasks) * knobs.k - len(greedy) - len(sampled),
                 len(tasks) * knobs.k, store.path)
    if greedy or sampled:
        with open_sandbox(cfg, dataset_dirs(cfg, "test")) as backend:
            for jobs, temperature in ((greedy, 0.0), (sampled, knobs.temperature)):
                if jobs:
                    play_episodes(jobs, policy, backend, episode_settings(cfg), store, temperature=temperature,
                                  max_new_tokens=knobs.max_new_tokens, batch_size=knobs.batch_size,
                                  step_workers=knobs.step_workers, desc=f"evaluate {label} T={temperature}")
    return len(greedy) + len(sampled)


def verifier_scores(path: str | None, trajectories: list, store_path: Path, knobs: Config) -> dict | None:
    if path is None:
        return None
    from verifier.score import write_scores
    from verifier.scoring import Verifier

    scorer = Verifier.load(path, batch_size=knobs.verifier_batch_size, max_tokens=knobs.verifier_max_tokens)
    scores = scorer.score_trajectories(trajectories)
    write_scores(store_path, trajectories, scores, path)
    del scorer
    return scores


# ------------------------------------------------------------------------------------------- the stage
def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from copilot.evaluation.report import build_results, model_label, write_report
    from copilot.evaluation.success_rate import write_eval
    from copilot.run_metrics import MetricsWriter
    from copilot.sampling.trajectory_store import TrajectoryStore

    knobs: Config = stage_settings(cfg, Config)
    stage = str(cfg.stage.get("name", "evaluate"))
    check_knobs(knobs, stage)
    verifier = verifier_dir(knobs, inputs, stage)
    out_dir = Path(out_dir)
    selection = select_split(cfg, "test", knobs.split, "limit_train" if knobs.split == "train" else "limit_test")
    tasks = selection.tasks
    # The policy name keys the stored rollouts: the stage name keeps "before" and "after" rows apart.
    policy, model = make_policy_for(cfg, inputs, knobs, name=f"{knobs.policy}:{stage}")
    label = knobs.label or (model_label(model) if knobs.policy == "hf" else knobs.served_model or "expert")
    store = TrajectoryStore(out_dir / TRAJECTORIES)
    started = time.perf_counter()
    try:
        played = play_k(tasks, policy, cfg, knobs, store, label)
    finally:
        policy.close()
    wanted = {task.id for task in tasks}
    trajectories = [t for t in store if t.task_id in wanted and t.policy == policy.name and t.rollout_index < knobs.k]
    episodes_s = round(time.perf_counter() - started, 2)
    scores = verifier_scores(verifier, trajectories, store.path, knobs)
    results = build_results(trajectories, scores, k=knobs.k, label=label, model=str(model), policy=policy.name,
                            temperature=knobs.temperature, split=knobs.split, verifier=verifier,
                            wall_s=round(time.perf_counter() - started, 2), episodes_s=episodes_s,
                            episodes_run=played, coverage=selection.coverage())
    sr = {key: results[key] for key in ("success_rate", "n", "correct", "overall", "macro")}
    json_path, _ = write_eval({**sr, "model": str(model), "policy": policy.name, "label": label,
                               "split": knobs.split, "wall_s": results["wall_s"], "episodes_run": played},
                              out_dir, label)
    paths = write_report(results, out_dir)
    curve = results["curves"]["all"]
    writer = MetricsWriter(out_dir, cfg)
    writer.log({"eval/overall": results["overall"], "eval/macro": results["macro"],
                **{f"eval/{name}": rate for name, rate in results["success_rate"].items()},
                f"eval/pass@{knobs.k}": curve["pass_at_k"][-1],
                **({f"eval/best@{knobs.k}": curve["best_at_k"][-1]} if curve["best_at_k"] else {})})
    writer.close()
    log.info("stage %s: SR %s overall %.3f; pass@%d %.3f%s", stage, results["success_rate"], results["overall"],
             knobs.k, curve["pass_at_k"][-1],
             f"; best@{knobs.k} {curve['best_at_k'][-1]:.3f}" if curve["best_at_k"] else "")
    # The episodes stay in out_dir/trajectories.jsonl but are NOT an output: "trajectories" would replace the
    # training store of later stages with held-out test episodes.
    return {"eval": json_path, "results": paths["results"]}
