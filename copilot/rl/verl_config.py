"""verl's own PPO trainer config, composed with our settings: every verl option stays an override.

    cfg = compose_verl_config("grpo", model="Qwen/Qwen2.5-7B-Instruct",
                              data_files={"train": ["runs/x/rl/train.parquet"], "val": ["runs/x/rl/val.parquet"]},
                              tool_config_path="runs/x/rl/verl_tools.yaml", overrides=["trainer.nnodes=2"])
    validate_verl_config(cfg, local_model_dir=None) # verl's own checks (those `verl.trainer.main_ppo` runs)
    path = save_verl_config(cfg, run_dir)           # run_dir/verl_config.yaml, fully resolved
    launch_command(path)                            # python -m verl.trainer.main_ppo --config-path ... --config-name ...

How: Hydra composes verl's config package `verl.trainer.config` (primary config `ppo_trainer`, the one its
`main_ppo` uses) with a list of override strings: first `paper_overrides(...)` (ours), then the caller's
`overrides` (later wins, so any verl key can be changed from a recipe or the command line). The paper's
defaults (MedAgentGym online RL): batch 128, actor lr 1e-5, rollout temperature 0.6, KL coefficient 1e-3,
15 assistant turns, vLLM rollouts, FSDP. GRPO puts the KL in the actor loss (verl's GRPO recipe,
low_var_kl); PPO puts it in the reward (the classic KL-penalised PPO) and adds a critic with lr 1e-5.
Chosen here, not stated by the paper: GRPO group size n=8, mini-batch 32, 4096 prompt / 8192 response tokens,
8 GPUs per node, tool observations up to 8192 characters (our own observation caps apply first).

Reward: `reward.custom_reward_function.{path,name}` (verl 0.9), with
`reward.custom_reward_function.reward_kwargs.require_trajectory=true` (a sample whose agent-loop trajectory is
missing is an error in reward.verl, not a silent single-turn score); `reward_kwargs.weights` (set by the rl
stage) are reward.score's correctness / format weights. The pre-0.9 top-level
`custom_reward_function.*` keys are still in verl's tree (legacy_reward_impl.yaml) but are silently ignored
by its 0.9 trainer: an override that sets them is refused here with a message naming the new key, and the
composed config is checked to leave every legacy reward key null.

Not covered: the Hydra global state is taken over for the duration of a compose (and restored afterwards),
so do not compose from two threads at once. Validation runs verl's CPU-side checks (dataclass conversion,
batch-size arithmetic); what needs GPUs (vLLM engine args, FSDP sharding) is only checked when verl starts.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from copilot.config.hydra_values import hydra_value  # noqa: F401  (re-exported: stages.rl uses it from here)
from copilot.rl.verl_version import require_verl

ALGORITHMS = ("grpo", "ppo")
REPO_ROOT = Path(__file__).resolve().parents[2]
REWARD_FUNCTION_PATH = REPO_ROOT / "reward" / "verl.py"
REWARD_FUNCTION_NAME = "compute_score"
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_TOOL_CONFIG = PACKAGE_DIR / "verl_tools.yaml"
AGENT_LOOP_CONFIG = PACKAGE_DIR / "verl_agent_loops.yaml"
AGENT_LOOP_NAME = "copilot_tool_agent"
CONFIG_NAME = "verl_config"
# pre-0.9 locations of the reward settings: verl 0.9 keeps them in its tree but ignores them
LEGACY_REWARD_ROOTS = ("custom_reward_function", "reward_model", "sandbox_fusion")

REWARD_KWARGS = "reward.custom_reward_function.reward_kwargs"
MAX_VLLM_LORA_RANK = 512   # verl 0.9.1's fallback for vLLM's MaxLoRARanks when vLLM is not importable
PAPER = {"train_batch_size": 128, "lr": 1e-5, "temperature": 0.6, "kl_coef": 1e-3, "max_assistant_turns": 15}


class VerlConfigError(ValueError):
    """A bad argument or override for the verl config; the message names the key and what was expected."""


def paper_overrides(algorithm: str, model: str, train_files: Sequence[str], val_files: Sequence[str],
                    tool_config_path: str | Path, *, experiment_name: str = "med-copilot",
                    checkpoint_dir: str | Path | None = None) -> list[str]:
    """Our settings as Hydra override strings (applied before the caller's own overrides)."""
    if algorithm not in ALGORITHMS:
        raise VerlConfigError(f"algorithm: {algorithm!r}; expected one of {ALGORITHMS}")
    settings: dict[str, Any] = {
        # data: our parquet export (copilot.rl.verl_data), prompts are chat messages
        "data.train_files": list(train_files),
        "data.val_files": list(val_files),
        "data.train_batch_size": PAPER["train_batch_size"],
        "data.max_prompt_length": 4096,
        "data.max_response_length": 8192,
        "data.filter_overlong_prompts": True,
        "data.truncation": "error",
        "data.return_raw_chat": True,
        # actor (FSDP) and reference
        "actor_rollout_ref.model.path": model,
        "actor_rollout_ref.model.use_remove_padding": True,
        "actor_rollout_ref.model.enable_gradient_checkpointing": True,
        "actor_rollout_ref.actor.strategy": "fsdp",
        "actor_rollout_ref.actor.optim.lr": PAPER["lr"],
        "actor_rollout_ref.actor.ppo_mini_batch_size": 32,
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu": 2,
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": 4,
        # rollout: vLLM, multi-turn with our sandbox tool and agent loop
        "actor_rollout_ref.rollout.name": "vllm",
        "actor_rollout_ref.rollout.mode": "async",
        "actor_rollout_ref.rollout.temperature": PAPER["temperature"],
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu": 4,
        "actor_rollout_ref.rollout.multi_turn.enable": True,
        "actor_rollout_ref.rollout.multi_turn.max_assistant_turns": PAPER["max_assistant_turns"],
        "actor_rollout_ref.rollout.multi_turn.max_parallel_calls": 1,  # our episodes take one action a turn
        "actor_rollout_ref.rollout.multi_turn.max_tool_response_length": 8192,
        "actor_rollout_ref.rollout.multi_turn.format": "hermes",
        "actor_rollout_ref.rollout.multi_turn.tool_config_path": str(tool_config_path),
        "actor_rollout_ref.rollout.agent.default_agent_loop": AGENT_LOOP_NAME,
        "actor_rollout_ref.rollout.agent.agent_loop_config_path": str(AGENT_LOOP_CONFIG),
        # reward: reward.score behind verl's custom reward function (verl 0.9 keys)
        "reward.custom_reward_function.path": str(REWARD_FUNCTION_PATH),
        "reward.custom_reward_function.name": REWARD_FUNCTION_NAME,
        # trainer
        "trainer.project_name": "med-copilot",
        "trainer.experiment_name": experiment_name,
        "trainer.logger": ["console"],
        "trainer.n_gpus_per_node": 8,
        "trainer.nnodes": 1,
        "trainer.save_freq": 20,
        "trainer.test_freq": 10,
        "trainer.total_epochs": 1,
    }
    if checkpoint_dir is not None:
        settings["trainer.default_local_dir"] = str(checkpoint_dir)
    if algorithm == "grpo":
        settings.update({
            "algorithm.adv_estimator": "grpo",
            "algorithm.use_kl_in_reward": False,
            "actor_rollout_ref.rollout.n": 8,
            "actor_rollout_ref.actor.use_kl_loss": True,
            "actor_rollout_ref.actor.kl_loss_coef": PAPER["kl_coef"],
            "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
        })
    else:
        settings.update({
            "algorithm.adv_estimator": "gae",
            "algorithm.use_kl_in_reward": True,
            "algorithm.kl_ctrl.kl_coef": PAPER["kl_coef"],
            "actor_rollout_ref.rollout.n": 1,
            "actor_rollout_ref.actor.use_kl_loss": False,
            "critic.model.path": model,
            "critic.optim.lr": PAPER["lr"],
            "critic.ppo_micro_batch_size_per_gpu": 2,
        })
    # keys verl's schema does not declare (reward_kwargs reach compute_score as keyword arguments): "++" adds them
    added = {f"{REWARD_KWARGS}.require_trajectory": True}   # a sample without the agent loop's trajectory is an error
    return ([f"{key}={hydra_value(value)}" for key, value in settings.items()]
            + [f"++{key}={hydra_value(value)}" for key, value in added.items()])


def _check_override_keys(overrides: Sequence[str]) -> None:
    for index, override in enumerate(overrides):
        if not isinstance(override, str) or "=" not in override:
            raise VerlConfigError(f"overrides[{index}]: {override!r} is not a Hydra override 'key=value'")
        key = override.split("=", 1)[0].lstrip("+~")
        root = key.split(".", 1)[0]
        if root in LEGACY_REWARD_ROOTS:
            raise VerlConfigError(f"overrides[{index}]: {key!r} is a pre-0.9 verl key that verl 0.9 ignores; use "
                                  f"'reward.{key}' instead")


def assert_no_legacy_reward_keys(cfg) -> None:
    """Every leaf under the pre-0.9 reward roots must be null (else verl 0.9 silently ignores a setting)."""
    from omegaconf import OmegaConf

    def leaves(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, f"{prefix}.{key}")
        else:
            yield prefix, node

    for root in LEGACY_REWARD_ROOTS:
        if root not in cfg:
            continue
        tree = OmegaConf.to_container(cfg[root], resolve=True, throw_on_missing=False)
        set_keys = [key for key, value in leaves(tree, root) if value is not None]
        if set_keys:
            raise VerlConfigError(f"verl config sets pre-0.9 key(s) {set_keys}, which verl 0.9 ignores; use the "
                                  f"same keys under 'reward.' instead")


def compose_verl_config(algorithm: str, model: str, data_files: Mapping[str, Sequence[str | Path]], *,
                        overrides: Sequence[str] = (), tool_config_path: str | Path | None = None,
                        experiment_name: str = "med-copilot", checkpoint_dir: str | Path | None = None):
    """verl's `ppo_trainer` config + our settings + `overrides` (in that order) -> DictConfig."""
    require_verl(what="composing the verl config")
    if not isinstance(data_files, Mapping) or not data_files.get("train"):
        raise VerlConfigError(f"data_files: expected {{'train': [parquet, ...], 'val': [parquet, ...]}}, "
                              f"got {data_files!r}")
    train = [str(p) for p in data_files["train"]]
    val = [str(p) for p in (data_files.get("val") or data_files["train"])]
    unknown = sorted(set(data_files) - {"train", "val"})
    if unknown:
        raise VerlConfigError(f"data_files: unknown key(s) {unknown}; expected 'train' and 'val'")
    overrides = list(overrides)
    _check_override_keys(overrides)
    ours = paper_overrides(algorithm, model, train, val, tool_config_path or DEFAULT_TOOL_CONFIG,
                           experiment_name=experiment_name, checkpoint_dir=checkpoint_dir)
    cfg = _compose(ours + overrides)
    assert_no_legacy_reward_keys(cfg)
    return cfg


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    global_hydra = GlobalHydra.instance()
    saved = global_hydra.hydra if global_hydra.is_initialized() else None  # e.g. inside `copilot.train`
    global_hydra.clear()
    try:
        with initialize_config_module(config_module="verl.trainer.config", version_base=None):
            return compose(config_name="ppo_trainer", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise VerlConfigError(f"verl config: an override does not fit verl's ppo_trainer config: {err}") from err
    finally:
        global_hydra.clear()
        if saved is not None:
            global_hydra.initialize(saved)


def validate_verl_config(cfg, *, local_model_dir: str | Path | None = None) -> None:
    """verl's own checks, as `verl.trainer.main_ppo` runs them, plus the dataclass conversion of each part.

    verl's checks build the critic's (PPO) and, here, the actor's HFModelConfig, which reads the model's HF
    config and tokenizer. Nothing may be downloaded, so a model named by Hub id is checked with
    `local_model_dir` standing in for it (on a copy of `cfg`; say so where it matters: shapes differ, keys
    do not); with no stand-in, a Hub-named model is a clear error for PPO and skipped for GRPO's actor.
    verl's vLLM LoRA-rank check imports vLLM; where it is not installed (a CPU machine) the rank is checked
    against verl's own fallback bound instead.
    """
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    assert_no_legacy_reward_keys(cfg)
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    for node in ("actor_rollout_ref.model", "critic.model"):
        path = OmegaConf.select(cfg, node + ".path")
        if path is not None and not Path(str(path)).is_dir():
            if local_model_dir is not None:
                OmegaConf.update(cfg, node + ".path", str(local_model_dir))
            elif node == "critic.model" and need_critic(cfg):
                raise VerlConfigError(f"{node}.path: {path!r} is not a local directory; verl's critic check loads "
                                      f"its HF config: pass local_model_dir= (a local model of the same family) "
                                      f"or download the model first")
    # (by here every model path verl would load is a local directory, so nothing touches the Hub)
    lora_rank = int(OmegaConf.select(cfg, "actor_rollout_ref.model.lora_rank", default=0) or 0)
    if lora_rank > 0 and cfg.actor_rollout_ref.rollout.name == "vllm" and importlib.util.find_spec("vllm") is None:
        # verl's last check (vLLM's LoRA ranks) imports vLLM: without it, check verl's own fallback bound here and
        # run the other checks on a copy without LoRA
        if lora_rank > MAX_VLLM_LORA_RANK:
            raise VerlConfigError(f"actor_rollout_ref.model.lora_rank = {lora_rank}; vLLM accepts at most "
                                  f"{MAX_VLLM_LORA_RANK}")
        cfg = OmegaConf.merge(cfg, {"actor_rollout_ref": {"model": {"lora_rank": 0}}})
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    omega_conf_to_dataclass(cfg.algorithm)
    if Path(str(cfg.actor_rollout_ref.model.path)).is_dir():
        omega_conf_to_dataclass(cfg.actor_rollout_ref.model)
    # the reward function and manager are loaded the way verl's trainer loads them (by file path, then
    # getattr); verl 0.9.1's own RewardConfig dataclass conversion is broken (RewardManagerConfig calls a
    # missing super().__post_init__) and verl never runs it, so neither do we
    reward_path = Path(cfg.reward.custom_reward_function.path)
    if not reward_path.is_file():
        raise VerlConfigError(f"reward.custom_reward_function.path: {reward_path} does not exist")
    if get_custom_reward_fn(cfg) is None:
        raise VerlConfigError("reward.custom_reward_function: verl found no reward function")
    resolve_reward_manager_cls(cfg)
    reward_model = cfg.reward.reward_model
    if reward_model.enable and not reward_model.enable_resource_pool:
        # then verl scores after the rollout from top-level batch keys, and the agent loop's
        # extra_fields["trajectory"] never reaches compute_score's extra_info (reward.verl would silently
        # fall back to scoring the decoded text single-turn)
        raise VerlConfigError("reward.reward_model.enable=true needs reward.reward_model.enable_resource_pool=true "
                              "with our agent loop: otherwise the episode's trajectory does not reach the reward")
    tool_path = cfg.actor_rollout_ref.rollout.multi_turn.tool_config_path
    if tool_path and not Path(tool_path).is_file():
        raise VerlConfigError(f"actor_rollout_ref.rollout.multi_turn.tool_config_path: {tool_path} does not exist")


def save_verl_config(cfg, run_dir: str | Path) -> Path:
    """Write the fully resolved config to run_dir/verl_config.yaml (what `launch_command` starts)."""
    from omegaconf import OmegaConf

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"{CONFIG_NAME}.yaml"
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))
    tmp.replace(path)
    return path


def launch_command(config_path: str | Path, python: str = sys.executable) -> list[str]:
    """The command that runs verl's trainer on a saved config (use `shlex.join` to print it)."""
    config_path = Path(config_path).resolve()
    return [python, "-m", "verl.trainer.main_ppo", f"--config-path={config_path.parent}",
            f"--config-name={config_path.stem}"]


def launch_command_text(config_path: str | Path, python: str = "python") -> str:
    return shlex.join(launch_command(config_path, python))
