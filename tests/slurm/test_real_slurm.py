"""The Slurm scripts on a real Slurm: Debian's slurmctld + slurmd + munge as a one-node cluster on this machine
(tests/slurm/local_slurm.py), `sbatch --wait slurm/sft_7b.sh` and `slurm/pipeline_7b.sh` with overrides that
select the tiny Qwen2 and a small offline pack, and a preemption: the pipeline job is requeued mid-run and the
pipeline resumes where it stopped (finished stages are not run again)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for extra in (HERE, REPO / "tests" / "models"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import local_slurm  # noqa: E402

OK, WHY = local_slurm.available()
pytestmark = pytest.mark.skipif(not OK, reason=WHY)

# sbatch options that fit the scripts' 8-GPU node requests onto this 2-core, GPU-less node
CPU_NODE = ["--gpus-per-node=0", "--cpus-per-task=2", "--mem=8G"]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with local_slurm.LocalSlurm(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    from tiny_qwen2 import build_tiny_qwen2

    from copilot.tasks.packs import load_pack_module

    root = tmp_path_factory.mktemp("slurm_data")
    load_pack_module("biostat").build(root / "packs", 0, 4, 2)
    return {"model": build_tiny_qwen2(root / "tiny"), "pack": root / "packs" / "biostat", "root": root}


def overrides(small: dict[str, Path], run_root: Path, name: str) -> list[str]:
    pack = small["pack"]
    return [f"run.root={run_root}", f"run.name={name}", "logger=none", "cluster=local", "sandbox.options.workers=1",
            f"model.name_or_path={small['model']}", "data=offline_packs", f"data.offline_root={pack.parent}",
            f"data.train=[{pack}]", f"data.test=[{pack}]", "data.limit_train=4", "data.limit_test=2",
            "episode.max_turns=1"]


def done_stages(run_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in run_dir.glob("*/DONE"))


def test_sbatch_wait_sft_7b(slurm, small, tmp_path):
    # ++: set the key whether or not the recipe's stage node has it
    stages = ["recipe.stages.0.policy=expert", "~recipe.stages.0.policy_options", "recipe.stages.0.k=1",
              "recipe.stages.0.parallel=serial", "++recipe.stages.1.max_steps=2", "recipe.stages.1.max_length=2048",
              "++recipe.stages.2.max_new_tokens=16", "++recipe.stages.2.batch_size=2"]
    code, job = slurm.sbatch(["--wait", *CPU_NODE, f"--output={tmp_path}/slurm-%j.out", "slurm/sft_7b.sh",
                              *overrides(small, tmp_path / "runs", "sft_slurm"), *stages], cwd=REPO)
    log = next(tmp_path.glob("slurm-*.out")).read_text()
    assert code == 0, log[-4000:]
    run_dir = tmp_path / "runs" / "sft_slurm"
    assert done_stages(run_dir) == ["eval", "sample_teacher", "sft"]
    assert (run_dir / "sft" / "model" / "model.safetensors").is_file()
    assert f"job {job} on" in log and "recipe=sft_7b" in log
    assert slurm.job_state(job) == "COMPLETED"


PIPELINE_CPU = ("[{kind: sample, name: sample_teacher, policy: expert, k: 1, parallel: serial},"
                "{kind: evaluate, name: eval_base, label: base, max_new_tokens: 16, batch_size: 2},"
                "{kind: sft, name: sft, max_steps: 200, per_device_train_batch_size: 1, gradient_accumulation_steps: 1,"
                " max_length: 2048, save_steps: 2, logging_steps: 1},"
                "{kind: idpo, name: idpo, iterations: 1, k: 1, batch_size: 2, max_new_tokens: 16,"
                " dpo: {max_steps: 1, max_length: 2048, per_device_train_batch_size: 1, gradient_accumulation_steps: 1}},"
                "{kind: evaluate, name: eval_final, label: final, max_new_tokens: 16, batch_size: 2}]")


def test_pipeline_7b_is_requeued_mid_run_and_resumes(slurm, small, tmp_path):
    """The job is requeued (as on preemption) once SFT has started; the second run skips the finished stages,
    resumes SFT from its last checkpoint, and finishes the pipeline."""
    run_dir = tmp_path / "runs" / "pipeline_slurm"
    code, job = slurm.sbatch([*CPU_NODE, "--requeue", "--open-mode=append", f"--output={tmp_path}/slurm-%j.out",
                              "slurm/pipeline_7b.sh",
                              *overrides(small, tmp_path / "runs", "pipeline_slurm"),
                              f"recipe.stages={PIPELINE_CPU}"], cwd=REPO)
    assert code == 0
    deadline = time.monotonic() + 900
    while not list((run_dir / "sft" / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert time.monotonic() < deadline and slurm.job_state(job) in ("PENDING", "RUNNING", "CONFIGURING"), \
            f"job {job} is {slurm.job_state(job)} before SFT saved a checkpoint: {list(tmp_path.glob('slurm-*'))}"
        time.sleep(1)
    assert not (run_dir / "sft" / "DONE").exists()
    slurm.requeue(job)                                                   # what preemption does to a --requeue job
    while slurm.job_state(job) not in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
        assert time.monotonic() < deadline, f"job {job} still {slurm.job_state(job)} after 15 min"
        time.sleep(2)
    log = (tmp_path / f"slurm-{job}.out").read_text()
    assert slurm.job_state(job) == "COMPLETED", log[-4000:]
    assert done_stages(run_dir) == ["eval_base", "eval_final", "idpo", "sample_teacher", "sft"]
    assert log.count(f"job {job} on") == 2                               # two runs of the job, one log
    assert slurm.restart_count(job) == 1
    sft_log = (run_dir / "sft" / "stage.log").read_text()
    assert "resuming" in sft_log                                         # SFT restarted from its checkpoint
    summary = json.loads((run_dir / "summary.json").read_text())
    statuses = {s["stage"]: s["status"] for s in summary["stages"]}
    assert statuses["sample_teacher"] != "ran" and statuses["eval_base"] != "ran"   # not run twice
    assert statuses["eval_final"] == "ran"
