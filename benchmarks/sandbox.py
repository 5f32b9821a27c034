"""Sandbox throughput: a fresh `python` per execution vs the warm isolated pool vs the HTTP server.

    .venv/bin/python benchmarks/sandbox.py [--seconds 5] [--workers 2] [--no-server] [--preload numpy,pandas,...]

Rows (each runs `--seconds` at concurrency 1 and 2; the reference, pool and server rows of one snippet and
concurrency in `--rounds` slices taken in turn, so that the machine's drift hits them alike):
- subprocess: what a reference sandbox without a pool does (SandboxFusion's default): start the interpreter
  for each execution (`sys.executable` itself, no pyenv shim; it runs `code_runner.py` like the docker
  backend), no isolation at all, so this baseline is if anything generous;
- pool: `open_backend("process")` (bubblewrap isolation, forked children), one session per client thread,
  reused across its calls like an agent episode;
- server: `python -m sandbox.serve` started as its own process on 127.0.0.1, SandboxFusion's POST /run_code
  (a fresh session per request, as verl uses it), one httpx client per thread.
- reference: the prototype the targets were set from (../shared/notes/machine-facts.md, 2026-11-22): per
  client thread one warm worker inside one bubblewrap that pre-imports pandas only and forks a child per
  execution, with none of the pool's per-execution isolation (no mount view, uid switch, limits, seccomp, PID
  namespace) and the result sent back as JSON. It was recorded at 251/s (pandas) and 679/s (tiny) at
  concurrency 2 on the machine the targets came from; run here in the same benchmark it says how fast this
  machine forks, so `*_pool_vs_reference` compares the pool with it independently of the machine.

Snippets: "tiny" (`answer = 1 + 1`) and "pandas" (imports pandas and sums a 1,000-row DataFrame). Prints a
table, then LAST one JSON line (pandas_pool_exec_per_s, pandas_subprocess_exec_per_s, pandas_pool_p99_ms,
tiny_pool_exec_per_s, server_pandas_exec_per_s, reference_*_exec_per_s, ratios, and "targets": each of issue
2's targets with the measured value and pass / fail); the headline figures are at concurrency 2.
Numbers on a shared 2-core machine are noisy: run it alone for figures you quote.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Run as a script, this file's directory is sys.path[0] and its own name would shadow the `sandbox` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from sandbox import code_runner, open_backend  # noqa: E402

SNIPPETS = {
    "tiny": "answer = 1 + 1\n",
    "pandas": "import pandas as pd\ndf = pd.DataFrame({'x': range(1000)})\nanswer = int(df['x'].sum())\n",
}
EXPECTED = {"tiny": 2, "pandas": 499500}
# Issue 2's targets, checked on the concurrency-2 rows of the same run: (comparison, bound).
TARGETS = {
    "pandas_pool_exec_per_s": (">=", 250.0),
    "pandas_pool_p99_ms": ("<=", 15.0),
    "pandas_pool_vs_subprocess": (">=", 50.0),
    "tiny_pool_exec_per_s": (">=", 500.0),
    "server_vs_pool_pandas": (">=", 0.7),
}
# machine-facts.md (2026-11-22): the reference prototype at concurrency 2, on the machine the targets came from.
REFERENCE_RECORDED = {"pandas_exec_per_s": 251.0, "tiny_exec_per_s": 679.0, "date": "2026-11-22",
                      "source": "shared/notes/machine-facts.md"}
THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_for(seconds: float, concurrency: int, make_client):
    """Each of `concurrency` threads makes a client (callable -> bool ok) and calls it until time is up."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_barrier = threading.Barrier(concurrency)
    window: list[float] = []  # when the measured calls started (after every client was made) and ended

    def loop() -> None:
        call, close = make_client()  # not timed: a client's set-up (e.g. a worker's imports) is no execution
        try:
            start_barrier.wait()
            started = time.perf_counter()
            deadline = started + seconds
            mine: list[float] = []
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                error = call()
                mine.append(time.perf_counter() - t0)
                if error:
                    with lock:
                        failures.append(error)
            with lock:
                latencies.extend(mine)
                window.extend((started, time.perf_counter()))
        finally:
            close()

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(loop) for _ in range(concurrency)]:
            future.result()
    elapsed = max(window) - min(window)
    return latencies, failures, elapsed


def run_interleaved(makers: dict, seconds: float, rounds: int, concurrency: int) -> dict:
    """`run_for` for each of `makers` (name -> make_client), in `rounds` slices taken in turn; returns name ->
    (latencies, failures, elapsed) over all its slices. Why: this VM's speed drifts by +-15% within a minute,
    so measuring one variant after the other compares two machines; slices taken in turn compare like with
    like."""
    got = {name: ([], [], 0.0) for name in makers}
    for _round in range(rounds):
        for name, make_client in makers.items():
            latencies, failures, elapsed = run_for(seconds / rounds, concurrency, make_client)
            old = got[name]
            got[name] = (old[0] + latencies, old[1] + failures, old[2] + elapsed)
    return got


def summarise(name: str, snippet: str, concurrency: int, latencies, failures, seconds: float) -> dict:
    ordered = sorted(latencies)
    n = len(ordered)

    def pct(p: float) -> float | None:
        return round(ordered[min(n - 1, int(p * n))] * 1000, 2) if n else None

    return {"mode": name, "snippet": snippet, "concurrency": concurrency, "n": n,
            "exec_per_s": round(n / seconds, 1) if seconds else 0.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2) if n else None,
            "failures": len(failures), "first_failure": failures[0][:200] if failures else None}


# ---------------------------------------------------------------------------------------- clients
# The reference prototype's worker (see the module docstring): length-prefixed code in, length-prefixed JSON out.
REFERENCE_WORKER = r"""
import io, json, os, struct, sys
import pandas
HEADER = struct.Struct(">I")

def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data

os.write(1, HEADER.pack(2) + b"{}")
while True:
    code = read_exact(HEADER.unpack(read_exact(4))[0]).decode()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        sys.stdout = io.StringIO()
        scope = {"__name__": "__main__"}
        try:
            exec(compile(code, "<snippet>", "exec"), scope)
            reply = {"answer": scope.get("answer"), "stdout": sys.stdout.getvalue()}
        except BaseException as exc:
            reply = {"error": repr(exc)}
        os.write(w, json.dumps(reply).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    data = b"".join(chunks)
    os.write(1, HEADER.pack(len(data)) + data)
"""
FRAME = struct.Struct(">I")


def reference_client(snippet: str):
    """One reference worker (bwrap, pandas pre-imported, a plain fork per execution) for this client thread."""
    # A private /tmp, with the environment bound back in when it lives there (a clone under /tmp, as in CI).
    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--ro-bind", sys.prefix, sys.prefix, "--unshare-all", "--die-with-parent", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--", sys.executable, "-c", REFERENCE_WORKER]
    for key, value in THREAD_ENV.items():
        argv[argv.index("--"):argv.index("--")] = ["--setenv", key, value]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    to_worker, from_worker = proc.stdin.fileno(), proc.stdout.fileno()

    def read_exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = os.read(from_worker, n - len(data))
            if not chunk:
                raise RuntimeError(f"the reference worker ended (exit code {proc.wait()})")
            data += chunk
        return data

    read_exact(FRAME.unpack(read_exact(FRAME.size))[0])  # its ready frame, once pandas is imported
    code = SNIPPETS[snippet].encode()

    def call() -> str | None:
        os.write(to_worker, FRAME.pack(len(code)) + code)
        reply = json.loads(read_exact(FRAME.unpack(read_exact(FRAME.size))[0]))
        return None if reply.get("answer") == EXPECTED[snippet] else f"reference worker: {reply}"

    def close() -> None:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()

    return call, close


def subprocess_client(snippet: str):
    workdir = Path(tempfile.mkdtemp(prefix="bench-subprocess-"))
    answer_path = workdir / "answer.json"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **THREAD_ENV}

    def call() -> str | None:
        proc = subprocess.run([sys.executable, code_runner.__file__, str(answer_path)], input=SNIPPETS[snippet],
                              capture_output=True, text=True, cwd=workdir, env=env, timeout=60)
        if proc.returncode != 0:
            return f"exit {proc.returncode}: {proc.stderr[-200:]}"
        record = json.loads(answer_path.read_text())
        return None if record.get("answer") == EXPECTED[snippet] else f"wrong answer {record}"

    return call, lambda: None


def pool_client(backend, snippet: str):
    session = backend.open_session({})

    def call() -> str | None:
        result = session.run_python(SNIPPETS[snippet])
        if not result.ok or result.answer != EXPECTED[snippet]:
            return f"{result.status.value}: {result.stderr[-200:]}"
        return None

    return call, session.close


def server_client(url: str, snippet: str):
    import httpx

    client = httpx.Client(base_url=url, timeout=60)
    payload = {"code": SNIPPETS[snippet], "language": "python", "run_timeout": 10}

    def call() -> str | None:
        response = client.post("/run_code", json=payload)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        body = response.json()
        if body.get("status") != "Success" or body.get("exec_result", {}).get("answer") != EXPECTED[snippet]:
            return f"{body.get('status')}: {str(body)[:200]}"
        return None

    return call, client.close


def start_server(workers: int, preload: str | None) -> tuple[subprocess.Popen, str]:
    """`python -m sandbox.serve` on a free port; returns the process and its base URL once /health answers."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "sandbox.serve", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning"]
    if preload:
        print("note: the server runs the backend's default preload (serve has no --preload flag)", file=sys.stderr)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox.serve exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("sandbox.serve did not answer /health within 120 s")


# ---------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each pool / server row")
    parser.add_argument("--subprocess-seconds", type=float, default=None,
                        help="length of each subprocess row (default: --seconds)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preload", default=None, help="comma-separated modules (default: the backend's)")
    parser.add_argument("--no-server", action="store_true", help="skip the HTTP server rows")
    parser.add_argument("--rounds", type=int, default=5,
                        help="slices per reference / pool / server row, taken in turn (default 5)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference prototype's rows (the machine calibration)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds: expected an integer >= 1")
    sub_seconds = args.subprocess_seconds or args.seconds
    rows: list[dict] = []

    def show(summary: dict) -> None:
        rows.append(summary)
        print(f"{summary['mode']:<11}{summary['snippet']:<8}{summary['concurrency']:>4}{summary['n']:>7}"
              f"{summary['exec_per_s']:>10}{summary['p50_ms'] or '-':>10}{summary['p99_ms'] or '-':>10}"
              f"{summary['failures']:>6}", flush=True)

    load = os.getloadavg()
    print(f"# sandbox benchmark, {os.cpu_count()} cores, load average {load[0]:.2f} (other work skews numbers)")
    print(f"{'mode':<11}{'snippet':<8}{'conc':>4}{'n':>7}{'exec/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'fail':>6}")
    for snippet in SNIPPETS:
        for conc in (1, 2):
            latencies, failures, elapsed = run_for(sub_seconds, conc, lambda s=snippet: subprocess_client(s))
            show(summarise("subprocess", snippet, conc, latencies, failures, elapsed))

    options = {"workers": args.workers}
    if args.preload:
        options["preload"] = tuple(m for m in args.preload.split(",") if m)
    t0 = time.perf_counter()
    backend = open_backend("process", **options)
    pool_start_s = time.perf_counter() - t0
    proc = None
    try:
        clients = {"pool": lambda s: pool_client(backend, s)}
        if not args.no_reference:
            clients["reference"] = reference_client
        if not args.no_server:
            proc, url = start_server(args.workers, args.preload)
            clients["server"] = lambda s: server_client(url, s)
        for snippet in SNIPPETS:
            for make in clients.values():  # warm-up: first touches after start
                call, close = make(snippet)
                call()
                close()
            for conc in (1, 2):
                makers = {mode: (lambda s=snippet, m=make: m(s)) for mode, make in clients.items()}
                measured_slices = run_interleaved(makers, args.seconds, args.rounds, conc)
                for mode in ("reference", "pool", "server"):
                    if mode in measured_slices:
                        show(summarise(mode, snippet, conc, *measured_slices[mode]))
    finally:
        backend.close()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def pick(mode: str, snippet: str, conc: int = 2) -> dict | None:
        return next((r for r in rows if (r["mode"], r["snippet"], r["concurrency"]) == (mode, snippet, conc)), None)

    def rate(mode: str, snippet: str, conc: int = 2) -> float | None:
        r = pick(mode, snippet, conc)
        return r["exec_per_s"] if r else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    pandas_pool, pandas_sub = rate("pool", "pandas"), rate("subprocess", "pandas")
    pandas_p99 = (pick("pool", "pandas") or {}).get("p99_ms")
    server_ratio = ratio(rate("server", "pandas"), pandas_pool)
    measured = {
        "pandas_pool_exec_per_s": pandas_pool,
        "pandas_pool_p99_ms": pandas_p99,
        "pandas_pool_vs_subprocess": ratio(pandas_pool, pandas_sub),
        "tiny_pool_exec_per_s": rate("pool", "tiny"),
        "server_vs_pool_pandas": server_ratio,
    }
    targets = {}
    for key, (op, bound) in TARGETS.items():
        value = measured[key]
        targets[key] = {"target": f"{op} {bound}", "value": value,
                        "pass": value is not None and (value >= bound if op == ">=" else value <= bound)}
    summary = {
        "pandas_pool_exec_per_s": rate("pool", "pandas"),
        "pandas_subprocess_exec_per_s": rate("subprocess", "pandas"),
        "pandas_pool_p99_ms": (pick("pool", "pandas") or {}).get("p99_ms"),
        "pandas_pool_p50_ms": (pick("pool", "pandas") or {}).get("p50_ms"),
        "tiny_pool_exec_per_s": rate("pool", "tiny"),
        "tiny_subprocess_exec_per_s": rate("subprocess", "tiny"),
        "server_pandas_exec_per_s": rate("server", "pandas"),
        "server_tiny_exec_per_s": rate("server", "tiny"),
        "pandas_pool_vs_subprocess": ratio(rate("pool", "pandas"), rate("subprocess", "pandas")),
        "tiny_pool_vs_subprocess": ratio(rate("pool", "tiny"), rate("subprocess", "tiny")),
        "server_vs_pool_pandas": ratio(rate("server", "pandas"), rate("pool", "pandas")),
        "reference_pandas_exec_per_s": rate("reference", "pandas"),
        "reference_tiny_exec_per_s": rate("reference", "tiny"),
        "pandas_pool_vs_reference": ratio(rate("pool", "pandas"), rate("reference", "pandas")),
        "tiny_pool_vs_reference": ratio(rate("pool", "tiny"), rate("reference", "tiny")),
        # The reference's recorded figures on the machine the targets came from, and this machine against them.
        "reference_recorded": REFERENCE_RECORDED,
        "machine_vs_recorded_pandas": ratio(rate("reference", "pandas"), REFERENCE_RECORDED["pandas_exec_per_s"]),
        "machine_vs_recorded_tiny": ratio(rate("reference", "tiny"), REFERENCE_RECORDED["tiny_exec_per_s"]),
        "pool_start_s": round(pool_start_s, 2),
        "workers": args.workers, "seconds_per_row": args.seconds, "cpu_count": os.cpu_count(),
        "load_average_1m_at_start": round(load[0], 2),
        "failures": sum(r["failures"] for r in rows),
        "targets": targets,
        "targets_passed": sum(t["pass"] for t in targets.values()), "targets_total": len(targets),
    }
    print("# targets (issue 2; headline figures at concurrency 2):")
    for key, t in targets.items():
        print(f"#   {key:<28}{t['target']:>10}   measured {t['value']!s:>8}   {'PASS' if t['pass'] else 'FAIL'}")
    if summary["reference_pandas_exec_per_s"]:
        print(f"# reference prototype here: pandas {summary['reference_pandas_exec_per_s']}/s, tiny "
              f"{summary['reference_tiny_exec_per_s']}/s (recorded where the targets were set: "
              f"{REFERENCE_RECORDED['pandas_exec_per_s']}/s, {REFERENCE_RECORDED['tiny_exec_per_s']}/s); "
              f"pool / reference: pandas {summary['pandas_pool_vs_reference']}, "
              f"tiny {summary['tiny_pool_vs_reference']}")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
