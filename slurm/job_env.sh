# Sourced by the Slurm job bodies (slurm/single_node.sh, slurm/ray_cluster.sh) after they have taken the
# recipe name from their arguments:
#   source "$(dirname "${BASH_SOURCE[0]}")/job_env.sh" "$recipe"
# Enters the repo (SLURM_SUBMIT_DIR, else the checkout this file is in), checks that the recipe exists
# (exit 2 naming it otherwise), activates MEDCOPILOT_VENV (default <repo>/.venv) when it exists, and sets
# the run-time environment: HF_HUB_OFFLINE=1 unless set (nothing is downloaded at run time: models must be
# local), TOKENIZERS_PARALLELISM=false. Sets `repo` and `gpus` (the node's GPU count: GPUS_PER_NODE, else
# SLURM_GPUS_ON_NODE, else nvidia-smi's list, else 0).
job_recipe="$1"
repo="${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$repo"
if [ ! -f "recipes/recipe/${job_recipe}.yaml" ]; then
  echo "$(basename "$0"): no recipe '$job_recipe' in $repo/recipes/recipe/ (submit from the repo root)" >&2
  exit 2
fi
venv="${MEDCOPILOT_VENV:-$repo/.venv}"
if [ -f "$venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
fi
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
export TOKENIZERS_PARALLELISM=false

# GPUs of this node: Slurm's count for the allocation, else what nvidia-smi lists, else 0. Sets `gpus`.
gpus="${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-}}"
if [ -z "$gpus" ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"; else gpus=0; fi
fi
