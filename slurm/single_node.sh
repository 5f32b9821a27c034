#!/usr/bin/env bash
# Runs one recipe on the allocated node: the body of the single-node Slurm scripts (slurm/<recipe>.sh).
#   bash slurm/single_node.sh RECIPE [hydra overrides...]        # inside an allocation (sbatch / salloc)
# Training stages start their own 8 processes (accelerate + DeepSpeed, per the recipe's cluster group), so
# this launches ONE task per node. A re-submitted or requeued job resumes: the pipeline skips finished
# stages and training stages restart from their last checkpoint (runs/<name>/<stage>/checkpoints).
# Environment: MEDCOPILOT_VENV (default <repo>/.venv) is activated when it exists; MEDAGENTGYM_DIR,
# TEACHER_BASE_URL / TEACHER_MODEL / OPENAI_API_KEY and WANDB_API_KEY pass through from the submitting shell.
# Not handled here: multi-node training (the RL scripts start a Ray cluster; SFT/DPO run on one node).
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash slurm/single_node.sh RECIPE [overrides...]  (e.g. dpo_14b run.name=dpo14-try2)" >&2
  exit 2
fi
recipe="$1"; shift
# shellcheck source=slurm/job_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/job_env.sh" "$recipe"   # repo, venv, offline env
# accelerate starts one training process per GPU the job got (the recipe's cluster group says 8; a later
# cluster.num_processes=N on the command line still wins). No GPU: the recipe's own value is left alone.
launch=()
if [ "${gpus:-0}" -gt 0 ]; then launch=("cluster.num_processes=$gpus"); fi
echo "[$(date -u +%FT%TZ)] job ${SLURM_JOB_ID:-none} on $(hostname) ($gpus GPU(s)): recipe=$recipe ${launch[*]} $*"
exec python -m copilot.train "recipe=$recipe" "${launch[@]}" "$@"
