"""`python -m verifier.score --verifier DIR STORE [STORE ...]`: score trajectory stores, scores next to them.

    python -m verifier.score --verifier runs/verifier_demo/verifier/model runs/x/eval/trajectories.jsonl
    # -> runs/x/eval/trajectories.verifier_scores.jsonl, one line per trajectory:
    #    {"task_id", "policy", "rollout_index", "score": P(YES), "correct": reward verdict or null, "verifier"}

`load_scores(path)` reads such a file back as {(task_id, policy, rollout_index): score}. The file is written
to a temporary sibling and renamed, so an interrupted run leaves either the old file or the new one.
Exit codes: 0 done, 2 a bad argument or input (the message names it).

Simplified: every trajectory of the store is scored again on each run (no incremental scoring).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SUFFIX = ".verifier_scores.jsonl"


def scores_path(store: Path) -> Path:
    store = Path(store)
    return store.with_name(store.name.removesuffix(".jsonl") + SUFFIX)


def write_scores(store: Path, trajectories: list, scores: dict, verifier: str) -> Path:
    target = scores_path(store)
    tmp = target.with_name(target.name + ".partial")
    with open(tmp, "w", encoding="utf-8") as out:
        for t in trajectories:
            key = (t.task_id, t.policy, int(t.rollout_index))
            correct = t.reward.get("correct") if t.reward else None
            out.write(json.dumps({"task_id": key[0], "policy": key[1], "rollout_index": key[2],
                                  "score": scores[key], "correct": correct, "verifier": verifier}) + "\n")
    tmp.replace(target)
    return target


def load_scores(path: Path | str) -> dict[tuple[str, str, int], float]:
    """{(task_id, policy, rollout_index): score} from a *.verifier_scores.jsonl file (errors name the line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"verifier scores {path} do not exist; run python -m verifier.score first")
    scores = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                scores[(str(row["task_id"]), str(row["policy"]), int(row["rollout_index"]))] = float(row["score"])
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{number}: expected a JSON object with task_id, policy, rollout_index and "
                                 f"a numeric score ({type(err).__name__}: {err})") from err
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verifier.score", description=__doc__.split("\n")[0])
    parser.add_argument("--verifier", required=True, help="a saved verifier (a verifier stage's out_dir/model)")
    parser.add_argument("stores", nargs="+", type=Path, help="trajectory stores (JSONL)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32768, help="prompt cap; longer trajectories lose their middle")
    parser.add_argument("--device", default=None, help="cpu, cuda, or auto (device_map=auto); default: cuda if available")
    args = parser.parse_args(argv)

    from copilot.sampling.trajectory_store import TrajectoryStore, TrajectoryStoreError
    from verifier.scoring import Verifier, VerifierError

    try:
        stores = []
        for path in args.stores:
            if not path.is_file():
                raise VerifierError(f"trajectory store {path} does not exist")
            stores.append((path, list(TrajectoryStore(path))))
        scorer = Verifier.load(args.verifier, device=args.device, batch_size=args.batch_size,
                               max_tokens=args.max_tokens)
    except (VerifierError, TrajectoryStoreError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path, trajectories in stores:
        scores = scorer.score_trajectories(trajectories)
        target = write_scores(path, trajectories, scores, str(args.verifier))
        print(f"{path}: {len(trajectories)} trajectories scored -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
