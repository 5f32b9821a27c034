"""Worker tiers on and off: the process backend with its stdlib / light / full tiers against one full tier.

    .venv/bin/python benchmarks/sandbox_tiers.py [--seconds 10] [--rounds 5] [--workers 2]

Both backends are open at once (idle workers cost no CPU) and each (snippet, concurrency) row is measured in
`--rounds` slices taken in turn, so that the machine's drift (+-15% within a minute on the development VM)
hits both alike. Snippets: "tiny" (`answer = 1 + 1`, stdlib tier), "pandas" (the issue's snippet, light tier),
"sklearn" (imports scikit-learn, full tier: the control, which tiers must not slow down) and "shell"
(`echo`, stdlib tier). Prints a table, then LAST one JSON line with each row's executions per second for
both and their ratio ("<snippet>_c<concurrency>_tiered_vs_single").
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # benchmarks/sandbox.py shadows it

from sandbox import open_backend  # noqa: E402

# The sandbox benchmark's interleaved timing (loaded under another name: its file name is the package's).
_spec = importlib.util.spec_from_file_location("sandbox_benchmark", _HERE / "sandbox.py")
sandbox_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sandbox_benchmark)
run_interleaved = sandbox_benchmark.run_interleaved

SNIPPETS = {
    "tiny": ("python", "answer = 1 + 1\n", 2),
    "pandas": ("python", "import pandas as pd\ndf = pd.DataFrame({'x': range(1000)})\nanswer = int(df['x'].sum())\n",
               499500),
    "sklearn": ("python", "import numpy as np\nfrom sklearn.linear_model import LinearRegression\n"
                "answer = round(float(LinearRegression().fit(np.arange(8.0).reshape(-1, 1), 2 * np.arange(8.0))"
                ".coef_[0]), 6)\n", 2.0),
    "shell": ("bash", "echo 42", None),
}


def client(backend, snippet: str):
    language, code, expected = SNIPPETS[snippet]
    session = backend.open_session({})

    def call() -> str | None:
        result = session.run_python(code) if language == "python" else session.run_shell(code)
        good = result.ok and (result.answer == expected if expected is not None else result.stdout == "42\n")
        return None if good else f"{result.status.value}: {result.stderr[-200:]} {result.stdout[-100:]}"

    return call, session.close


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each row, all slices together")
    parser.add_argument("--rounds", type=int, default=5, help="slices per row, taken in turn (default 5)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds: expected an integer >= 1")
    backends = {
        "tiered": open_backend("process", workers=args.workers),
        "single": open_backend("process", workers=args.workers, light_preload=None, stdlib_preload=None),
    }
    summary: dict = {"workers": args.workers, "seconds_per_row": args.seconds, "rounds": args.rounds,
                     "cpu_count": os.cpu_count(), "load_average_1m_at_start": round(os.getloadavg()[0], 2),
                     "failures": 0}
    print(f"# worker tiers on / off, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"{'snippet':<9}{'conc':>5}{'tier':>8}{'tiered/s':>10}{'single/s':>10}{'ratio':>7}{'p50 ms':>14}")
    try:
        for snippet in SNIPPETS:
            for backend in backends.values():  # first touches after start
                call, close = client(backend, snippet)
                call()
                close()
            for conc in (1, 2):
                makers = {name: (lambda b=backend: client(b, snippet)) for name, backend in backends.items()}
                got = run_interleaved(makers, args.seconds, args.rounds, conc)
                rates = {name: round(len(lat) / elapsed, 1) for name, (lat, _f, elapsed) in got.items()}
                p50 = {name: round(statistics.median(lat) * 1000, 2) for name, (lat, _f, _e) in got.items()}
                summary["failures"] += sum(len(failures) for _l, failures, _e in got.values())
                tier = _tier_of(backends["tiered"], snippet)
                ratio = round(rates["tiered"] / rates["single"], 2)
                key = f"{snippet}_c{conc}"
                summary[f"{key}_tiered_exec_per_s"] = rates["tiered"]
                summary[f"{key}_single_exec_per_s"] = rates["single"]
                summary[f"{key}_tiered_vs_single"] = ratio
                print(f"{snippet:<9}{conc:>5}{tier:>8}{rates['tiered']:>10}{rates['single']:>10}{ratio:>7}"
                      f"{p50['tiered']:>7}/{p50['single']:<6}", flush=True)
    finally:
        for backend in backends.values():
            backend.close()
    print(json.dumps(summary))
    return summary


def _tier_of(backend, snippet: str) -> str:
    language, code, _expected = SNIPPETS[snippet]
    with backend.open_session({}) as session:
        result = session.run_python(code) if language == "python" else session.run_shell(code)
    return result.detail["worker_tier"]


if __name__ == "__main__":
    main()
