"""Every shipped recipe composes with Hydra and passes validation; headers carry the launch commands."""

from __future__ import annotations

import subprocess
import sys

import pytest
from recipe_files import REPO, RECIPES, shipped_recipes

from copilot.config import validate_run_config

REQUIRED = {"demo", "sft_7b", "dpo_7b", "idpo_7b", "sft_14b", "dpo_14b", "idpo_14b", "pipeline_7b", "pipeline_14b"}


def test_the_required_recipes_are_shipped():
    assert REQUIRED <= set(shipped_recipes())


# Recipes whose model is another run's output (verifier_demo verifies the demo's agent): given a model here.
TRAINED_AGENT = {"verifier_demo"}


@pytest.mark.parametrize("name", shipped_recipes())
def test_recipe_composes_and_validates(name, compose_config, file_layout):
    agent = [f"model.name_or_path={file_layout['model']}"] if name in TRAINED_AGENT else []
    cfg = compose_config(f"recipe={name}", f"data.offline_root={file_layout['offline']}", *agent)
    config = validate_run_config(cfg)
    assert config["recipe"]["name"] == name
    assert config["run"]["name"] == name
    stages = config["recipe"]["stages"]
    assert stages and all(set(s) >= {"kind", "name"} for s in stages)
    # stage nodes come back completed with their Config defaults
    for stage in stages:
        if stage["kind"] == "sft":
            assert stage["learning_rate"] == pytest.approx(1e-4)
        if stage["kind"] == "dpo":
            assert stage["learning_rate"] == pytest.approx(5e-6) and stage["beta"] == pytest.approx(0.1)


@pytest.mark.parametrize("size,model,zero", [("7b", "Qwen/Qwen2.5-7B-Instruct", "zero2"),
                                             ("14b", "Qwen/Qwen2.5-14B-Instruct", "zero3")])
def test_cluster_recipes_pick_backbone_and_deepspeed(size, model, zero, compose_config, file_layout):
    for kind in ("sft", "dpo", "idpo", "pipeline"):
        config = validate_run_config(compose_config(f"recipe={kind}_{size}"))
        assert config["model"]["name_or_path"] == model          # Hub name: not checked on disk
        assert config["cluster"]["launcher"] == "accelerate"
        assert config["cluster"]["accelerate_config"] == f"recipes/accelerate/{zero}.yaml"
        assert (REPO / config["cluster"]["accelerate_config"]).is_file()
        assert (REPO / config["cluster"]["deepspeed"]).is_file()
    kinds = [s["kind"] for s in validate_run_config(compose_config(f"recipe=pipeline_{size}"))["recipe"]["stages"]]
    assert kinds.index("sft") < kinds.index("dpo") < kinds.index("idpo")


def test_demo_uses_the_local_smollm2_and_the_packs(compose_config, file_layout):
    config = validate_run_config(compose_config("recipe=demo", f"data.offline_root={file_layout['offline']}"))
    assert config["model"]["name_or_path"] == str(file_layout["model"])
    assert config["cluster"]["launcher"] == "python"
    stages = config["recipe"]["stages"]
    kinds = [s["kind"] for s in stages]
    assert kinds[:2] == ["packs", "evaluate"] and kinds[-1] == "evaluate"          # SR before ... after
    assert kinds.index("sft") < kinds.index("idpo") < kinds.index("rl")
    assert stages[kinds.index("rl")]["backend"] == "trl"                            # verl needs GPUs


def test_verifier_demo_without_the_demo_agent_says_to_run_the_demo(compose_config, file_layout, tmp_path):
    from copilot.config import ConfigError

    cfg = compose_config("recipe=verifier_demo", f"data.offline_root={file_layout['offline']}",
                         f"model.name_or_path={tmp_path / 'runs/demo/grpo/model'}")
    with pytest.raises(ConfigError, match="does not exist; create it with `make demo`"):
        validate_run_config(cfg)


def test_evaluating_the_expert_or_an_endpoint_needs_no_local_model(compose_config, file_layout, tmp_path):
    for policy in ("expert", "openai"):
        cfg = compose_config("recipe=evaluate", f"data.offline_root={file_layout['offline']}",
                             f"model.name_or_path={tmp_path / 'nothing'}", f"++recipe.stages.1.policy={policy}")
        assert validate_run_config(cfg)["recipe"]["stages"][1]["policy"] == policy
    with pytest.raises(Exception, match="does not exist"):
        validate_run_config(compose_config("recipe=evaluate", f"data.offline_root={file_layout['offline']}",
                                           f"model.name_or_path={tmp_path / 'nothing'}"))


@pytest.mark.parametrize("name", shipped_recipes())
def test_recipe_header_states_the_launch_commands(name):
    text = (RECIPES / "recipe" / f"{name}.yaml").read_text()
    header = text.split("defaults:")[0]
    assert f"python -m copilot.train recipe={name}" in header
    if name not in ("demo", "verifier_demo"):      # the CPU recipes have no Slurm script
        assert f"sbatch slurm/{name}.sh" in header


def test_cfg_job_prints_the_config_and_creates_no_outputs_dir(tmp_path):
    result = subprocess.run([sys.executable, "-m", "copilot.train", "recipe=demo", "--cfg", "job"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "stages:" in result.stdout and "kind: packs" in result.stdout
    assert list(tmp_path.iterdir()) == []          # no outputs/, no .hydra/, no runs/
