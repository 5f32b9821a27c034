"""The light / full worker tiers: which code goes where (the rule), and that the real backend follows it."""

from __future__ import annotations

import os
import shutil

import pytest

from sandbox import open_backend
from sandbox.preload_tiers import (
    DEFAULT_LIGHT_PRELOAD, DEFAULT_STDLIB_PRELOAD, FULL, LIGHT, MAX_SCANNED_CHARS, STDLIB, imported_modules,
    plan_tiers, tier_for,
)

DEFAULT_PRELOAD = ["numpy", "pandas", "scipy", "sklearn", "sqlite3"]
TIERS = plan_tiers(DEFAULT_PRELOAD, DEFAULT_LIGHT_PRELOAD, DEFAULT_STDLIB_PRELOAD)


@pytest.mark.parametrize("code, tier", [
    ("answer = 1 + 1", STDLIB),
    ("import json, csv, collections.abc\nfrom os import path\nimport sqlite3", STDLIB),  # stdlib only
    ("import pandas as pd\ndf = pd.DataFrame({'x': [1]})", LIGHT),
    ("import numpy.linalg, json", LIGHT),  # submodules count as their package
    ("import sqlite3\nfrom pandas import read_sql", LIGHT),
    ("import scipy.stats", FULL),
    ("from sklearn.linear_model import LogisticRegression", FULL),
    ("import pandas\nimport statsmodels.api as sm", FULL),  # not pre-imported by a smaller tier
    ("def f():\n    import lifelines\n    return lifelines", FULL),  # any depth
    ("try:\n    import sklearn\nexcept ImportError:\n    pass", FULL),
    ("from . import sibling", STDLIB),  # relative: nothing to import from any preload
    ("def broken(:\n", STDLIB),  # fails the same in every tier
    ("x = '\0'", STDLIB),  # null byte: ast refuses it, so does the child
])
def test_python_code_goes_to_the_smallest_tier_that_covers_its_imports(code, tier):
    assert tier_for("python", code, TIERS) == tier


def test_shell_goes_to_the_smallest_tier_and_long_code_to_the_full_one():
    assert tier_for("bash", "python -c 'import sklearn'", TIERS) == STDLIB
    long_code = "x = 1\n" * (MAX_SCANNED_CHARS // 6 + 1)
    assert tier_for("python", long_code, TIERS) == FULL


def test_imported_modules_names_top_levels_only():
    assert imported_modules("import a.b.c, d\nfrom e.f import g\nfrom .h import i") == {"a", "d", "e"}
    assert imported_modules("def (") is None


def test_tiers_are_planned_only_when_lighter_than_the_next():
    assert [(name, preload) for name, preload, _ in TIERS] == [
        (STDLIB, list(DEFAULT_STDLIB_PRELOAD)),
        (LIGHT, list(DEFAULT_STDLIB_PRELOAD) + ["numpy", "pandas"]),  # sqlite3 already in the stdlib list
        (FULL, DEFAULT_PRELOAD),
    ]
    # Submodules of light packages stay with them; the rest is the full tier's.
    extended = plan_tiers(DEFAULT_PRELOAD + ["pandas.io.sql", "scipy.stats"], ("numpy", "pandas"), None)
    assert [(name, preload) for name, preload, _ in extended] == [
        (LIGHT, ["numpy", "pandas", "pandas.io.sql"]), (FULL, DEFAULT_PRELOAD + ["pandas.io.sql", "scipy.stats"])]
    names = lambda tiers: [name for name, _, _ in tiers]  # noqa: E731
    assert names(plan_tiers(["numpy", "pandas", "sqlite3"], DEFAULT_LIGHT_PRELOAD, None)) == [FULL]  # same set
    assert names(plan_tiers(["numpy", "scipy"], DEFAULT_LIGHT_PRELOAD, None)) == [FULL]  # pandas not preloaded
    assert names(plan_tiers(DEFAULT_PRELOAD, None, None)) == [FULL]
    assert names(plan_tiers((), DEFAULT_LIGHT_PRELOAD, DEFAULT_STDLIB_PRELOAD)) == [FULL]  # nothing to lighten
    assert names(plan_tiers(("json", "sqlite3"), None, DEFAULT_STDLIB_PRELOAD)) == [FULL]
    assert names(plan_tiers(("numpy", "json"), None, DEFAULT_STDLIB_PRELOAD)) == [STDLIB, FULL]


needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0,
                                 reason="needs bubblewrap and root (make setup)")


@needs_bwrap
def test_backend_runs_each_tier_in_its_own_workers():
    with open_backend("process", workers=1) as backend:
        assert [name for name, _, _ in backend.tiers] == [STDLIB, LIGHT, FULL]
        assert len(backend.worker_pids()) == 3  # one of each tier
        with backend.open_session() as session:
            light = session.run_python("import sys, numpy\nanswer = sorted(m for m in ('scipy', 'sklearn', "
                                       "'pandas') if m in sys.modules)")
            full = session.run_python("import sys\nhad = sorted(m for m in ('scipy', 'sklearn') if m in "
                                      "sys.modules)\nimport sklearn\nanswer = had")
            hidden = session.run_python("import importlib\nanswer = importlib.import_module('scipy.special')"
                                        ".gamma(5.0)")  # a dynamic import: light, and still works
            shell = session.run_shell("echo from-bash")
            plain = session.run_python("import json, sys\nanswer = [json.dumps(1), 'pandas' in sys.modules]")
    assert (light.answer, light.detail["worker_tier"]) == (["pandas"], "light"), light
    assert (full.answer, full.detail["worker_tier"]) == (["scipy", "sklearn"], "full"), full
    assert (hidden.answer, hidden.detail["worker_tier"]) == (24.0, "stdlib"), hidden
    assert (shell.stdout, shell.detail["worker_tier"]) == ("from-bash\n", "stdlib"), shell
    assert (plain.answer, plain.detail["worker_tier"]) == (["1", False], "stdlib"), plain


@needs_bwrap
def test_at_most_workers_executions_run_at_once_across_tiers(tmp_path):
    """workers=1: executions of two tiers started together run one after the other."""
    import threading
    import time

    with open_backend("process", workers=1) as backend:
        sessions = [backend.open_session(), backend.open_session()]
        spans = {}

        def run(name, session, code):
            start = time.monotonic()
            result = session.run_python(code)
            spans[name] = (start, time.monotonic(), result)

        sleeper = "import time\ntime.sleep(0.6)\nanswer = 1"
        threads = [threading.Thread(target=run, args=("light", sessions[0], sleeper)),
                   threading.Thread(target=run, args=("full", sessions[1], "import scipy\n" + sleeper))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for session in sessions:
            session.close()
    assert {name: r.detail["worker_tier"] for name, (_, _, r) in spans.items()} == {"light": "stdlib", "full": "full"}
    first, second = sorted(spans.values(), key=lambda span: span[1])
    assert second[1] - min(first[0], second[0]) >= 1.2  # the two 0.6 s sleeps did not overlap
