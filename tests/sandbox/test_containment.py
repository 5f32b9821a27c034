"""Hostile snippets against the process backend: each must be stopped or contained, and a fresh session must
work normally right after it (so the pool survived). Every case is a real attack run in the real sandbox.

Each case is (id, language, code template, check). The template is formatted with the context `c` (host
paths, a listener's port, a secret...); the check gets (result, c) and asserts the attack failed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import time
from pathlib import Path

import pytest

from sandbox import ExecStatus
from sandbox.process_backend import ProcessBackend
from sandbox.worker_pool import wait_for_exit

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0,
                                reason="needs bubblewrap and root (make setup)")

REPO = Path(__file__).resolve().parents[2]
SECRET_ENV = "SECRET_TOKEN"


class Context:
    """Host-side facts the snippets aim at."""

    def __init__(self, tmp: Path):
        self.secret = "s3cr3t-" + secrets.token_hex(8)
        self.tmp = tmp
        self.secret_file = tmp / "host_secret.txt"
        self.secret_file.write_text(self.secret)
        os.chmod(self.secret_file, 0o644)  # readable by anyone on the host: only the sandbox view hides it
        self.data = tmp / "data"
        self.data.mkdir()
        self.data_file = self.data / "table.csv"
        self.data_file.write_text("a,b\n1,2\n")
        os.chmod(self.data_file, 0o666)  # even world-writable on the host, the mount is read-only
        os.chmod(self.data, 0o777)
        os.chmod(tmp, 0o755)
        self.repo = str(REPO)
        self.marker = "sandbox-marker-" + secrets.token_hex(6)
        self.host_pid = os.getpid()
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.tcp.settimeout(0.2)
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.udp_port = self.udp.getsockname()[1]
        self.other_session = None  # filled by the fixture

    def tcp_accepted(self) -> bool:
        try:
            conn, _ = self.tcp.accept()
        except (socket.timeout, BlockingIOError):
            return False
        conn.close()
        return True

    def udp_received(self) -> bool:
        try:
            self.udp.recvfrom(100)
        except (socket.timeout, BlockingIOError):
            return False
        return True


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Context(tmp_path_factory.mktemp("containment"))


@pytest.fixture(scope="module")
def backend(ctx):
    os.environ[SECRET_ENV] = ctx.secret  # the trainer's secret, in the host environment the pool starts from
    try:
        with ProcessBackend(workers=2, data_roots=[ctx.tmp], fsize_mb=16, tmp_mb=16, nproc=32) as b:
            other = b.open_session()
            assert other.run_python(f"open('private.txt', 'w').write({ctx.secret!r})").ok
            ctx.other_session = other
            yield b
    finally:
        os.environ.pop(SECRET_ENV, None)


def _failed_with(*errors: str):
    """Check: the snippet reports (answer) the failure and names one of `errors`."""

    def check(result, c):
        assert result.has_answer, (result.status, result.stderr)
        assert any(e in str(result.answer) for e in errors), result.answer

    return check


def _no_secret(result, c):
    blob = f"{result.stdout}{result.stderr}{result.answer}"
    assert c.secret not in blob, blob[:500]


def _try(body: str) -> str:
    """Wrap `body` so that the answer is 'OK:<value>' on success or the exception's type and message."""
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return f"try:\n{indented}\n    answer = 'OK:' + str(locals().get('value'))\nexcept BaseException as e:\n" \
           "    answer = type(e).__name__ + ': ' + str(e)\n"


def check_tcp_host(result, c):
    assert not c.tcp_accepted(), "the host listener accepted a connection from the sandbox"
    _failed_with("ConnectionRefused", "Network is unreachable", "OSError")(result, c)


def check_udp_host(result, c):
    assert not c.udp_received(), "the host UDP socket received a datagram from the sandbox"


def check_host_tmp(result, c):
    assert not Path(f"/tmp/{c.marker}").exists()


def check_repo_write(result, c):
    assert not (REPO / c.marker).exists()


def check_data_unchanged(result, c):
    assert c.data_file.read_text() == "a,b\n1,2\n"
    assert oct(c.data_file.stat().st_mode & 0o777) == oct(0o666)
    _failed_with("Read-only file system", "Errno 30", "Operation not permitted", "Permission denied")(result, c)


def check_data_file_unchanged(result, c):
    assert c.data_file.read_text() == "a,b\n1,2\n", "task data was modified"


def check_mount_refused(result, c):
    out = result.stdout.lower()
    assert "refused" in out and ("permission denied" in out or "must be superuser" in out
                                 or "only root" in out or "not permitted" in out), result.stdout


def check_other_session(result, c):
    _no_secret(result, c)
    assert c.other_session.run_python("answer = open('private.txt').read()").answer == c.secret


def check_contained_bomb(result, c):
    assert result.status in (ExecStatus.OK, ExecStatus.ERROR, ExecStatus.TIMEOUT, ExecStatus.KILLED)
    assert result.wall_s < 15
    if result.has_answer and isinstance(result.answer, int):
        assert result.answer <= 40  # nproc=32 (threads and processes of the session uid)


def check_memory(result, c):
    assert result.status is ExecStatus.MEMORY, (result.status, result.stderr[-300:])


def check_timeout(result, c):
    assert result.status is ExecStatus.TIMEOUT and result.wall_s < 5


def check_stdout_flood(result, c):
    assert result.stdout_truncated and len(result.stdout.encode()) <= 64 * 1024


def check_stderr_flood(result, c):
    assert result.stderr_truncated and len(result.stderr.encode()) <= 64 * 1024


def check_disk_fill(result, c):
    assert result.has_answer and result.answer <= 16 * 1024 * 1024, result.answer


def check_daemon(result, c):
    session_dir = Path(result.detail["_host_dir"])
    time.sleep(2.5)  # the background process planned to write at 1.5 s
    assert not (session_dir / "late.txt").exists(), "a background process outlived its execution"


def check_workers_alive(result, c):
    # judged by the follow-up execution in a fresh session (see the test body) plus the worker pids
    assert all(not wait_for_exit(pid, 0.01) for pid in c.worker_pids), "a worker died"


def check_only_own_processes(result, c):
    assert result.has_answer and result.answer <= 3, result.answer


def check_answer_is(value):
    def check(result, c):
        assert result.answer == value, (result.answer, result.stderr[-300:])

    return check


def check_caps_zero(result, c):
    assert result.answer == ["0000000000000000"] * 3, result.answer


def check_symlink(result, c):
    assert c.secret_file.read_text() == c.secret


CASES = [
    # network
    ("tcp_to_host_listener", "python", _try(
        "import socket\nsocket.create_connection(('127.0.0.1', {c.tcp_port}), timeout=2)"), check_tcp_host),
    ("tcp_outward", "python", _try("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)"),
     _failed_with("Network is unreachable", "OSError")),
    ("dns_lookup", "python", _try("import socket\nvalue = socket.getaddrinfo('pypi.org', 443)"),
     _failed_with("gaierror", "Temporary failure", "Name or service not known")),
    ("udp_outward", "python", _try(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('8.8.8.8', 53))"),
     _failed_with("Network is unreachable")),
    ("udp_to_host", "python", _try(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.sendto(b'x', ('127.0.0.1', {c.udp_port}))"), check_udp_host),
    ("only_loopback_interface", "python", "import socket\nanswer = sorted(n for _, n in socket.if_nameindex())",
     check_answer_is(["lo"])),
    # writing outside the session directory
    ("write_root", "python", _try("open('/evil', 'w').write('x')"),
     _failed_with("Permission denied", "Read-only")),
    ("write_usr", "python", _try("open('/usr/evil', 'w').write('x')"), _failed_with("Read-only", "Permission")),
    ("write_etc_passwd", "python", _try("open('/etc/passwd', 'a').write('evil::0:0::/:/bin/sh')"),
     _failed_with("Read-only", "Permission")),
    ("write_host_tmp", "python", _try("open('/tmp/{c.marker}', 'w').write('x')"), check_host_tmp),
    ("write_repo", "python", _try("open('{c.repo}/{c.marker}', 'w').write('x')"), check_repo_write),
    ("write_dev", "python", _try("open('/dev/{c.marker}', 'w').write('x')"),
     _failed_with("Permission denied", "Read-only")),
    # reading host files
    ("read_etc_shadow", "python", _try("value = open('/etc/shadow').read()"), _failed_with("No such file")),
    ("read_root_home", "python", _try("import os\nvalue = os.listdir('/root')\nassert value == ['.pyenv'], value"),
     check_answer_is("OK:['.pyenv']")),
    ("read_host_secret_file", "python", _try("value = open('{c.secret_file}').read()"), _no_secret),
    ("read_repo", "python", _try("value = open('{c.repo}/pyproject.toml').read()"),
     _failed_with("No such file")),
    ("read_other_session", "bash", "cat /sandbox/sessions/*/private.txt; ls -la /sandbox; "
     "ls /sandbox/sessions; cat /proc/*/root/sandbox/sessions/*/private.txt; true", check_other_session),
    ("env_secret", "python", "import os\nanswer = dict(os.environ)", _no_secret),
    ("proc_pid1_environ", "python", _try("value = open('/proc/1/environ').read()"), _no_secret),
    ("proc_host_process", "python", _try("value = open('/proc/{c.host_pid}/environ').read()"), _no_secret),
    ("proc_lists_only_sandbox", "python", "import os\nanswer = sum(p.isdigit() for p in os.listdir('/proc'))",
     check_only_own_processes),
    ("sys_secrets", "python", _try("value = open('/sys/class/dmi/id/product_uuid').read()"),
     _failed_with("No such file")),
    ("symlink_to_host_secret", "python", "import os\nos.symlink('{c.secret_file}', 'link')\n"
     "answer = os.path.exists('link')", check_symlink),
    # read-only task data
    ("data_write", "python", _try("open('/data/d/table.csv', 'a').write('9,9')"), check_data_unchanged),
    ("data_chmod", "python", _try("import os\nos.chmod('/data/d/table.csv', 0o600)"), check_data_unchanged),
    ("data_rename", "python", _try("import os\nos.rename('/data/d/table.csv', '/data/d/t2.csv')"),
     check_data_unchanged),
    ("data_delete", "python", _try("import os\nos.remove('/data/d/table.csv')"), check_data_unchanged),
    ("data_remount_rw", "bash", "mount -o remount,rw /data/d 2>&1; mount -o remount,rw /data 2>&1; "
     "echo 9 >> /data/d/table.csv", check_data_file_unchanged),
    # resource exhaustion
    ("fork_bomb", "python", "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
     "            time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nanswer = n",
     check_contained_bomb),
    ("bash_fork_bomb", "bash", ":(){{ :|:& }};:", check_contained_bomb),
    ("thread_bomb", "python", "import threading, time\nn = 0\ntry:\n    while True:\n"
     "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n        n += 1\n"
     "except RuntimeError:\n    pass\nanswer = n", check_contained_bomb),
    ("memory_bomb", "python", "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))",
     check_memory),
    ("cpu_spin", "python", "while True:\n    pass", check_timeout),
    ("stdout_flood", "python", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", check_timeout),
    ("stdout_flood_finite", "python", "print('y' * 20_000_000)", check_stdout_flood),
    ("stderr_flood", "python", "import sys\nsys.stderr.write('z' * 20_000_000)", check_stderr_flood),
    ("disk_fill", "python", "n = 0\ntry:\n    with open('big', 'wb') as f:\n        while True:\n"
     "            f.write(b'0' * 1048576)\n            n += 1048576\nexcept OSError:\n    pass\n"
     "import os\nanswer = os.path.getsize('big')", check_disk_fill),
    ("tmp_fill", "python", "n = 0\ntry:\n    for i in range(100):\n        with open(f'/tmp/f{{i}}', 'wb') as f:\n"
     "            f.write(b'0' * 8 * 1048576)\n        n += 8 * 1048576\nexcept OSError:\n    pass\nanswer = n",
     check_disk_fill),
    # processes that outlive the call
    ("double_fork_daemon", "python", "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
     "        time.sleep(1.5)\n        open('/work/late.txt', 'w').write('escaped')\n    os._exit(0)\nanswer = 'left'",
     check_daemon),
    ("bash_nohup_daemon", "bash", "nohup setsid sh -c 'sleep 1.5; echo escaped > /work/late.txt' >/dev/null 2>&1 &",
     check_daemon),
    # signals, ptrace, privileges
    ("kill_parent", "python", "import os, signal\nfor pid in (os.getppid(), 0, 1):\n    try:\n"
     "        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass", check_workers_alive),
    ("kill_minus_one", "bash", "kill -9 -1; echo done", check_workers_alive),
    ("kill_every_visible_pid", "python", "import os, signal\nfor p in os.listdir('/proc'):\n"
     "    if p.isdigit() and int(p) != os.getpid():\n        try:\n            os.kill(int(p), signal.SIGKILL)\n"
     "        except OSError:\n            pass\nanswer = 'done'", check_workers_alive),
    ("ptrace_host", "python", _try(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "r = libc.ptrace(16, {c.host_pid}, 0, 0)\nassert r != 0, 'attached'\n"
        "raise OSError(ctypes.get_errno(), 'ptrace failed')"), _failed_with("ptrace failed")),
    ("mount_tmpfs", "bash", "mount -t tmpfs none /work 2>&1 || echo refused", check_mount_refused),
    ("setuid_root", "python", _try("import os\nos.setuid(0)"), _failed_with("Operation not permitted")),
    ("chroot_escape", "python", _try("import os\nos.chroot('/tmp')"), _failed_with("Operation not permitted")),
    ("capabilities_are_empty", "python", "answer = [l.split()[1] for l in open('/proc/self/status')\n"
     "          if l.startswith(('CapEff', 'CapPrm', 'CapAmb'))]", check_caps_zero),
    ("user_namespace", "bash", "unshare -U -r -m sh -c 'mount -t tmpfs none /work && echo MOUNTED' 2>&1 "
     "|| echo refused: not permitted", check_mount_refused),
    ("io_uring_and_bpf", "python", "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "answer = [(libc.syscall(n, 1, 0, 0), ctypes.get_errno()) for n in (425, 321)]",
     check_answer_is([[-1, 1], [-1, 1]])),
    ("raise_rlimit", "python", _try("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))"),
     _failed_with("not allowed", "Operation not permitted", "ValueError")),
    ("hardlink_data", "python", _try("import os\nos.link('/data/d/table.csv', '/work/t.csv')"),
     _failed_with("Invalid cross-device link", "Operation not permitted", "Read-only")),
]

def _processes_of_uid(uid: int, settle_s: float) -> list[str]:
    """Host PIDs (with names) running as `uid`, after giving killed ones `settle_s` to finish exiting."""
    deadline = time.monotonic() + settle_s
    while True:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] not in ("Z", "X"):
                found.append(f"{pid} {fields['Name'].strip()}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_there_are_at_least_30_hostile_snippets():
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case_id,language,template,check", CASES, ids=[case[0] for case in CASES])
def test_hostile_snippet_is_contained(backend, ctx, case_id, language, template, check):
    ctx.worker_pids = backend.worker_pids()
    code = template.format(c=ctx)
    with backend.open_session({"d": ctx.data}) as session:
        result = session.run(__import__("sandbox").ExecRequest(
            code=code, language=language, timeout_s=2.0, memory_mb=512))
        result.detail["_host_dir"] = str(session.host_dir)
        check(result, ctx)
        leftovers = _processes_of_uid(session.uid, settle_s=3.0)
        assert not leftovers, f"processes of the session's uid outlived the call: {leftovers}"
    # The pool is healthy: a normal execution in a fresh session works right after.
    with backend.open_session() as fresh:
        after = fresh.run_python("import pandas as pd\nanswer = int(pd.Series([1, 2, 3]).sum())")
    assert after.ok and after.answer == 6, (after.status, after.stderr[-500:], after.detail)


def test_host_listener_is_reachable_from_the_host(ctx):
    """Positive control for `tcp_to_host_listener`: the same listener does accept a host connection."""
    client = socket.create_connection(("127.0.0.1", ctx.tcp_port), timeout=2)
    try:
        assert ctx.tcp_accepted()
    finally:
        client.close()


# Reads every private writable anonymous mapping and the heap of its own process (a copy of the worker) and
# counts the token, given in two halves so that the scanner itself never holds it in one piece.
MEMORY_SCAN = """
import ctypes
head, tail = {head!r}.encode(), {tail!r}.encode()
held = {hold}
CHUNK = 1 << 24    # read big mappings piecewise: one copy of a 1 GB reservation would exceed the memory limit
found = unreadable = 0
for line in open("/proc/self/maps").read().splitlines():
    parts = line.split()
    if not parts[1].startswith("rw") or (len(parts) > 5 and parts[5] != "[heap]"):
        continue
    start, end = (int(x, 16) for x in parts[0].split("-"))
    for pos in range(start, end, CHUNK):
        try:   # each chunk overlaps the next by a token's length; a match is counted where it starts
            data = ctypes.string_at(pos, min(CHUNK + len(head) + len(tail), end - pos))
        except MemoryError:
            unreadable += 1
            continue
        at = data.find(head)
        while 0 <= at < CHUNK:
            found += data[at + len(head):at + len(head) + len(tail)] == tail
            at = data.find(head, at + 1)
        del data
answer = {{"found": found, "unreadable_chunks": unreadable}}
"""


def test_earlier_executions_leave_nothing_readable_in_worker_memory():
    """Every child is a copy of its worker's memory: the code, output and answer of an earlier execution (of
    another session) must not be found in it, not even in freed heap blocks (the worker's allocator scrubs
    them, see bwrap_command.worker_malloc_env)."""
    token = "leak-" + secrets.token_hex(10)
    head, tail = token[:9], token[9:]
    with ProcessBackend(workers=1) as backend:  # one worker: the victim and the reader share it
        with backend.open_session() as victim:
            result = victim.run_python(f"print({token!r} * 3)\nprint('x' * 200_000)\nsecret = {token!r}\n"
                                       f"answer = secret")
            assert result.ok and result.answer == token
            # Positive control: the scanner does find the token in a live object of its own.
            control = victim.run_python(MEMORY_SCAN.format(head=head, tail=tail, hold="[head + tail]"))
            assert control.ok and control.answer["found"] >= 1, (control.stderr[-500:], control.answer)
            assert control.answer["unreadable_chunks"] == 0, control.answer
        with backend.open_session() as reader:
            scan = reader.run_python(MEMORY_SCAN.format(head=head, tail=tail, hold="None"))
    assert scan.ok, scan.stderr[-500:]
    assert scan.answer["unreadable_chunks"] == 0, scan.answer    # every private writable byte was scanned
    assert scan.answer["found"] == 0, f"an earlier session's token is readable in a child's memory: {scan.answer}"
