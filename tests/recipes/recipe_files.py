"""Where the shipped recipes are, and which MedAgentGym dataset dirs the data=medagentgym group names."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
MEDAGENTGYM_DATASETS = ("mimic_iii", "eicu", "treqs", "medcalcbench", "npowerai", "biocoder", "biodsbench", "ehrcon")


def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in (RECIPES / "recipe").glob("*.yaml"))
