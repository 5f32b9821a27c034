#!/usr/bin/env bash
#SBATCH --job-name=idpo_14b
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --mem=0
#SBATCH --time=72:00:00
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out
# iterative DPO of Qwen2.5-14B-Instruct on one 8-GPU node (recipes/recipe/idpo_14b.yaml). Submit from the repo root:
#   sbatch slurm/idpo_14b.sh [hydra overrides...]     e.g. sbatch slurm/idpo_14b.sh run.name=idpo_14b-try2 logger=wandb_online
# Adjust the #SBATCH lines (partition, account, time) to your cluster; re-submitting resumes the run.
exec bash "${SLURM_SUBMIT_DIR:-.}/slurm/single_node.sh" idpo_14b "$@"
