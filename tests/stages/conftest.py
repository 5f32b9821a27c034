"""Fixtures for the training / evaluation stage tests: the tiny Qwen2, two small offline packs, the real
process sandbox, expert trajectories and the tiny model's (failing) trajectories, and a run-config builder.

Everything is built once per test session (about 10 s together on the 2-core CI machine).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
for extra in (TESTS_DIR, TESTS_DIR / "models", Path(__file__).resolve().parent):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from stage_configs import make_cfg  # noqa: E402,F401  (re-exported for the tests)
from tiny_qwen2 import build_tiny_qwen2  # noqa: E402

# The two quickest packs to build and play; the smallest sizes their generators accept.
PACK_SIZES = {"ehr_sql": (4, 2), "biostat": (4, 2)}


@pytest.fixture(scope="session")
def tiny_qwen2_dir(tmp_path_factory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny_qwen2"))


@pytest.fixture(scope="session")
def packs_dir(tmp_path_factory) -> Path:
    from copilot.tasks.packs import load_pack_module

    out = tmp_path_factory.mktemp("packs")
    for pack, (n_train, n_test) in PACK_SIZES.items():
        load_pack_module(pack).build(out, 0, n_train, n_test)
    return out


@pytest.fixture(scope="session")
def pack_dirs(packs_dir) -> list[Path]:
    return [packs_dir / pack for pack in PACK_SIZES]


@pytest.fixture(scope="session")
def sandbox_backend(tmp_path_factory):
    from reward.serve import REWARD_PRELOAD, available_modules
    from sandbox import open_backend

    with open_backend("process", preload=available_modules(REWARD_PRELOAD),
                      data_roots=[tmp_path_factory.getbasetemp()]) as backend:
        yield backend


def play(tasks, policy, backend, store_path: Path, max_new_tokens: int | None = None) -> Path:
    from copilot.agent.episode import EpisodeSettings
    from copilot.agent.rollout import run_episode
    from copilot.sampling.trajectory_store import TrajectoryStore

    settings = EpisodeSettings(max_turns=2, action_format="json")
    with TrajectoryStore(store_path) as store:
        for task in tasks:
            store.append(run_episode(task, policy, backend, settings, max_new_tokens=max_new_tokens))
    return store_path


@pytest.fixture(scope="session")
def expert_store(tmp_path_factory, pack_dirs, sandbox_backend) -> Path:
    """Expert (reference-solution) episodes on every train task of both packs: all successes."""
    import copilot.tasks
    from copilot.policies import make_policy

    tasks = [task for pack in pack_dirs for task in copilot.tasks.load(pack, "train")]
    return play(tasks, make_policy("expert", action_format="json"), sandbox_backend,
                tmp_path_factory.mktemp("expert") / "trajectories.jsonl")


@pytest.fixture(scope="session")
def mixed_store(tmp_path_factory, pack_dirs, sandbox_backend, expert_store, tiny_qwen2_dir) -> Path:
    """The expert's episodes plus the tiny random model's (failing) episodes on the same tasks."""
    import copilot.tasks
    from copilot.policies.hf_local_policy import HFLocalPolicy

    path = tmp_path_factory.mktemp("mixed") / "trajectories.jsonl"
    path.write_bytes(expert_store.read_bytes())
    tasks = [task for pack in pack_dirs for task in copilot.tasks.load(pack, "train")]
    policy = HFLocalPolicy(tiny_qwen2_dir, max_new_tokens=24, name="tiny")
    return play(tasks, policy, sandbox_backend, path, max_new_tokens=24)
