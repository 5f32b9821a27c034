"""`python -m copilot.train recipe=NAME [overrides]`: compose recipes/config.yaml, validate, run the pipeline.

    python -m copilot.train recipe=demo
    python -m copilot.train recipe=sft_7b run.name=try2 logger=wandb_online
    python -m copilot.train recipe=demo --cfg job           # Hydra: print the composed config, run nothing

Exit codes: 0 done, 2 a bad config (the message names the key), 1 a stage failed (the message names the
stage and its log; re-run the same command to resume). Launch it with plain python also on a GPU node:
with cluster.launcher=accelerate the pipeline runs each training stage under `accelerate launch`.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig


def launch_command() -> str:
    return " ".join(shlex.quote(a) for a in [sys.executable, "-m", "copilot.train", *sys.argv[1:]])


@hydra.main(version_base=None, config_path="../recipes", config_name="config")
def main(cfg: DictConfig) -> None:
    from copilot.config import ConfigError, validate_run_config
    from copilot.pipeline import PipelineError, run

    try:
        config = validate_run_config(cfg)
    except ConfigError as err:
        print(f"error: bad config: {err}", file=sys.stderr)
        sys.exit(2)
    import torch

    if not torch.cuda.is_available():
        from copilot.cpu_memory import keep_freed_memory

        keep_freed_memory()   # CPU training steps ~1.4x faster (see copilot/cpu_memory.py)
    try:
        run(config, launch_command())
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


def explain_unknown_override(overrides: list[str]) -> str | None:
    """Hydra rejects `a.b=1` for a key that does not exist without saying which keys do; compose once with
    `+a.b=1` instead and return our validator's message (key path, closest key, valid keys), else None."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException

    from copilot.config import ConfigError, validate_run_config

    config_dir = str(Path(__file__).resolve().parent.parent / "recipes")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        try:
            compose("config", overrides=overrides)
            return None
        except ConfigCompositionException as err:
            match = re.search(r"Could not override '([^']+)'", str(err))
            if not match:
                return None
            key = match.group(1)
            retried = ["+" + o if o.split("=", 1)[0] == key else o for o in overrides]
            try:
                validate_run_config(compose("config", overrides=retried), check_paths=False)
            except ConfigError as config_error:
                return str(config_error)
            except Exception:  # noqa: BLE001 -- fall back to Hydra's own message
                return None
    return None


if __name__ == "__main__":
    # plain overrides only (no Hydra flags such as --cfg / --help / -m): friendlier unknown-key errors
    if sys.argv[1:] and not any(a.startswith("-") for a in sys.argv[1:]):
        message = explain_unknown_override(sys.argv[1:])
        if message:
            print(f"error: bad config: {message}", file=sys.stderr)
            sys.exit(2)
    main()
