"""Pinned pip packages of a Dockerfile, for the image tests.

    dockerfile_pip_packages(Path("images/trainer/Dockerfile").read_text())   # {"torch": "2.11.0", ...}

Reads every `RUN pip install ...` instruction (line continuations joined); options (-e, --no-deps ...) and local
paths / extras specs (".[train]") are skipped, every other token must be NAME==VERSION (an unpinned one is an
assertion error naming it). Names are lower-cased.
"""

from __future__ import annotations

import re


def dockerfile_pip_packages(text: str, source: str = "Dockerfile") -> dict[str, str]:
    joined = re.sub(r"\\\n", " ", text)
    packages: dict[str, str] = {}
    for line in joined.splitlines():
        match = re.match(r"\s*RUN\s+pip\s+install\s+(.*)", line)
        if not match:
            continue
        for token in match.group(1).split():
            if token.startswith("-") or token == "&&" or token.strip("\"'").startswith((".", "/")):
                continue
            name, sep, version = token.partition("==")
            assert sep, f"{source}: pip package {token!r} has no pinned version (expected NAME==VERSION)"
            packages[name.lower()] = version
    return packages
