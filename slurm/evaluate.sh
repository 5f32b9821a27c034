#!/usr/bin/env bash
#SBATCH --job-name=evaluate
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --mem=0
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out
# Evaluate a model (SR, Pass@K, Best@K) on one GPU node (recipes/recipe/evaluate.yaml). Submit from the repo root:
#   sbatch slurm/evaluate.sh [hydra overrides...]     e.g. sbatch slurm/evaluate.sh model.name_or_path=runs/pipeline_7b/grpo/model 'recipe.stages.1.k=16'
# Adjust the #SBATCH lines (partition, account, time) to your cluster; re-submitting resumes the run.
exec bash "${SLURM_SUBMIT_DIR:-.}/slurm/single_node.sh" evaluate "$@"
