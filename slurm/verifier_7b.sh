#!/usr/bin/env bash
#SBATCH --job-name=verifier_7b
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --mem=0
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out
# The YES/NO verifier (Qwen2.5-7B-Instruct) and Best@16 of the agent, on one 8-GPU node (recipes/recipe/verifier_7b.yaml). Submit from the repo root:
#   sbatch slurm/verifier_7b.sh [hydra overrides...]     e.g. sbatch slurm/verifier_7b.sh model.name_or_path=runs/pipeline_7b/grpo/model
# Adjust the #SBATCH lines (partition, account, time) to your cluster; re-submitting resumes the run.
exec bash "${SLURM_SUBMIT_DIR:-.}/slurm/single_node.sh" verifier_7b "$@"
