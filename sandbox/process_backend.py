"""The process backend (the default): bubblewrap namespaces plus a warm, forking worker pool.

    from sandbox import open_backend
    with open_backend("process", workers=2) as backend:
        with backend.open_session({"db": Path("data/offline/ehr_sql/mimic.sqlite")}) as session:
            result = session.run_python("import sqlite3\nanswer = sqlite3.connect('/data/db').execute('select 1').fetchone()")

Options (constructor keywords):
- workers=2: warm workers, i.e. executions that run at once; more requests wait for an idle worker.
- preload=DEFAULT_PRELOAD (numpy, pandas, scipy, sklearn and its common estimator modules, sqlite3): modules
  every worker imports once, so that a snippet's `import pandas` costs nothing; a module that fails to import
  stops the backend with its error. Add what your tasks use (e.g. "statsmodels.api": ~0.8 s per execution
  that imports it otherwise) at the price of a larger full tier (each fork of it costs more).
- light_preload=("numpy", "pandas", "sqlite3"), stdlib_preload=preload_tiers.DEFAULT_STDLIB_PRELOAD: worker
  tiers. Besides the workers of `preload` ("full"), `workers` "light" workers pre-import only light_preload
  and `workers` "stdlib" workers only those standard-library modules; each Python execution runs in the
  smallest tier that pre-imported every module its code imports, shell commands in the smallest: a fork of
  a smaller worker is cheaper (`benchmarks/sandbox_tiers.py`, concurrency 2 on the development VM: the pandas
  snippet 1.3x, `answer = 1 + 1` 2.3x, a shell command 2.1x the executions per second of one full tier).
  result.detail["worker_tier"] says which ran it. None turns a tier off; a
  tier that would not be lighter than the next is not started. At most `workers` executions run at once
  across all tiers.
- isolation="bwrap" | "none": "none" runs children directly on the host with only resource limits and a
  timeout; it logs a warning on every execution and sets result.detail["isolation"] = "none".
- data_roots=(): host directories workers can mount from. A session mount outside them adds a new root (the
  mounted directory itself, or a mounted file's directory) and recycles the workers (each is replaced when
  next used, ~1-2 s), so that any path works; pass the roots up front (e.g. the dataset directory) to avoid
  recycling during a run. Workers see whole roots; each child sees only its own session's mounts.
- sessions_dir=None: where session working directories live on the host (default: a private temp dir).
- nproc=64, nofile=256, fsize_mb=256, tmp_mb=256: per-execution limits on processes (threads count too),
  open files, the size of any one written file, and the size of the private /tmp and /dev/shm.
- uid_base=3_000_000: each session runs as its own unprivileged uid in [uid_base, uid_base + 100000).
- warmup=DEFAULT_WARMUP: code each worker runs once after the preload (first uses of pandas / numpy / sqlite3),
  so that children do not each pay for lazy imports and cache fills; None to skip.
- huge_pages=True: back each worker's pre-imported heap with 2 MiB pages so forks copy (and exits free) fewer
  page-table entries: the worker runs with GLIBC_TUNABLES glibc.malloc.hugetlb=1 (its Python objects come
  from glibc's heap in any case, see `bwrap_command.worker_malloc_env`, and glibc then marks that heap
  MADV_HUGEPAGE: ~100 of ~112 MB anonymous memory in huge pages, against ~50 MB with Python's own allocator)
  and then collapses what is left (MADV_COLLAPSE).
  Best effort, harmless where unsupported (THP "never", old kernels). Measured (same run, A/B): a bare
  fork + exit of the warm worker 7.3 -> 4.4 ms, and ~20-25% less CPU per execution.
- prefork=True: each worker forks the next execution's child while idle (it waits for its request on a pipe),
  taking the fork (~2 ms) off the request's critical path: lower latency when cores are free, no change in
  CPU per execution.

Each session: a host directory (owned by its uid, mode 0700) bound at /work, its mounts at /data/<name>
read-only. Mounted files must be readable by others (mode o+r): the snippet is not root (a clear error
names the file otherwise). What is isolated and what is not: see `bwrap_command` and `child_isolation`.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import uuid
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox import bwrap_command, preload_tiers
from sandbox.backend import Backend, SandboxUnavailableError
from sandbox.execution import ExecRequest, ExecResult, ExecStatus
from sandbox.session import Session
from sandbox.worker_pool import WorkerPool, WorkerStartError

log = logging.getLogger(__name__)

# scikit-learn's package imports none of its estimators: without its submodules a snippet's
# `from sklearn.linear_model import ...` cost 60-360 ms each in the child (measured here), ~5x the execution.
SKLEARN_SUBMODULES = tuple(f"sklearn.{name}" for name in (
    "linear_model", "model_selection", "metrics", "preprocessing", "ensemble", "tree", "cluster", "decomposition",
    "impute", "pipeline"))
DEFAULT_PRELOAD = ("numpy", "pandas", "scipy", "sklearn", "sqlite3") + SKLEARN_SUBMODULES
# Run once in each worker after the preload: the first DataFrame, CSV read or query pulls in lazy imports and
# fills caches; done here, no child pays for it again (measured: the pandas snippet's own time roughly halves).
DEFAULT_WARMUP = """
import sys
if "numpy" in sys.modules:
    import numpy as np
    np.linalg.solve(np.eye(3), np.arange(3.0)); np.random.default_rng(0).normal(size=10).mean()
if "pandas" in sys.modules:
    import io
    import pandas as pd
    df = pd.DataFrame({"x": range(1000), "y": [0.5] * 1000, "s": ["a", "b"] * 500})
    int(df["x"].sum()); df.describe(); df.groupby("s")["y"].mean(); df.sort_values("x").head().to_dict()
    pd.read_csv(io.StringIO("a,b\\n1,2\\n")); df.merge(df, on="x").shape; str(df.head())
if "sqlite3" in sys.modules:
    import sqlite3
    sqlite3.connect(":memory:").execute("select 1").fetchall()
"""
STATE_DIR_PREFIX = "medcopilot-sandbox-"
OWNER_FILE = "owner"  # "<pid> <start time>" of the process that made the directory, see remove_stale_state_dirs
INSTALL_HINT = "install it with `apt-get install bubblewrap` (or `make setup`)"
UID_SPAN = 100_000


def _check_mount_name(name: object) -> str:
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name
            or len(name) > 200):
        raise ValueError(f"mount name {name!r}: expected a single path segment (no '/', not '.' or '..')")
    return name


class ProcessSession(Session):
    """A session of the process backend: a private host directory plus its read-only mounts."""

    def __init__(self, backend: "ProcessBackend", session_id: str, mounts: Mapping[str, Path], uid: int,
                 host_dir: Path, mount_plan: list[list]):
        super().__init__(session_id, mounts)
        self._backend = backend
        self.uid = uid
        self.host_dir = host_dir
        self._mount_plan = mount_plan

    def _execute(self, request: ExecRequest) -> ExecResult:
        return self._backend._run(self, request)

    def _release(self) -> None:
        self._backend._sessions.pop(self.session_id, None)
        shutil.rmtree(self.host_dir, ignore_errors=True)


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, workers: int = 2, preload: Sequence[str] = DEFAULT_PRELOAD, isolation: str = "bwrap",
                 data_roots: Sequence[str | Path] = (), sessions_dir: str | Path | None = None,
                 nproc: int = 64, nofile: int = 256, fsize_mb: int = 256, tmp_mb: int = 256,
                 uid_base: int = 3_000_000, huge_pages: bool = True,
                 warmup: str | None = DEFAULT_WARMUP, prefork: bool = True,
                 light_preload: Sequence[str] | None = preload_tiers.DEFAULT_LIGHT_PRELOAD,
                 stdlib_preload: Sequence[str] | None = preload_tiers.DEFAULT_STDLIB_PRELOAD):
        if isolation not in ("bwrap", "none"):
            raise ValueError(f"isolation: {isolation!r} is unknown; expected 'bwrap' or 'none'")
        self.isolation = isolation
        self.isolated = isolation == "bwrap"
        self.limits = {"nproc": int(nproc), "nofile": int(nofile), "fsize_mb": int(fsize_mb), "tmp_mb": int(tmp_mb)}
        self.preload = [str(m) for m in preload]
        self.tiers = preload_tiers.plan_tiers(self.preload, light_preload, stdlib_preload)
        self.uid_base = int(uid_base)
        self.huge_pages = bool(huge_pages)
        self.prefork = bool(prefork)
        self.warmup = warmup or ""
        if self.isolated:
            self._check_bwrap()
        remove_stale_state_dirs()
        self._state_dir = Path(tempfile.mkdtemp(prefix=STATE_DIR_PREFIX))
        os.chmod(self._state_dir, 0o711)
        (self._state_dir / OWNER_FILE).write_text(_process_identity(os.getpid()) or "")
        self.sessions_root = Path(sessions_dir).resolve() if sessions_dir else self._state_dir / "sessions"
        self.sessions_root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.sessions_root, 0o711)
        self._runtime_dir = self._state_dir / "runtime"
        self._runtime_dir.mkdir()
        bwrap_command.prepare_runtime(self._runtime_dir, self.isolated)
        self._log_dir = self._state_dir / "logs"
        self._log_dir.mkdir()
        self.data_roots: list[Path] = []
        for root in data_roots:
            path = Path(root).resolve()
            if not path.is_dir():
                raise ValueError(f"data_roots: {root} is not a directory")
            self.data_roots.append(path)
        self._roots_lock = threading.Lock()
        self._uids = itertools.count()
        self._sessions: dict[str, ProcessSession] = {}
        self._closed = False
        env = None
        if not self.isolated:  # bwrap clears the environment itself; without it, do it here
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **bwrap_command.THREAD_ENV, **self._worker_env()}
        try:
            self.pools = self._start_pools(workers, env)  # checks `workers` too
        except WorkerStartError as exc:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            if self.isolated:
                raise SandboxUnavailableError(
                    f"bubblewrap could not start a sandbox worker: {exc}\n"
                    "It needs root (or a container run with --privileged / CAP_SYS_ADMIN) to create namespaces "
                    "and switch uids. Alternatives: the docker backend, or isolation='none' (NOT isolated)."
                ) from exc
            raise RuntimeError(f"sandbox worker failed to start: {exc}") from exc
        self._slots = threading.BoundedSemaphore(workers)  # at most `workers` executions at once, all tiers
        # A backend that is never closed still stops its workers and removes its files at interpreter exit.
        self._finalizer = weakref.finalize(self, _release_resources, self._pools(), self._state_dir)
        bad_imports = self.pool_info().get("import_errors") or {}
        if bad_imports:
            self.close()
            raise ValueError(f"preload / warmup failed in the sandbox worker: {bad_imports}")

    # ------------------------------------------------------------------ set-up
    def _check_bwrap(self) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailableError(
                f"the process backend needs bubblewrap (`bwrap`), which is not on PATH: {INSTALL_HINT}. "
                "To run WITHOUT isolation (trusted code only) pass isolation='none'."
            )
        if os.geteuid() != 0:
            raise SandboxUnavailableError(
                "the process backend's isolation needs root: its workers switch every execution to its own "
                "unprivileged uid and build per-execution mounts. Run as root (e.g. in a container with "
                "CAP_SYS_ADMIN), use the docker backend, or pass isolation='none' (NOT isolated)."
            )
        probe = subprocess.run(
            ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/",
             "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"],
            capture_output=True, text=True, timeout=30,
        )
        if probe.returncode != 0:
            raise SandboxUnavailableError(
                f"bubblewrap is installed but cannot create namespaces here: {probe.stderr.strip()}. "
                "In a container, run it with --privileged (or CAP_SYS_ADMIN and an unconfined seccomp/AppArmor "
                "profile); on a host, check `sysctl kernel.unprivileged_userns_clone`. "
                f"If bwrap is missing parts, {INSTALL_HINT}. Or pass isolation='none' (NOT isolated)."
            )

    def _start_pools(self, workers: int, env: dict[str, str] | None) -> dict[str, WorkerPool]:
        """One pool per tier, smallest first; every worker is spawned before any is waited for, so that their
        imports overlap."""
        pools: dict[str, WorkerPool] = {}
        try:
            for tier, preload, _covered in self.tiers:
                log_dir = self._log_dir / tier
                log_dir.mkdir()
                pools[tier] = WorkerPool(workers, functools.partial(self._worker_argv, preload), env, log_dir,
                                         wait=False)
            for pool in pools.values():
                pool.wait_started()
        except BaseException:
            for pool in pools.values():
                pool.close()
            raise
        return pools

    @property
    def pool(self) -> WorkerPool:
        """The full tier's pool (the preload's own workers)."""
        return self.pools[preload_tiers.FULL]

    def _pools(self) -> list[WorkerPool]:
        return list(self.pools.values())

    def _worker_argv(self, preload: list[str]) -> list[str]:
        with self._roots_lock:
            roots = list(self.data_roots)
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        return bwrap_command.worker_argv(isolated=self.isolated, runtime_dir=self._runtime_dir,
                                         sessions_root=self.sessions_root, data_roots=roots,
                                         preload=preload, shell=shell, huge_pages=self.huge_pages,
                                         warmup=self.warmup, prefork=self.prefork,
                                         worker_env=self._worker_env())

    def _worker_env(self) -> dict[str, str]:
        return bwrap_command.worker_malloc_env(self.huge_pages)

    def pool_info(self) -> dict:
        """The ready message of one worker of each tier (pid, import errors, baseline address space)."""
        info: dict = {}
        for pool in reversed(self._pools()):  # the full pool's message wins, the light one's errors are merged
            workers = list(pool._all)
            if workers:
                errors = {**info.get("import_errors", {}), **(workers[0].info.get("import_errors") or {})}
                info = {**workers[0].info, "import_errors": errors}
        return info

    def worker_pids(self) -> list[int]:
        """Host PIDs of every worker, tier by tier (smallest first, "full" last)."""
        return [pid for pool in self._pools() for pid in pool.worker_pids()]

    # ------------------------------------------------------------------ sessions
    def _root_index(self, path: Path) -> tuple[int, str]:
        """(data root index, path relative to it), adding a new root (and recycling workers) when none covers it.

        The new root is the directory itself, or a file's parent directory (never "/"): workers bind it, the
        children still see only their own mounts.
        """
        new_root = path if path.is_dir() else path.parent
        if new_root == Path("/"):
            raise ValueError(f"mount {path}: a file directly under / cannot be mounted; put it in a directory")
        with self._roots_lock:
            for i, root in enumerate(self.data_roots):
                if path == root or root in path.parents:
                    return i, str(path.relative_to(root))
            self.data_roots.append(new_root)
            index = len(self.data_roots) - 1
        log.info("sandbox: new data root %s (workers are recycled when next used)", new_root)
        for pool in self._pools():
            pool.new_generation()
        return index, str(path.relative_to(new_root))

    def open_session(self, mounts: Mapping[str, Path] | None = None) -> Session:
        if self._closed:
            raise RuntimeError("this ProcessBackend is closed")
        mounts = dict(mounts or {})
        plan = []
        for name, raw in mounts.items():
            _check_mount_name(name)
            path = Path(raw).resolve()
            if not path.exists():
                raise FileNotFoundError(f"mount {name!r}: {raw} does not exist")
            mode = path.stat().st_mode
            if not mode & stat.S_IROTH or (path.is_dir() and not mode & stat.S_IXOTH):
                raise PermissionError(
                    f"mount {name!r}: {path} is not readable by others (mode {stat.filemode(mode)}); the "
                    "sandboxed code runs as an unprivileged user, so `chmod o+rX` it"
                )
            index, rel = self._root_index(path)
            if self.isolated:
                source = f"{bwrap_command.DATA_MOUNT}/{index}" + ("" if rel == "." else f"/{rel}")
            else:
                source = str(path)
            plan.append([name, source, path.is_dir()])
        session_id = uuid.uuid4().hex
        host_dir = self.sessions_root / session_id
        host_dir.mkdir(mode=0o700)
        uid = self.uid_base + next(self._uids) % UID_SPAN
        if self.isolated:
            os.chown(host_dir, uid, uid)
        else:
            data_dir = host_dir / "data"  # no /data without isolation: links in the session dir instead
            data_dir.mkdir()
            for name, source, _ in plan:
                (data_dir / name).symlink_to(source)
        session = ProcessSession(self, session_id, mounts, uid, host_dir, plan)
        self._sessions[session_id] = session
        return session

    def _run(self, session: ProcessSession, request: ExecRequest) -> ExecResult:
        if not self.isolated:
            log.warning("sandbox isolation='none': running code UNISOLATED on the host (session %s)",
                        session.session_id)
        session_dir = (f"{bwrap_command.SESSIONS_MOUNT}/{session.session_id}" if self.isolated
                       else str(session.host_dir))
        tier = preload_tiers.tier_for(request.language, request.code, self.tiers)
        pool = self.pools[tier]
        request_frame = {
            "op": "exec", "language": request.language, "code": request.code, "stdin": request.stdin,
            "timeout_s": float(request.timeout_s), "memory_mb": request.memory_mb,
            "max_output_bytes": request.max_output_bytes, "session_dir": session_dir,
            "mounts": session._mount_plan, "uid": session.uid, "limits": self.limits,
        }
        with self._slots:
            reply = pool.execute(request_frame)
        reply["status"] = ExecStatus(reply["status"])
        reply["detail"]["isolation"] = self.isolation
        reply["detail"]["worker_tier"] = tier
        return ExecResult(**reply)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for session in list(self._sessions.values()):
            session.close()
        self._sessions.clear()
        self._finalizer()


def _process_identity(pid: int) -> str | None:
    """"<pid> <start time in clock ticks>" of a running process, or None when it is gone (pids get reused)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return f"{pid} {stat.read().rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return None


def remove_stale_state_dirs() -> list[Path]:
    """Remove the state directories (sessions, logs, runtime) of backends whose process died without closing.

    A normal close and an interpreter exit remove a backend's directory themselves; a SIGKILLed (or crashed)
    owner cannot, so every new backend sweeps the temp directory: a directory whose owner file names a process
    that is gone (same pid with another start time counts as gone) is removed. Directories without an owner
    file (being created right now, or made by older versions) are left alone. Returns what was removed.
    Assumes the processes sharing this temp directory share this PID namespace (one host, or one container).
    """
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{STATE_DIR_PREFIX}*"):
        try:
            owner = (path / OWNER_FILE).read_text().strip()
        except OSError:
            continue
        try:
            pid = int(owner.split()[0])
        except (ValueError, IndexError):
            continue
        if _process_identity(pid) != owner:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _release_resources(pools: list[WorkerPool], state_dir: Path) -> None:
    for pool in pools:
        pool.close()
    shutil.rmtree(state_dir, ignore_errors=True)
