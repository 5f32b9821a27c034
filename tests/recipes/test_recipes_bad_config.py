"""Bad configs fail before any stage starts, with an error naming the key / path and what was expected."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from copilot.config import ConfigError, validate_run_config
from copilot.stages import STAGES


def error_of(compose_config, *overrides: str, check_paths: bool = True) -> str:
    with pytest.raises(ConfigError) as info:
        validate_run_config(compose_config(*overrides), check_paths=check_paths)
    return str(info.value)


def test_unknown_recipe_lists_the_recipes(compose_config):
    with pytest.raises(MissingConfigException) as info:
        compose_config("recipe=sft_70b")
    assert "recipe/sft_70b" in str(info.value)
    for name in ("demo", "sft_7b", "pipeline_14b"):
        assert name in str(info.value)


def test_missing_recipe_says_so(compose_config):
    with pytest.raises(ConfigCompositionException) as info:
        compose_config()
    assert "You must specify 'recipe'" in str(info.value) and "sft_7b" in str(info.value)


def test_misspelt_stage_key_names_its_path_and_the_valid_keys(compose_config, file_layout):
    message = error_of(compose_config, "recipe=pipeline_7b", "+recipe.stages.2.learnig_rate=1e-5")
    assert message.startswith("recipe.stages[2].learnig_rate: unknown key")
    assert "did you mean 'learning_rate'" in message and "'per_device_train_batch_size'" in message


def test_misspelt_nested_key(compose_config, file_layout):
    message = error_of(compose_config, "recipe=sft_7b", "+model.lora.rank=8")
    assert message.startswith("model.lora.rank: unknown key") and "'r'" in message and "'alpha'" in message


def test_misspelt_episode_key_lists_episode_settings(compose_config, file_layout):
    message = error_of(compose_config, "recipe=sft_7b", "+episode.max_turn=3")
    assert message.startswith("episode.max_turn: unknown key") and "max_turns" in message


@pytest.mark.parametrize("override,expected", [
    ("model.dtype=fp8", "model.dtype: 'fp8' is not a valid choice; expected one of ['auto', 'float32'"),
    ("sandbox.kind=k8s", "sandbox.kind: 'k8s' is not a valid choice; expected one of ['process', 'docker', 'http']"),
    ("logger.wandb.mode=cloud", "logger.wandb.mode: 'cloud' is not a valid choice"),
    ("recipe.stages.0.policy=gpt", "recipe.stages[0].policy: 'gpt' is not a valid choice; expected one of ['expert'"),
    ("model.lora.r=eight", "model.lora.r: 'eight' is not an integer"),
    ("recipe.stages.1.learning_rate=fast", "recipe.stages[1].learning_rate: 'fast' is not a number"),
    ("+recipe.stages.1.max_steps=ten", "recipe.stages[1].max_steps: 'ten' is not an integer"),
    ("episode.action_format=xml", "episode: EpisodeSettings.action_format: 'xml'"),
])
def test_wrong_value_names_key_and_choices(override, expected, compose_config, file_layout):
    assert expected in error_of(compose_config, "recipe=sft_7b", override)


def test_unknown_pack_name_lists_the_packs(compose_config, file_layout):
    message = error_of(compose_config, "recipe=demo", "+recipe.stages.0.packs=[ehr_sql,ehr_sqll]")
    assert message.startswith("recipe.stages[0].packs[1]: 'ehr_sqll' is not a valid choice; expected one of ['ehr_sql'")


def test_unknown_stage_kind_lists_the_kinds(compose_config, file_layout):
    message = error_of(compose_config, "recipe=sft_7b", "recipe.stages.1.kind=grpo")
    assert "recipe.stages[1].kind: 'grpo' is not a stage kind" in message and "'sft'" in message


def test_kind_whose_module_is_not_written_yet_is_a_clear_error(compose_config, file_layout, monkeypatch):
    monkeypatch.setitem(STAGES, "rl", "copilot.stages.rl_not_written_yet")
    message = error_of(compose_config, "recipe=sft_7b", "recipe.stages.1.kind=rl", check_paths=False)
    assert "recipe.stages[1].kind" in message and "does not exist in this checkout" in message


def test_duplicate_stage_names(compose_config, file_layout):
    message = error_of(compose_config, "recipe=sft_7b", "recipe.stages.2.name=sft")
    assert "recipe.stages[2].name: 'sft' is already the name of recipe.stages[1]" in message


def test_missing_local_model_names_it_and_the_prepare_command(compose_config, file_layout, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDCOPILOT_CACHE", str(tmp_path / "empty-cache"))
    message = error_of(compose_config, "recipe=demo", f"data.offline_root={file_layout['offline']}")
    assert message.startswith("model.name_or_path: local model directory")
    assert str(tmp_path / "empty-cache" / "models" / "SmolLM2-135M-Instruct") in message
    assert "python -m copilot.models.smollm2 prepare" in message


def test_hub_model_names_are_not_checked_on_disk(compose_config, file_layout):
    config = validate_run_config(compose_config("recipe=sft_7b", "model.name_or_path=SomeOrg/NotDownloaded-7B"))
    assert config["model"]["name_or_path"] == "SomeOrg/NotDownloaded-7B"


def test_empty_dataset_dir_is_named(compose_config, file_layout):
    (file_layout["data"] / "eicu" / "train_tasks.jsonl").unlink()
    message = error_of(compose_config, "recipe=sft_7b")
    assert message.startswith("data.train[1]: dataset dir") and "eicu is empty" in message


def test_missing_dataset_dir_is_named(compose_config, file_layout, tmp_path):
    message = error_of(compose_config, "recipe=sft_7b", f"data.test=[{tmp_path}/nowhere]")
    assert message.startswith("data.test[0]: dataset dir") and "nowhere does not exist" in message


def test_force_stage_must_name_a_stage(compose_config, file_layout):
    message = error_of(compose_config, "recipe=sft_7b", "+force_stage=dpo")
    assert "force_stage: 'dpo' is not a stage of recipe 'sft_7b'" in message and "'sample_teacher'" in message


def test_command_line_typo_without_plus_gets_the_same_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "copilot.train", "recipe=sft_7b", "recipe.stages.1.learnig_rate=1"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "recipe.stages[1].learnig_rate: unknown key (did you mean 'learning_rate'?)" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override,expected", [
    ("data.exclude=[ungradable,bad_verdict]",
     "data.exclude[1]: 'bad_verdict' is not a valid choice; expected one of "
     "['gradable', 'ungradable', 'label_disputed', 'needs_data', 'malformed']"),
    ("tasks.on_malformed=ignore",
     "tasks.on_malformed: 'ignore' is not a valid choice; expected one of ['error', 'skip']"),
    ("+tasks.on_malformd=skip", "tasks.on_malformd: unknown key (did you mean 'on_malformed'?)"),
])
def test_task_selection_keys_are_checked(compose_config, file_layout, override, expected):
    assert error_of(compose_config, "recipe=sft_7b", override, check_paths=False).startswith(expected)


def test_missing_audit_file_is_named_before_anything_runs(compose_config, file_layout, tmp_path):
    missing = tmp_path / "audit.jsonl"
    message = error_of(compose_config, "recipe=demo", f"data.audit={missing}")
    assert message.startswith(f"data.audit: {missing} does not exist") and "python -m copilot.tasks.audit" in message
