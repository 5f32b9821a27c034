"""Run one Python snippet as `__main__` and capture its top-level `answer` (stdlib only).

Shared by every backend: the process backend calls `run_snippet` in a freshly forked child that already has
the scientific stack imported; the docker backend copies this file into the container and runs
`python code_runner.py ANSWER_PATH < snippet`. Keeping it stdlib-only is what lets it run in any image.

The answer protocol: after the snippet ends (normally, by an exception, or by `sys.exit`), if its globals
define `answer`, the runner writes one JSON object to the answer sink:
    {"has_answer": true, "answer": <value>, "answer_is_repr": false}
or, when the value is not JSON-serialisable, its repr() with "answer_is_repr": true. Without an `answer`
variable it writes {"has_answer": false}. An answer is captured even when the snippet raised afterwards, so
that callers can decide; the exit code tells them it failed.

Not protected against: the snippet replacing `json`/`sys` in its own globals does not matter (the runner
keeps its own references), but the answer is written by the same process that ran the snippet, so a snippet
can write to the answer sink itself (in the process backend: the forked child's answer pipe, which it can find
among its open descriptors) and so choose its own `answer` and exit code, which it could do anyway by setting
the variable and calling `sys.exit`. It cannot make a timeout or a kill look like success: the process
backend's worker judges those itself (see `isolated_worker`, "Residual risk").
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from typing import Any, TextIO

MAX_ANSWER_CHARS = 1_000_000


def _jsonable(value: Any) -> Any:
    """Convert numpy / pandas scalars and containers to plain JSON values; raise TypeError when impossible."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item) and getattr(value, "shape", None) == ():
        return _jsonable(item())
    tolist = getattr(value, "tolist", None)  # numpy array, pandas Series / Index
    if callable(tolist):
        return _jsonable(tolist())
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def answer_record(namespace: dict[str, Any]) -> dict[str, Any]:
    """The answer protocol's JSON object for a finished snippet's globals."""
    if "answer" not in namespace:
        return {"has_answer": False}
    value = namespace["answer"]
    try:
        converted = _jsonable(value)
        text = json.dumps(converted)
        if len(text) > MAX_ANSWER_CHARS:
            raise ValueError("answer too large")
        return {"has_answer": True, "answer": converted, "answer_is_repr": False}
    except (TypeError, ValueError, RecursionError):
        try:
            text = repr(value)
        except Exception as exc:  # a hostile __repr__
            text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
        return {"has_answer": True, "answer": text[:MAX_ANSWER_CHARS], "answer_is_repr": True}


def run_snippet(code: str, filename: str = "<snippet>") -> tuple[int, dict[str, Any]]:
    """Execute `code` as a fresh `__main__`; return (exit code, answer record).

    Exceptions print a normal traceback to stderr and give exit code 1; `sys.exit(n)` gives n.
    """
    # __file__ as for `python snippet.py` run in the working directory (harnesses locate files next to it)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__,
                                 "__file__": os.path.join(os.getcwd(), "snippet.py")}
    exit_code = 0
    try:
        exec(compile(code, filename, "exec"), namespace)
    except SystemExit as stop:
        code_value = stop.code
        if code_value is None:
            exit_code = 0
        elif isinstance(code_value, int):
            exit_code = code_value & 0xFF
        else:
            print(code_value, file=sys.stderr)
            exit_code = 1
    except BaseException:  # noqa: BLE001 - the snippet's own errors are its output
        etype, evalue, tb = sys.exc_info()
        # Drop the runner's own frame so the traceback starts at the snippet.
        traceback.print_exception(etype, evalue, tb.tb_next if tb is not None else None)
        exit_code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    return exit_code, answer_record(namespace)


def write_answer(record: dict[str, Any], sink: TextIO) -> None:
    sink.write(json.dumps(record))
    sink.flush()


def main(argv: list[str]) -> int:
    """`python code_runner.py ANSWER_PATH < snippet`: run stdin's code, write the answer record to ANSWER_PATH."""
    if len(argv) != 2:
        print("usage: python code_runner.py ANSWER_PATH < snippet.py", file=sys.stderr)
        return 2
    code = sys.stdin.read()
    sys.stdin = open("/dev/null")  # the snippet reads no stdin by default
    exit_code, record = run_snippet(code)
    with open(argv[1], "w") as sink:
        write_answer(record, sink)
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
