"""An append-only JSONL file that is durable line by line: what stores and logs of finished work build on.

    log = DurableJsonl("runs/audit/audit.jsonl")
    log.append({"task_id": "...", ...})      # one locked write + fsync; returns once the line is on disk
    for record in log.records(): ...          # committed lines only, in file order

Durability: `append` writes the whole line with a single `os.write` on an `O_APPEND` descriptor while holding
an exclusive `flock`, then `fsync`s before returning. So a `kill -9` loses at most the record being written;
what it can leave behind is a final line without its newline (a torn append). Opening the file repairs
that — under the same lock, so a live writer's line is never mistaken for a torn one — by truncating the
file at the start of the torn line, and logs a warning naming the file and byte offset. A malformed line
anywhere else is not something an interrupted append can produce, so reading it is an error naming
file:line; nothing is skipped.

Concurrency: several processes (or threads) may append to one file at once; the lock plus `O_APPEND` keeps
lines whole and never interleaved. Readers see only complete lines. Subclasses validate their records
(`check_record`) before writing and when reading.

Not protected against: a file system that loses fsync'd data (power loss on a lying disk), edits of the
file by other tools while a writer runs, NFS (where `flock` is not reliable).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class DurableJsonlError(ValueError):
    """The file is malformed (the message names file:line and what was wrong)."""


class DurableJsonl:
    """One append-only JSONL file; see the module docstring for the durability guarantees."""

    kind = "JSONL log"                      # how messages name the file
    record_name = "a record"                # how messages name one of its records
    error = DurableJsonlError               # the exception a malformed record raises

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise FileNotFoundError(f"{self.kind} {self.path} does not exist")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = None
        self._fd_pid: int | None = None
        # flock is per open file description: threads of one process share the descriptor, so they also
        # need an in-process lock to keep one record = one locked write.
        self._thread_lock = threading.Lock()
        if self.path.exists():
            self.repair_torn_tail()

    def check_record(self, record: dict[str, Any]) -> None:
        """Raise (KeyError / TypeError / ValueError) when `record` is not one of this file's records."""

    def describe(self, record: dict[str, Any]) -> str:
        """How an error message names a record."""
        return "record"

    # ----------------------------------------------------------------------------------------- writing
    def _descriptor(self) -> int:
        # A forked child must not share the parent's descriptor (and its flock); reopen per process.
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._fd_pid = os.getpid()
        return self._fd

    def append_record(self, record: dict[str, Any]) -> None:
        """Write one record durably (one locked write, then fsync)."""
        self.check_record(record)   # refuse records the reader would refuse, before they reach the disk
        try:
            line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
        except (TypeError, ValueError) as err:
            raise self.error(f"{self.describe(record)}: not JSON-serialisable for {self.path}: {err}") from err
        data = line.encode("utf-8")
        with self._thread_lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                written = os.write(fd, data)
                if written != len(data):
                    # A short write on a regular file means the disk is full (or a hard limit was hit): cut
                    # the partial line back off so the file stays well formed, then fail loudly.
                    os.ftruncate(fd, os.fstat(fd).st_size - written)
                    raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes); disk full?")
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for worker processes: they reopen the file themselves.
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._fd = None
        self._fd_pid = None
        self._thread_lock = threading.Lock()

    # ----------------------------------------------------------------------------------------- repair
    def repair_torn_tail(self) -> int | None:
        """Cut a final line that lacks its newline (an interrupted append); returns its byte offset or None."""
        with open(self.path, "r+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                size = handle.seek(0, os.SEEK_END)
                if size == 0:
                    return None
                handle.seek(size - 1)
                if handle.read(1) == b"\n":
                    return None
                offset = self._start_of_last_line(handle, size)
                log.warning("%s %s: torn final line at byte offset %d (%d bytes without a "
                            "newline, from an interrupted append); truncating the file to %d bytes",
                            self.kind, self.path, offset, size - offset, offset)
                handle.truncate(offset)
                handle.flush()
                os.fsync(handle.fileno())
                return offset
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _start_of_last_line(handle, size: int) -> int:
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
        return 0

    # ----------------------------------------------------------------------------------------- reading
    def records(self) -> Iterator[dict[str, Any]]:
        """Every committed record as a dict, in file order; a malformed line raises naming file:line."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    # A writer is mid-append (we hold no lock while reading) or the file was cut after
                    # opening: that line is not committed yet.
                    return
                where = f"{self.path}:{number}"
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise self.error(
                        f"{where}: malformed line ({err}); expected one JSON object per line. Only a torn "
                        f"FINAL line is repaired automatically; fix or remove this line by hand") from err
                if not isinstance(record, dict):
                    raise self.error(f"{where}: expected a JSON object, got {type(record).__name__}")
                try:
                    self.check_record(record)
                except (KeyError, TypeError, ValueError) as err:
                    raise self.error(f"{where}: not {self.record_name}: {err}") from err
                yield record
