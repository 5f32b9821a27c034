"""The pipeline on real cheap stages (packs + expert sampling in a real sandbox): stage files, skip on re-run,
config-change protection, force / allow switches, failures, and the before/after report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from copilot.pipeline import DONE, PipelineError, collect_evaluations, print_summary, run, runs_under_accelerate
from copilot.run_metrics import read_metrics

STAGE_FILES = ("config.yaml", "command.txt", "outputs.json", "metrics.jsonl", "stage.log", DONE)


def store_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_cheap_pipeline_writes_stage_files_and_rerun_skips(cheap_config, tmp_path):
    config = cheap_config()
    summary = run(config, "python -m copilot.train recipe=cheap")
    run_dir = tmp_path / "runs" / "cheap"
    assert [r["status"] for r in summary["stages"]] == ["ran", "ran"]
    for stage in ("packs", "sample_expert"):
        for name in STAGE_FILES:
            assert (run_dir / stage / name).is_file(), f"{stage}/{name}"
    assert (tmp_path / "offline" / "ehr_sql" / "pack.json").is_file()
    outputs = json.loads((run_dir / "sample_expert" / "outputs.json").read_text())
    records = store_records(Path(outputs["trajectories"]))
    assert len(records) == 2 * 4 * 2                     # 2 packs x limit_train 4 x k 2
    assert {r["dataset"] for r in records} == {"ehr_sql", "medcalc"}
    # the stage node is saved with its Config defaults filled in, next to the rest of the run config
    saved = (run_dir / "sample_expert" / "config.yaml").read_text()
    assert "kind: sample" in saved and "temperature: 0.6" in saved and "offline_root:" in saved
    assert "recipe=cheap" in (run_dir / "packs" / "command.txt").read_text()
    assert [m["pack"] for m in read_metrics(run_dir / "packs")] == ["ehr_sql", "medcalc"]
    assert read_metrics(run_dir / "sample_expert")[0]["sampled"] == 16
    assert json.loads((run_dir / "summary.json").read_text())["recipe"] == "cheap"

    done_times = {s: (run_dir / s / DONE).stat().st_mtime_ns for s in ("packs", "sample_expert")}
    again = run(cheap_config(), "python -m copilot.train recipe=cheap")
    assert [r["status"] for r in again["stages"]] == ["skipped (done)", "skipped (done)"]
    assert again["stages"][1]["outputs"] == summary["stages"][1]["outputs"]
    assert {s: (run_dir / s / DONE).stat().st_mtime_ns for s in done_times} == done_times
    assert len((run_dir / "packs" / "command.txt").read_text().splitlines()) == 1


def test_changed_config_is_an_error_until_forced(cheap_config, tmp_path):
    run(cheap_config(), "first")
    with pytest.raises(PipelineError) as info:
        run(cheap_config("recipe.stages.1.k=3"), "second")
    message = str(info.value)
    assert "stage 2/2: sample_expert was finished with another config" in message
    assert "recipe.stages[1].k" in message and "+force_stage=sample_expert" in message

    # logger / cluster changes do not change what a stage produced
    assert run(cheap_config("logger.wandb.project=other"), "x")["stages"][1]["status"] == "skipped (done)"

    summary = run(cheap_config("recipe.stages.1.k=3", "+force_stage=sample_expert"), "third")
    assert [r["status"] for r in summary["stages"]] == ["skipped (done)", "ran"]
    replaced = list((tmp_path / "runs" / "cheap" / ".replaced").iterdir())
    assert len(replaced) == 1 and replaced[0].name.startswith("sample_expert-")
    assert len(store_records(Path(summary["stages"][1]["outputs"]["trajectories"]))) == 2 * 4 * 3


def test_allow_config_change_keeps_finished_stages(cheap_config):
    first = run(cheap_config(), "first")
    summary = run(cheap_config("data.limit_train=2", "+allow_config_change=true"), "second")
    assert [r["status"] for r in summary["stages"]] == ["skipped (done)", "skipped (done)"]
    assert summary["stages"][1]["outputs"] == first["stages"][1]["outputs"]


def test_failing_stage_leaves_no_done_names_its_log_and_resumes_there(cheap_config, tmp_path):
    # the sandbox server is down: an exception out of sampling, at run time (config validation cannot know)
    down = ("sandbox=http", "sandbox.options.url=http://127.0.0.1:9", "+sandbox.options.max_retries=0")
    with pytest.raises(PipelineError) as info:
        run(cheap_config(*down), "broken")
    run_dir = tmp_path / "runs" / "cheap"
    stage_dir = run_dir / "sample_expert"
    message = str(info.value)
    assert message.startswith("stage 2/2: sample_expert failed:")
    assert str(stage_dir / "stage.log") in message and "re-run the same command" in message
    assert (run_dir / "packs" / DONE).exists() and not (stage_dir / DONE).exists()
    assert "Traceback" in (stage_dir / "stage.log").read_text()
    # a re-run with the sandbox back (an explicit config change of the unfinished stage) resumes there
    summary = run(cheap_config("+allow_config_change=true"), "fixed")
    assert [r["status"] for r in summary["stages"]] == ["skipped (done)", "ran"]


def test_packs_stage_names_are_the_pack_registry():
    import typing

    from copilot.stages.packs import PackName
    from copilot.tasks.packs import PACKS

    assert list(typing.get_args(PackName)) == list(PACKS)


def test_before_after_table_from_evaluate_stages(tmp_path):
    rows = []
    for stage, rates in (("eval_before", {"ehr_sql": 0.1, "medcalc": 0.0}), ("eval_after", {"ehr_sql": 0.5, "medcalc": 0.4})):
        path = tmp_path / stage / "eval.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"success_rate": rates, "n": {"ehr_sql": 10, "medcalc": 10},
                                    "overall": sum(rates.values()) / 2}))
        rows.append({"stage": stage, "kind": "evaluate", "status": "ran", "seconds": 1.0, "outputs": {"eval": str(path)}})
    summary = {"run_dir": str(tmp_path), "recipe": "demo", "stages": rows, "seconds": 2.0,
               "evaluations": collect_evaluations(rows)}
    console = Console(record=True, width=160)
    print_summary(summary, console)
    text = console.export_text()
    assert "eval_before (before) vs eval_after (after)" in " ".join(text.split())   # the title may wrap
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 3}
    assert "10.0" in lines["ehr_sql"] and "50.0" in lines["ehr_sql"] and "+40.0" in lines["ehr_sql"]
    assert "+40.0" in lines["medcalc"] and "+40.0" in lines["overall"]


def test_verl_rl_stage_is_not_multiplied_by_accelerate():
    accelerate, local = {"cluster": {"launcher": "accelerate"}}, {"cluster": {"launcher": "python"}}
    assert runs_under_accelerate(accelerate, "sft", {"kind": "sft"})
    assert runs_under_accelerate(accelerate, "rl", {"kind": "rl", "backend": "trl"})
    assert not runs_under_accelerate(accelerate, "rl", {"kind": "rl", "backend": "verl"})   # verl starts Ray itself
    assert not runs_under_accelerate(accelerate, "rl", {"kind": "rl"})                     # verl is the default
    assert not runs_under_accelerate(accelerate, "evaluate", {"kind": "evaluate"})
    assert not runs_under_accelerate(local, "sft", {"kind": "sft"})


@pytest.mark.slow
def test_training_kinds_run_as_a_child_accelerate_launch(cheap_config, tmp_path, monkeypatch):
    # one CPU process under the real `accelerate launch`; packs stands in for a training stage (cheap)
    monkeypatch.setattr("copilot.pipeline.DISTRIBUTED_KINDS", {"packs"})
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")
    summary = run(cheap_config("cluster.launcher=accelerate", "cluster.num_processes=1"), "accelerate")
    stage_dir = tmp_path / "runs" / "cheap" / "packs"
    assert [r["status"] for r in summary["stages"]] == ["ran", "ran"]
    assert json.loads((stage_dir / "inputs.json").read_text()) == {}
    assert Path(json.loads((stage_dir / "outputs.json").read_text())["offline_root"]) == (tmp_path / "offline").resolve()
    assert "pack ehr_sql: built" in (stage_dir / "stage.log").read_text()
