"""The process backend for real: bubblewrap workers, sessions, mounts, limits, statuses, worker recovery."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from sandbox import ExecStatus, SandboxUnavailableError, SessionClosedError, open_backend
from sandbox.process_backend import ProcessBackend
from sandbox.worker_pool import wait_for_exit

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0,
                                reason="needs bubblewrap and root (make setup)")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("taskdata")
    os.chmod(root, 0o755)
    (root / "admissions.csv").write_text("id,age\n1,40\n2,60\n")
    db = root / "mimic.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (x integer)")
        conn.executemany("insert into t values (?)", [(i,) for i in range(10)])
    tables = root / "tables"
    tables.mkdir()
    (tables / "a.txt").write_text("alpha")
    for path in (db, tables / "a.txt"):
        os.chmod(path, 0o644)
    os.chmod(root / "admissions.csv", 0o666)  # writable by anyone on the host: only the mount stops writes
    os.chmod(tables, 0o755)
    return root


@pytest.fixture(scope="module")
def backend(data_dir):
    with open_backend("process", workers=2, data_roots=[data_dir]) as b:
        yield b


def test_open_backend_process_runs_python_and_captures_answer(backend):
    assert isinstance(backend, ProcessBackend)
    with backend.open_session() as session:
        result = session.run_python(
            "import pandas as pd\nprint('hello')\nimport sys; print('warn', file=sys.stderr)\n"
            "answer = int(pd.DataFrame({'x': range(1000)})['x'].sum())"
        )
    assert result.status is ExecStatus.OK, result.stderr
    assert (result.stdout, result.stderr, result.exit_code) == ("hello\n", "warn\n", 0)
    assert result.has_answer and result.answer == 499500 and not result.answer_is_repr
    assert result.detail["isolation"] == "bwrap"
    assert 0 < result.wall_s < 5


def test_answer_kinds_none_repr_and_missing(backend):
    with backend.open_session() as s:
        assert s.run_python("x = 1").has_answer is False
        none = s.run_python("answer = None")
        assert none.has_answer and none.answer is None
        odd = s.run_python("answer = object()")
        assert odd.answer_is_repr and odd.answer.startswith("<object object")
        after_error = s.run_python("answer = 5\nraise ValueError('late')")
        assert after_error.status is ExecStatus.ERROR and after_error.answer == 5
        assert "ValueError: late" in after_error.stderr


def test_files_persist_within_a_session_not_across_and_close_deletes(backend):
    first = backend.open_session()
    assert first.run_python("open('notes.txt', 'w').write('kept')").ok
    read_back = first.run_shell("cat /work/notes.txt && pwd")
    assert read_back.ok and read_back.stdout == "kept/work\n"
    host_dir = first.host_dir
    assert (host_dir / "notes.txt").read_text() == "kept"
    with backend.open_session() as second:
        other = second.run_python("import os; answer = sorted(os.listdir('.'))")
        assert other.answer == []
    first.close()
    assert not host_dir.exists()
    with pytest.raises(SessionClosedError):
        first.run_python("answer = 1")


def test_mounts_are_visible_read_only_at_data(backend, data_dir):
    mounts = {"admissions.csv": data_dir / "admissions.csv", "db": data_dir / "mimic.sqlite",
              "tables": data_dir / "tables"}
    with backend.open_session(mounts) as s:
        r = s.run_python(
            "import pandas as pd, sqlite3, os\n"
            "df = pd.read_csv('/data/admissions.csv')\n"
            "n = sqlite3.connect('file:/data/db?mode=ro', uri=True).execute('select count(*) from t').fetchone()[0]\n"
            "answer = [int(df.age.sum()), n, open('/data/tables/a.txt').read(), sorted(os.listdir('/data'))]"
        )
        assert r.ok, r.stderr
        assert r.answer == [100, 10, "alpha", ["admissions.csv", "db", "tables"]]
        write = s.run_shell("echo x >> /data/admissions.csv")
        assert write.status is ExecStatus.ERROR and "Read-only file system" in write.stderr
    assert (data_dir / "admissions.csv").read_text() == "id,age\n1,40\n2,60\n"


def test_run_shell_uses_bash_and_sandbox_python(backend):
    with backend.open_session() as s:
        r = s.run_shell("echo $0; [[ 1 == 1 ]] && echo bash-ok; python -c 'import pandas; print(pandas.__name__)'")
    assert r.ok, r.stderr
    assert r.stdout.splitlines() == ["/bin/bash", "bash-ok", "pandas"]
    assert r.has_answer is False


def test_statuses_error_timeout_memory(backend):
    with backend.open_session() as s:
        err = s.run_python("1/0")
        assert err.status is ExecStatus.ERROR and err.exit_code == 1 and "ZeroDivisionError" in err.stderr
        exit3 = s.run_shell("exit 3")
        assert exit3.status is ExecStatus.ERROR and exit3.exit_code == 3
        slow = s.run_python("import time; time.sleep(30)", timeout_s=0.5)
        assert slow.status is ExecStatus.TIMEOUT and slow.wall_s < 3
        assert "timeout" in slow.detail["reason"]
        mem = s.run_python("x = bytearray(4 * 1024**3)", memory_mb=256)
        assert mem.status is ExecStatus.MEMORY, (mem.status, mem.stderr)
        assert s.run_python("answer = 'still fine'").answer == "still fine"


def test_output_caps_set_truncation_flags(backend):
    with backend.open_session() as s:
        r = s.run_python("import sys\nprint('a' * 5000)\nsys.stderr.write('b' * 5000)", max_output_bytes=1000)
    assert r.ok
    assert r.stdout == "a" * 1000 and r.stdout_truncated
    assert r.stderr == "b" * 1000 and r.stderr_truncated


def test_stdin_reaches_the_code(backend):
    with backend.open_session() as s:
        r = s.run(__import__("sandbox").ExecRequest(code="import sys; answer = sys.stdin.read()", stdin="in put"))
    assert r.answer == "in put"


def test_killed_worker_is_replaced_and_pool_stays_healthy(backend):
    full_victim, light_victim = backend.pools["full"].worker_pids()[0], backend.pools["light"].worker_pids()[0]
    count = len(backend.worker_pids())
    for victim in (full_victim, light_victim):
        os.kill(victim, signal.SIGKILL)
        assert wait_for_exit(victim, 10)
    with backend.open_session() as s:
        # Six of each tier: through both workers of each (a scipy import goes to the full tier).
        results = [s.run_python(f"import pandas\nanswer = {i}") for i in range(6)]
        results += [s.run_python(f"import scipy\nanswer = {i}") for i in range(6, 12)]
    assert [r.answer for r in results] == list(range(12)), [r.detail for r in results]
    assert [r.detail["worker_tier"] for r in results] == ["light"] * 6 + ["full"] * 6
    pids = backend.worker_pids()
    assert full_victim not in pids and light_victim not in pids and len(pids) == count == 6


def test_mount_outside_data_roots_recycles_workers(backend, tmp_path):
    os.chmod(tmp_path, 0o755)
    extra = tmp_path / "extra.txt"
    extra.write_text("new root")
    os.chmod(extra, 0o644)
    before = set(backend.worker_pids())
    with backend.open_session({"extra": extra}) as s:
        r = s.run_python("answer = open('/data/extra').read()")
    assert r.answer == "new root", r.stderr
    assert set(backend.worker_pids()) != before  # at least the worker that ran it was restarted


def test_bad_mounts_are_clear_errors(backend, tmp_path):
    with pytest.raises(ValueError, match="single path segment"):
        backend.open_session({"a/b": tmp_path})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        backend.open_session({"x": tmp_path / "missing"})
    private = tmp_path / "private.txt"
    private.write_text("s")
    os.chmod(private, 0o600)
    with pytest.raises(PermissionError, match="chmod o\\+rX"):
        backend.open_session({"p": private})


def test_missing_bwrap_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        ProcessBackend(workers=1)


def test_unisolated_mode_says_so_on_every_run(caplog, tmp_path):
    (tmp_path / "d.txt").write_text("unisolated data")
    with ProcessBackend(workers=1, isolation="none", preload=("json",)) as b, b.open_session(
            {"d": tmp_path / "d.txt"}) as s:
        with caplog.at_level(logging.WARNING, logger="sandbox.process_backend"):
            first = s.run_python("answer = open('data/d').read()")
            second = s.run_shell("echo hi")
    assert first.answer == "unisolated data" and second.stdout == "hi\n"
    assert first.detail["isolation"] == "none" and second.detail["isolation"] == "none"
    warnings = [r for r in caplog.records if "UNISOLATED" in r.getMessage()]
    assert len(warnings) == 2


def test_failing_preload_stops_the_backend_with_the_module_name():
    with pytest.raises(ValueError, match="no_such_module_xyz"):
        ProcessBackend(workers=1, preload=("no_such_module_xyz",))


def test_concurrent_sessions_from_threads(backend):
    from concurrent.futures import ThreadPoolExecutor

    def episode(i: int) -> list:
        with backend.open_session() as s:
            s.run_python(f"open('n', 'w').write('{i}')")
            return [s.run_python("answer = int(open('n').read())").answer for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(episode, range(8))) == [[i] * 3 for i in range(8)]


KILLED_OWNER = """
import os, sys
sys.path.insert(0, {repo!r})
from sandbox.process_backend import ProcessBackend
backend = ProcessBackend(workers=1, preload=())
assert backend.open_session().run_python("open('f', 'w').write('x')").ok
print(backend._state_dir, flush=True)
os.kill(os.getpid(), 9)
"""


def test_state_dirs_are_removed_on_close_and_after_a_killed_owner(tmp_path):
    import subprocess
    import sys

    from sandbox.process_backend import OWNER_FILE

    backend = ProcessBackend(workers=1, preload=())
    own = backend._state_dir
    assert (own / OWNER_FILE).read_text().split()[0] == str(os.getpid())
    backend.close()
    assert not own.exists()
    # A SIGKILLed owner cannot clean up: its directory stays until the next backend starts.
    repo = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", KILLED_OWNER.format(repo=repo)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    stale = Path(proc.stdout.strip())
    assert (stale / "sessions").is_dir()
    unowned = Path(__import__("tempfile").mkdtemp(prefix="medcopilot-sandbox-"))  # no owner file: left alone
    try:
        with ProcessBackend(workers=1, preload=()) as fresh:
            assert fresh._state_dir.exists()
            assert not stale.exists()
            assert unowned.exists()
    finally:
        shutil.rmtree(unowned, ignore_errors=True)


def test_worker_replaced_from_a_short_lived_thread_outlives_it():
    """bubblewrap's parent-death signal follows the thread that started a worker: replacements are started by
    the pool's spawner thread, so one made while serving a caller's thread survives that thread's end."""
    import threading

    with ProcessBackend(workers=1, light_preload=None, stdlib_preload=None, preload=()) as b, \
            b.open_session() as s:
        victim = b.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        assert wait_for_exit(victim, 10)
        results = []
        caller = threading.Thread(target=lambda: results.append(s.run_python("answer = 1")))
        caller.start()
        caller.join()
        assert results[0].answer == 1
        [replacement] = b.worker_pids()
        assert replacement != victim and b.pool.replaced == 1
        assert not wait_for_exit(replacement, 1.0), "the replacement died with the thread that asked for it"
        assert s.run_python("answer = 2").answer == 2
        assert b.worker_pids() == [replacement] and b.pool.replaced == 1


def test_a_forked_copy_of_the_host_process_starts_its_own_workers():
    """The spawner thread does not survive a fork: a forked process (e.g. a fork-based worker pool of the
    trainer) that opens a backend gets a spawner of its own instead of waiting forever on the parent's."""
    with ProcessBackend(workers=1, preload=()) as parent_backend:  # the parent's spawner thread exists now
        assert parent_backend.open_session().run_python("answer = 1").answer == 1
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if a fresh backend works here
            code = 1
            try:
                with ProcessBackend(workers=1, preload=()) as child_backend, child_backend.open_session() as s:
                    code = 0 if s.run_python("answer = 2").answer == 2 else 1
            finally:
                os._exit(code)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked process hung opening a backend")
            time.sleep(0.1)
        assert os.waitstatus_to_exitcode(status) == 0
