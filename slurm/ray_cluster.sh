#!/usr/bin/env bash
# One Ray cluster over a Slurm allocation, then one recipe run on its head node: the body of the multi-node RL
# scripts (slurm/grpo_7b.sh, ppo_7b.sh, grpo_14b.sh, ppo_14b.sh).
#   bash slurm/ray_cluster.sh RECIPE [hydra overrides...]      # inside an allocation (sbatch / salloc)
# 1. The allocation's nodes (`scontrol show hostnames $SLURM_JOB_NODELIST`); the first one is the head (the batch
#    script runs there); its address is `hostname --ip-address` run on it.
# 2. `ray start --head` on the head node and `ray start --address=HEAD:PORT` on every other node, each in a
#    background `srun` step that holds its node (--block: the step lives as long as that Ray node).
# 3. Wait until `ray status` lists every node as active (RAY_WAIT_S, default 600 s; else exit 1 with the count).
# 4. export RAY_ADDRESS=HEAD:PORT and run `python -m copilot.train recipe=RECIPE [overrides]` on the head node:
#    verl's trainer joins this cluster instead of starting its own (ray.init reads RAY_ADDRESS), and the RL
#    recipes take trainer.nnodes from $SLURM_JOB_NUM_NODES. A re-submitted job resumes (verl's checkpoints).
# 5. On exit (success, failure or scancel): `ray stop` on every node, then the srun steps are ended.
# Environment: MEDCOPILOT_VENV (default <repo>/.venv) is activated when it exists; RAY_PORT (6379);
# GPUS_PER_NODE (default $SLURM_GPUS_ON_NODE, else 8); RAY_WAIT_S (600); RAY_HEAD_DELAY_S (10: the head's start-up
# before workers dial in). MEDAGENTGYM_DIR and WANDB_API_KEY pass through from the submitting shell.
# Simplified: one Ray node per Slurm node, the head node also trains, default Ray object store / dashboard.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash slurm/ray_cluster.sh RECIPE [overrides...]  (e.g. grpo_7b recipe.stages.0.max_steps=200)" >&2
  exit 2
fi
recipe="$1"; shift
: "${SLURM_JOB_NODELIST:?slurm/ray_cluster.sh: not inside a Slurm allocation (SLURM_JOB_NODELIST unset); use sbatch}"
# shellcheck source=slurm/job_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/job_env.sh" "$recipe"   # repo, venv, offline env
port="${RAY_PORT:-6379}"
gpus="${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-8}}"
wait_s="${RAY_WAIT_S:-600}"

mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head="${nodes[0]}"
head_ip="$(srun --nodes=1 --ntasks=1 --nodelist="$head" hostname --ip-address | awk '{print $1}')"
export RAY_ADDRESS="$head_ip:$port"
echo "[$(date -u +%FT%TZ)] job ${SLURM_JOB_ID:-none}: ${#nodes[@]} node(s) (${nodes[*]}), Ray head $head at" \
     "$RAY_ADDRESS, $gpus GPU(s) per node"

steps=()
cleanup() {
  for node in "${nodes[@]}"; do
    srun --nodes=1 --ntasks=1 --overlap --nodelist="$node" ray stop --force >/dev/null 2>&1 || true
  done
  for pid in "${steps[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

srun --nodes=1 --ntasks=1 --nodelist="$head" \
  ray start --head --node-ip-address="$head_ip" --port="$port" --num-gpus="$gpus" --block &
steps+=("$!")
sleep "${RAY_HEAD_DELAY_S:-10}"
for node in "${nodes[@]:1}"; do
  srun --nodes=1 --ntasks=1 --nodelist="$node" ray start --address="$RAY_ADDRESS" --num-gpus="$gpus" --block &
  steps+=("$!")
done

active_nodes() {   # the node lines of the "Active:" section of `ray status`
  ray status --address="$RAY_ADDRESS" 2>/dev/null \
    | awk '/^Active:/ {on = 1; next} /^[A-Za-z][A-Za-z ]*:/ {on = 0} on && /node_/ {n++} END {print n + 0}'
}
waited=0
until [ "$(active_nodes)" -ge "${#nodes[@]}" ]; do
  if [ "$waited" -ge "$wait_s" ]; then
    echo "slurm/ray_cluster.sh: after ${wait_s}s only $(active_nodes) of ${#nodes[@]} Ray node(s) are active;" \
         "see the srun steps' output above" >&2
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done
echo "[$(date -u +%FT%TZ)] all ${#nodes[@]} Ray node(s) active; recipe=$recipe $* on $head"
python -m copilot.train "recipe=$recipe" "$@"
