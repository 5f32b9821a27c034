#!/usr/bin/env bash
#SBATCH --job-name=ppo_14b
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --mem=0
#SBATCH --exclusive
#SBATCH --time=48:00:00
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out
# Online PPO of Qwen2.5-14B-Instruct through verl on N nodes x 8 GPUs (recipes/recipe/ppo_14b.yaml). Submit from the repo root:
#   sbatch slurm/ppo_14b.sh [hydra overrides...]     e.g. sbatch slurm/ppo_14b.sh recipe.stages.0.max_steps=200
#   sbatch --nodes=4 slurm/ppo_14b.sh model.name_or_path=runs/pipeline_14b/dpo/model
# slurm/ray_cluster.sh starts one Ray cluster over the allocated nodes and runs the recipe on the head node.
# Adjust the #SBATCH lines (partition, account, time) to your cluster; re-submitting resumes the run.
exec bash "${SLURM_SUBMIT_DIR:-.}/slurm/ray_cluster.sh" ppo_14b "$@"
