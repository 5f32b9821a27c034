"""An append-only JSONL store of trajectories: one line per `Trajectory`, durable line by line.

    store = TrajectoryStore("runs/sample/trajectories.jsonl")
    store.append(trajectory)                 # one write + fsync; returns once the line is on disk
    done = store.done_keys()                 # {(task_id, policy, rollout_index), ...}
    for trajectory in store: ...

Each line is `Trajectory.to_dict()` (task id and dataset, policy, rollout index, messages, actions,
executions, final answer, reward, tokens, timings, meta) as one JSON object. A record is committed when its
terminating newline is on disk.

Durability and concurrency are `copilot.durable_jsonl.DurableJsonl`'s: one locked `O_APPEND` write + fsync
per record, so a `kill -9` loses at most the record being written; a torn final line is repaired (truncated,
with a warning) when the store is opened; a malformed line anywhere else is an error naming file:line.
Several processes (or threads) may append at once; readers see only complete lines.

Not protected against: a file system that loses fsync'd data (power loss on a lying disk), edits of the
file by other tools while a writer runs, NFS (where `flock` is not reliable), or two independent samplers
choosing to run the same key at the same time (the sampler owns deduplication: it skips `done_keys()` and
runs each pending key once; `duplicate_keys()` reports any duplicates already in a file).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from copilot.agent.trajectory import Trajectory
from copilot.durable_jsonl import DurableJsonl, DurableJsonlError

TrajectoryKey = tuple[str, str, int]


class TrajectoryStoreError(DurableJsonlError):
    """The store file is malformed (the message names file:line and what was wrong)."""


def trajectory_key(trajectory: Trajectory | dict[str, Any]) -> TrajectoryKey:
    """The identity of a rollout: (task_id, policy, rollout_index)."""
    if isinstance(trajectory, Trajectory):
        return (trajectory.task_id, trajectory.policy, int(trajectory.rollout_index))
    return (trajectory["task_id"], trajectory["policy"], int(trajectory["rollout_index"]))


class TrajectoryStore(DurableJsonl):
    """One JSONL file of trajectories; see the module docstring for the durability guarantees."""

    kind = "trajectory store"
    record_name = "a trajectory record"
    error = TrajectoryStoreError

    def check_record(self, record: dict[str, Any]) -> None:
        Trajectory.from_dict(record)
        trajectory_key(record)

    def describe(self, record: dict[str, Any]) -> str:
        return f"trajectory {trajectory_key(record)}"

    def append(self, trajectory: Trajectory | dict[str, Any]) -> None:
        """Write one record durably (one locked write, then fsync)."""
        self.append_record(trajectory.to_dict() if isinstance(trajectory, Trajectory) else dict(trajectory))

    def __iter__(self) -> Iterator[Trajectory]:
        for record in self.records():
            yield Trajectory.from_dict(record)

    def __len__(self) -> int:
        return sum(1 for _ in self.records())

    def done_keys(self) -> set[TrajectoryKey]:
        return {trajectory_key(record) for record in self.records()}

    def duplicate_keys(self) -> dict[TrajectoryKey, int]:
        counts = Counter(trajectory_key(record) for record in self.records())
        return {key: n for key, n in counts.items() if n > 1}
