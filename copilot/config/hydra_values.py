"""Python values written in Hydra's override grammar, for commands that pass settings as `key=value` overrides.

    hydra_value("/data/a=b")       # "'/data/a=b'"   (strings quoted, so paths with '=' or ',' survive)
    hydra_value([1, None, True])   # "[1,null,true]"
    hydra_value({"a": 0.5})        # "{a:0.5}"

Used by copilot.evaluate (a run's episode / data settings) and copilot.rl.verl_config (verl's own Hydra).
Not protected against: mapping keys that need quoting (they are written bare).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def hydra_value(value: Any) -> str:
    """`value` written in Hydra's override grammar; a type it cannot write is a ValueError naming it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{hydra_value(v)}" for key, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {type(value).__name__} {value!r} as a Hydra override value")
