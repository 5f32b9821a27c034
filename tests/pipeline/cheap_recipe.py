"""Where the cheap test recipe lives and the overrides that put its run and packs under a tmp dir."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_RECIPES = Path(__file__).resolve().parent / "recipes"
SEARCHPATH = f"hydra.searchpath=[file://{TEST_RECIPES}]"


def cheap_overrides(root: Path, *extra: str) -> list[str]:
    return ["recipe=cheap", SEARCHPATH, f"data.offline_root={root / 'offline'}", f"run.root={root / 'runs'}", *extra]
