"""slurm/grpo_7b.sh (and the other RL scripts) under fake `scontrol` / `srun` / `ray` / `hostname` / `python`
on PATH: the commands it issues start a Ray head on the first node and a worker on every other node, wait for
all of them, run the recipe on the head node with RAY_ADDRESS set, and stop Ray on every node at the end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from recipe_files import REPO

SCRIPTS = ["ray_cluster.sh", "grpo_7b.sh", "ppo_7b.sh", "grpo_14b.sh", "ppo_14b.sh"]

SHIMS = {
    # log every call, then behave like the real tool as far as the script needs
    "scontrol": 'echo "scontrol $*" >> "$SHIM_LOG"\nfor n in $FAKE_NODES; do echo "$n"; done\n',
    "srun": 'echo "srun $*" >> "$SHIM_LOG"\nwhile [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n',
    "hostname": 'echo "hostname $*" >> "$SHIM_LOG"\necho 10.1.2.3\n',
    "ray": ('echo "ray $*" >> "$SHIM_LOG"\n'
            'if [ "$1" = status ]; then\n'
            '  echo "======== Autoscaler status ========"; echo "Node status"; echo "Active:"\n'
            '  for i in $(seq 1 "$FAKE_RAY_ACTIVE"); do echo " 1 node_$i"; done\n'
            '  echo "Pending:"; echo " (no pending nodes)"; echo "Recent failures:"; echo " (no failures)"\n'
            'fi\n'),
    "python": 'echo "python $* RAY_ADDRESS=$RAY_ADDRESS HF_HUB_OFFLINE=$HF_HUB_OFFLINE" >> "$SHIM_LOG"\n',
}


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse(script):
    done = subprocess.run(["bash", "-n", str(REPO / "slurm" / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def run_script(tmp_path: Path, active: int, *args: str, wait_s: int = 5):
    shims = tmp_path / "bin"
    shims.mkdir(exist_ok=True)
    for name, body in SHIMS.items():
        (shims / name).write_text("#!/usr/bin/env bash\n" + body)
        (shims / name).chmod(0o755)
    log = tmp_path / "calls.log"
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "SHIM_LOG": str(log),
           "SLURM_JOB_NODELIST": "gpu[01-03]", "SLURM_JOB_NUM_NODES": "3", "SLURM_SUBMIT_DIR": str(REPO),
           "SLURM_JOB_ID": "4242", "FAKE_NODES": "gpu01 gpu02 gpu03", "FAKE_RAY_ACTIVE": str(active),
           "RAY_HEAD_DELAY_S": "0", "RAY_WAIT_S": str(wait_s), "MEDCOPILOT_VENV": str(tmp_path / "no-venv")}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(["bash", str(REPO / "slurm" / "grpo_7b.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    return done, log.read_text().splitlines() if log.exists() else []


def test_grpo_7b_starts_a_ray_cluster_and_runs_the_recipe_on_the_head(tmp_path):
    done, calls = run_script(tmp_path, 3, "recipe.stages.0.max_steps=3", "run.name=g7")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "scontrol show hostnames gpu[01-03]" in calls
    assert "srun --nodes=1 --ntasks=1 --nodelist=gpu01 hostname --ip-address" in calls
    assert ("srun --nodes=1 --ntasks=1 --nodelist=gpu01 ray start --head --node-ip-address=10.1.2.3 --port=6379 "
            "--num-gpus=8 --block") in calls
    for worker in ("gpu02", "gpu03"):
        assert (f"srun --nodes=1 --ntasks=1 --nodelist={worker} ray start --address=10.1.2.3:6379 --num-gpus=8 "
                f"--block") in calls
    assert "ray status --address=10.1.2.3:6379" in calls
    python = [c for c in calls if c.startswith("python ")]
    assert python == ["python -m copilot.train recipe=grpo_7b recipe.stages.0.max_steps=3 run.name=g7 "
                      "RAY_ADDRESS=10.1.2.3:6379 HF_HUB_OFFLINE=1"]
    assert calls.index(python[0]) > calls.index("ray status --address=10.1.2.3:6379")
    stops = [c for c in calls if c.startswith("srun") and c.endswith("ray stop --force")]
    assert sorted(stops) == [f"srun --nodes=1 --ntasks=1 --overlap --nodelist={n} ray stop --force"
                             for n in ("gpu01", "gpu02", "gpu03")]
    assert calls.count("ray stop --force") == 3                          # and each one reached `ray`


def test_missing_ray_nodes_fail_before_training(tmp_path):
    done, calls = run_script(tmp_path, 2, wait_s=0)
    assert done.returncode == 1
    assert "only 2 of 3 Ray node(s) are active" in done.stderr
    assert not any(c.startswith("python ") for c in calls)
    assert calls.count("ray stop --force") == 3                          # cleaned up anyway


def test_outside_an_allocation_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    done = subprocess.run(["bash", str(REPO / "slurm" / "ray_cluster.sh"), "grpo_7b"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "not inside a Slurm allocation" in done.stderr
    done = subprocess.run(["bash", str(REPO / "slurm" / "ray_cluster.sh"), "no_such_recipe"],
                          env={**env, "SLURM_JOB_NODELIST": "n1"}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "no recipe 'no_such_recipe'" in done.stderr
