"""Run one stage in a fresh process (for the kill -9 tests): python run_stage.py KIND CFG.yaml INPUTS.json OUT_DIR"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def main(kind: str, cfg_path: str, inputs_path: str, out_dir: str) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(cfg_path)
    inputs = {key: Path(value) for key, value in json.loads(Path(inputs_path).read_text()).items()}
    outputs = importlib.import_module(f"copilot.stages.{kind}").run(cfg, inputs, Path(out_dir))
    print(json.dumps({key: str(value) for key, value in outputs.items()}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
