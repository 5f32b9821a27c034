"""Host side of the warm worker pool: start workers, hand each request to an idle one, replace dead ones.

Each worker is one `isolated_worker` process (inside its own bubblewrap unless isolation is "none") that
serves one request at a time over a pair of pipes. Callers on any thread call `execute(request)`; it blocks
until a worker is idle (bounded: `workers` executions run at once, the rest wait in the caller's thread).

Health: a worker whose process has exited, or whose pipe breaks / reaches end of stream, is discarded and a
new one started in its place. When the pipe breaks before a reply, the request is retried once on the new
worker (the snippet cannot kill its worker: it runs under another uid in a nested PID namespace, so a dead
worker means something outside killed it); a second failure is returned as status "killed".

Data roots: workers see the host directories listed in `data_roots` (bound at start). `require_roots` adds
new ones; workers started before that are recycled (stopped and replaced) the next time they are handed
out, so sessions never wait for a mount that their worker cannot see.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sandbox.isolated_worker import read_frame, write_frame

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
# Every worker process is started from one long-lived thread (`_spawner()`). Why: bubblewrap's
# --die-with-parent (the kernel's parent-death signal) fires when the *thread* that started it ends, so a
# worker started (or replaced, e.g. after new data roots) from a short-lived caller thread was SIGKILLed as
# soon as that thread finished, and replaced again on its next use. The thread lives until the interpreter
# exits; a forked copy of this process (which has the executor but not its thread) makes its own.
_spawner_executor: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _spawner() -> ThreadPoolExecutor:
    global _spawner_executor
    with _spawner_lock:
        if _spawner_executor is None:
            _spawner_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")
        return _spawner_executor


def _forget_spawner_after_fork() -> None:
    """In a forked child: the parent's spawner thread does not exist here, and its lock may have been held."""
    global _spawner_executor, _spawner_lock
    _spawner_executor = None
    _spawner_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_spawner_after_fork)


class WorkerDied(RuntimeError):
    """The worker process ended or its pipe broke."""


class WorkerStartError(RuntimeError):
    """A worker could not start; the message holds its stderr."""


class WorkerProcess:
    """One running worker and its host channel."""

    def __init__(self, argv: list[str], env: dict[str, str] | None, generation: int, log_path: Path):
        self.generation = generation
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env,
            close_fds=True, start_new_session=True, umask=0o022,
        )
        self.to_worker = self.proc.stdin.fileno()
        self.from_worker = self.proc.stdout.fileno()
        self.info: dict = {}

    def wait_ready(self) -> dict:
        reply = read_frame(self.from_worker)  # the worker's first frame, once its imports are done
        if reply is None or not reply.get("ready"):
            self.proc.wait(timeout=10)
            raise WorkerStartError(self.tail_log())
        self.info = reply
        return reply

    def tail_log(self, limit: int = 4000) -> str:
        self._log.flush()
        try:
            return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace").strip()
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, request: dict) -> dict:
        try:
            write_frame(self.to_worker, request)
            reply = read_frame(self.from_worker)
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise WorkerDied(f"worker {self.pid}: {exc}") from exc
        if reply is None:
            raise WorkerDied(f"worker {self.pid} ended its output (exit code {self.proc.poll()})")
        return reply

    def stop(self) -> None:
        if self.alive():
            try:
                write_frame(self.to_worker, {"op": "stop"})
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.alive():
            # bwrap runs in its own session; its sandboxed child dies with it (--die-with-parent).
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._log.close()


class WorkerPool:
    """`workers` warm workers; `execute` is thread-safe."""

    def __init__(self, size: int, make_argv, env: dict[str, str] | None, log_dir: Path, wait: bool = True):
        """Starts `size` workers; with wait=False the caller calls `wait_started()` (to overlap several pools'
        start-ups). Any thread may build a pool: the processes are started by the spawner thread (`_spawner`)."""
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"workers: expected an integer >= 1, got {size!r}")
        self.size = size
        self._make_argv = make_argv  # () -> argv for the current data roots
        self._env = env
        self._log_dir = log_dir
        self._generation = 0
        self._lock = threading.Lock()
        self._idle: queue.Queue[WorkerProcess | None] = queue.Queue()
        self._all: list[WorkerProcess] = []
        self._closed = False
        self.replaced = 0
        self._starting = [self._spawn() for _ in range(size)]  # start all first so that their imports overlap
        if wait:
            self.wait_started()

    def wait_started(self) -> None:
        """Wait for the workers started by the constructor; stops them all if one fails (WorkerStartError)."""
        started, self._starting = self._starting, []
        try:
            for worker in started:
                worker.wait_ready()
        except BaseException:
            for worker in started:
                worker.stop()
            raise
        for worker in started:
            self._idle.put(worker)

    def _spawn(self) -> WorkerProcess:
        with self._lock:
            index = len(self._all) + self.replaced
            # Started by the spawner thread, not the caller's: see _spawner.
            worker = _spawner().submit(WorkerProcess, self._make_argv(), self._env, self._generation,
                                     self._log_dir / f"worker-{index}.log").result()
            self._all.append(worker)
        return worker

    def _replace(self, worker: WorkerProcess, why: str) -> WorkerProcess:
        log.warning("sandbox worker %s replaced: %s", worker.pid, why)
        worker.stop()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            self.replaced += 1
        fresh = self._spawn()
        try:
            fresh.wait_ready()
        except BaseException:
            with self._lock:
                self._all.remove(fresh)
            fresh.stop()
            raise
        return fresh

    def new_generation(self) -> None:
        """Workers started before this call get recycled when next handed out (new data roots)."""
        with self._lock:
            self._generation += 1

    def worker_pids(self) -> list[int]:
        """Host PIDs of the worker processes (the bwrap processes when isolated)."""
        with self._lock:
            return [w.pid for w in self._all]

    def execute(self, request: dict) -> dict:
        if self._closed:
            raise RuntimeError("the sandbox worker pool is closed")
        worker = self._idle.get()
        if worker is None:  # close() woke us up
            self._idle.put(None)
            raise RuntimeError("the sandbox worker pool is closed")
        try:
            if worker.generation < self._generation:
                worker = self._replace(worker, "data roots changed")
            elif not worker.alive():
                worker = self._replace(worker, f"process exited with {worker.proc.poll()}")
            try:
                return worker.call(request)
            except WorkerDied as first:
                worker = self._replace(worker, str(first))
                try:
                    return worker.call(request)
                except WorkerDied as second:
                    worker = self._replace(worker, str(second))
                    return _worker_failure(f"the sandbox worker died twice running this request: {second}")
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
        self._idle.put(None)


def _worker_failure(message: str) -> dict:
    return {"status": "killed", "stdout": "", "stderr": message, "exit_code": None, "wall_s": 0.0,
            "stdout_truncated": False, "stderr_truncated": False, "has_answer": False, "answer": None,
            "answer_is_repr": False, "detail": {"sandbox_error": message}}


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """True once `pid` has exited (gone, or a zombie its parent has not reaped yet)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.01)
    return False
