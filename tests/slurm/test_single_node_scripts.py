"""The single-node Slurm scripts (slurm/<recipe>.sh -> slurm/single_node.sh), run as sbatch would run them,
with a stand-in `python` on PATH that records its arguments (no Slurm or GPU here; the recipe itself is
tested in tests/recipes)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (REPO / "slurm").glob("*.sh")
                 if (REPO / "recipes/recipe" / f"{p.stem}.yaml").exists() and "single_node.sh" in p.read_text())


def run_script(script: Path, tmp_path: Path, *args: str, cwd: Path | None = None,
               env: dict | None = None) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "python"
    fake.write_text('#!/bin/sh\necho "PWD=$PWD"\necho "HF_HUB_OFFLINE=$HF_HUB_OFFLINE"\necho "ARGS=$*"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_SUBMIT_DIR": str(REPO), "SLURM_JOB_ID": "42",
           "MEDCOPILOT_VENV": str(tmp_path / "no-venv"), "HOME": str(tmp_path), **(env or {})}
    return subprocess.run(["bash", str(script), *args], env=env, cwd=cwd or tmp_path, capture_output=True,
                          text=True, timeout=30)


def test_every_recipe_header_names_an_existing_script():
    for recipe in (REPO / "recipes/recipe").glob("*.yaml"):
        for line in recipe.read_text().splitlines()[:12]:
            match = re.search(r"sbatch (slurm/\S+\.sh)", line)
            if match:
                assert (REPO / match.group(1)).is_file(), f"{recipe.name} names {match.group(1)}, which is missing"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_runs_its_recipe_from_the_submit_dir(script, tmp_path):
    text = script.read_text()
    assert "#SBATCH --nodes=1" in text and "#SBATCH --gpus-per-node=8" in text
    result = run_script(script, tmp_path, "run.name=try2", "logger=none")
    assert result.returncode == 0, result.stderr
    assert f"PWD={REPO}" in result.stdout and "HF_HUB_OFFLINE=1" in result.stdout
    assert f"ARGS=-m copilot.train recipe={script.stem} run.name=try2 logger=none" in result.stdout


def test_the_nodes_gpus_set_the_number_of_training_processes(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\nprintf 'GPU 0: H100\\nGPU 1: H100\\n'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    result = run_script(REPO / "slurm/dpo_14b.sh", tmp_path, "logger=none")
    assert "ARGS=-m copilot.train recipe=dpo_14b cluster.num_processes=2 logger=none" in result.stdout
    result = run_script(REPO / "slurm/dpo_14b.sh", tmp_path, "cluster.num_processes=1", env={"SLURM_GPUS_ON_NODE": "4"})
    assert "ARGS=-m copilot.train recipe=dpo_14b cluster.num_processes=4 cluster.num_processes=1" in result.stdout


def test_unknown_recipe_and_missing_argument_are_clear_errors(tmp_path):
    result = run_script(REPO / "slurm/single_node.sh", tmp_path, "dpo_99b")
    assert result.returncode == 2 and "no recipe 'dpo_99b'" in result.stderr
    result = run_script(REPO / "slurm/single_node.sh", tmp_path)
    assert result.returncode == 2 and "usage:" in result.stderr
