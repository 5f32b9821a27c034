"""Stage `packs`: build the offline task packs under cfg.data.offline_root, unless already built alike.

    stages: [{kind: packs, name: packs, size: small}]          # recipes/recipe/demo.yaml
    outputs = run(cfg, {}, out_dir)                             # -> {"offline_root": <dir>}

A pack is (re)built when its dir is missing, or its pack.json records another seed (cfg.run.seed unless the
stage sets `seed`) or other sizes than `size` asks for, or a split file is missing. It is built into a
temporary sibling dir and swapped in only when complete, so a kill never leaves a half-written pack that a
later run would take as built. Packs whose module does not compute its own contamination check get the
generic one (as `python -m copilot.tasks.packs build` does). One metrics line per pack.

Not protected against: two runs building the same offline_root at the same time (the last swap wins);
hand-edited pack files with an unchanged pack.json (they count as built).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Literal, Optional

log = logging.getLogger(__name__)


PackName = Literal["ehr_sql", "medcalc", "biostat", "biocoder"]   # = copilot.tasks.packs.PACKS (a test checks)


@dataclass
class Config:
    packs: List[PackName] = field(default_factory=lambda: ["ehr_sql", "medcalc", "biostat", "biocoder"])
    size: Literal["small", "default", "large"] = "default"
    seed: Optional[int] = None          # null = cfg.run.seed


def is_built(pack_dir: Path, seed: int, n_train: int, n_test: int) -> bool:
    from copilot.tasks.packs.pack_writer import TEST_FILE, TRAIN_FILE

    manifest_path = pack_dir / "pack.json"
    if not (manifest_path.is_file() and (pack_dir / TRAIN_FILE).is_file() and (pack_dir / TEST_FILE).is_file()):
        return False
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        log.warning("%s is not valid JSON (%s): rebuilding the pack", manifest_path, err)
        return False
    return manifest.get("seed") == seed and manifest.get("sizes") == {"train": n_train, "test": n_test}


def build_pack(name: str, offline_root: Path, seed: int, size: str) -> dict:
    """Build one pack if needed; returns {"pack", "built": bool, "seconds", "n_train", "n_test"}."""
    from copilot.tasks.packs import load_pack_module
    from copilot.tasks.packs.contamination import check_pack_dir
    from copilot.tasks.packs.pack_writer import sizes_for

    module = load_pack_module(name)
    n_train, n_test = sizes_for(name, size, module)
    pack_dir = offline_root / name
    start = time.perf_counter()
    if is_built(pack_dir, seed, n_train, n_test):
        return {"pack": name, "built": False, "seconds": 0.0, "n_train": n_train, "n_test": n_test}
    staging_root = offline_root / f".building-{name}"
    shutil.rmtree(staging_root, ignore_errors=True)   # a previous, interrupted build
    staging_root.mkdir(parents=True)
    module.build(staging_root, seed, n_train, n_test)
    if not getattr(module, "CHECKS_CONTAMINATION", False):
        check_pack_dir(staging_root / name)
    if pack_dir.exists():
        shutil.rmtree(pack_dir)   # generated data built with another seed / size: regenerable, replaced
    (staging_root / name).rename(pack_dir)
    staging_root.rmdir()
    return {"pack": name, "built": True, "seconds": round(time.perf_counter() - start, 3),
            "n_train": n_train, "n_test": n_test}


def run(cfg, inputs: dict[str, Path], out_dir: Path) -> dict[str, Path]:
    from tqdm import tqdm

    from copilot.run_metrics import MetricsWriter

    stage = cfg.stage
    seed = int(stage.seed if stage.seed is not None else cfg.run.seed)
    offline_root = Path(str(cfg.data.offline_root)).expanduser()
    offline_root.mkdir(parents=True, exist_ok=True)
    writer = MetricsWriter(out_dir, cfg, job_type="packs")
    try:
        for name in tqdm(list(stage.packs), desc=f"packs ({stage.size}, seed {seed})", unit="pack"):
            result = build_pack(str(name), offline_root, seed, str(stage.size))
            log.info("pack %s: %s (%d train / %d test)", name, "built" if result["built"] else "already built",
                     result["n_train"], result["n_test"])
            writer.log(result)
    finally:
        writer.close()
    return {"offline_root": offline_root.resolve()}
