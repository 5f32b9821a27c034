"""Which warm workers run a request: the smallest tier whose pre-imported modules cover the code's imports.

Why tiers: a fork per execution costs in proportion to the forking worker's memory map (page-table entries
and mappings to copy at fork, and to free at exit). scipy and scikit-learn more than double it (~1,580
mappings and ~127 MB of private memory with the default preload, against ~660 and ~56 MB with numpy +
pandas), and a worker without the scientific stack is ~10 MB; most snippets never import scipy or sklearn,
and shell commands need no module at all.
Measured on the 2-core development VM with `benchmarks/sandbox_tiers.py` (tiers on / off in interleaved
slices, concurrency 2): the pandas snippet 97.5 -> 126.5 executions/s, `answer = 1 + 1` 133 -> 306/s, a
shell command 113 -> 242/s; a scikit-learn snippet 61 -> 59/s (full tier either way).

Tiers, smallest first (`plan_tiers`; each only when it is lighter than the next):
- "stdlib": a few standard-library modules (`DEFAULT_STDLIB_PRELOAD`); planned when the preload holds
  anything outside the standard library;
- "light": those plus `light_preload` (numpy, pandas, sqlite3 by default); planned when all of these are in
  the preload and the preload holds more (scipy, sklearn, ...);
- "full": the preload itself (always).
The rule (`tier_for`): Python code goes to the first tier that covers every module it imports by name (any
`import x` / `from x import y`, at any depth of the code, absolute imports only; the standard library is
covered by every tier); code over `MAX_SCANNED_CHARS` goes to "full". Code that does not parse, and shell
commands (a forked child that `execve`s bash needs no pre-imported module), go to the smallest tier.

Simplified: imports the scan cannot see (`__import__(name)`, `importlib.import_module`, `exec` of a string,
a library importing scipy lazily) run correctly in any tier; in a smaller one they pay the import's cost in
that execution (scipy: a few hundred ms). A standard-library module the stdlib tier did not pre-import costs
its import (~1 ms) there. Nothing here is a security boundary: every tier is the same sandbox.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence

STDLIB, LIGHT, FULL = "stdlib", "light", "full"
DEFAULT_LIGHT_PRELOAD = ("numpy", "pandas", "sqlite3")
DEFAULT_STDLIB_PRELOAD = ("json", "csv", "re", "math", "statistics", "collections", "datetime", "itertools",
                          "functools", "random", "sqlite3")
MAX_SCANNED_CHARS = 64 * 1024  # longer code is not parsed on the host (time), it goes to the full tier


def _top(name: str) -> str:
    return name.split(".")[0]


def _is_stdlib(name: str) -> bool:
    return _top(name) in sys.stdlib_module_names


def plan_tiers(preload: Sequence[str], light: Sequence[str] | None,
               stdlib: Sequence[str] | None) -> list[tuple[str, list[str], set[str]]]:
    """[(tier, its preload, the non-stdlib top-level modules it covers)], smallest first, "full" last."""
    preload = list(preload)
    beyond_stdlib = {_top(name) for name in preload if not _is_stdlib(name)}
    tiers: list[tuple[str, list[str], set[str]]] = []
    if stdlib is not None and beyond_stdlib:
        tiers.append((STDLIB, [name for name in stdlib if _is_stdlib(name)], set()))
    light_tops = {_top(name) for name in light or ()} - set(sys.stdlib_module_names)
    if light and light_tops and light_tops <= beyond_stdlib and light_tops != beyond_stdlib:
        base = tiers[0][1] if tiers else []
        chosen = [name for name in preload if _top(name) in {_top(n) for n in light}]
        tiers.append((LIGHT, list(dict.fromkeys(base + chosen)), light_tops))
    tiers.append((FULL, preload, beyond_stdlib))
    return tiers


def imported_modules(code: str) -> set[str] | None:
    """Top-level names of the modules `code` imports by name; None when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(_top(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(_top(node.module))
    return names


def tier_for(language: str, code: str, tiers: Sequence[tuple[str, list[str], set[str]]]) -> str:
    """The tier (a name from `plan_tiers`) that runs one request; see the module docstring."""
    if language == "bash":
        return tiers[0][0]
    if len(code) > MAX_SCANNED_CHARS:
        return tiers[-1][0]
    names = imported_modules(code)
    if names is None:
        return tiers[0][0]
    needed = {name for name in names if name not in sys.stdlib_module_names}
    for name, _preload, covered in tiers[:-1]:
        if needed <= covered:
            return name
    return tiers[-1][0]
