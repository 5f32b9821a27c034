"""The two images' package lists agree with pyproject.toml: every pin of images/trainer/Dockerfile and
sandbox/images/Dockerfile lies in the project's declared range; the trainer image pins every training / RL
dependency (nothing floats); its torch / vLLM / transformers are the ones verl declares for its vLLM rollout."""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from dockerfile_pins import dockerfile_pip_packages  # noqa: E402

TRAINER = REPO / "images" / "trainer" / "Dockerfile"
SANDBOX = REPO / "sandbox" / "images" / "Dockerfile"
# In the trainer image but not in pyproject, on purpose: GPU-only (vLLM: verl's rollout engine; DeepSpeed: the
# ZeRO configs of recipes/accelerate/), neither installable on the CPU machines the project is tested on.
GPU_ONLY = {"vllm", "deepspeed"}


def project_requirements() -> dict[str, list[Requirement]]:
    """canonical name -> its requirements in pyproject (dependencies and every extra)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found: dict[str, list[Requirement]] = {}
    for line in [*project["dependencies"], *[r for extra in project["optional-dependencies"].values() for r in extra]]:
        requirement = Requirement(line)
        found.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return found


def pins(dockerfile: Path) -> dict[str, str]:
    return {canonicalize_name(k): v for k, v in dockerfile_pip_packages(dockerfile.read_text(), str(dockerfile)).items()}


@pytest.mark.parametrize("dockerfile", [TRAINER, SANDBOX], ids=["trainer", "sandbox"])
def test_every_pin_is_inside_the_projects_range(dockerfile):
    declared = project_requirements()
    for name, version in pins(dockerfile).items():
        for requirement in declared.get(name, []):
            assert requirement.specifier.contains(version, prereleases=True), \
                f"{dockerfile}: {name}=={version} is outside pyproject's {requirement}"


def test_trainer_image_pins_every_training_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {canonicalize_name(Requirement(r).name) for extra in ("train", "rl", "ray")
              for r in project["optional-dependencies"][extra]}
    floating = {"tokenizers", "wandb", "gguf", "jmespath"}   # follow transformers' / TRL's own pins, or CPU-demo only
    image = pins(TRAINER)
    missing = sorted(wanted - floating - set(image))
    assert not missing, f"{TRAINER} leaves {missing} to pip's resolver; pin them"
    unexplained = sorted(set(image) - set(project_requirements()) - GPU_ONLY)
    assert not unexplained, f"{TRAINER} pins {unexplained}, which pyproject does not declare"
    assert 'pip install -e ".[train,rl,docker]"' in TRAINER.read_text()


def test_trainer_image_matches_verls_vllm_extra():
    try:
        requires = importlib.metadata.requires("verl") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("verl is not installed (pip install -e '.[rl]')")
    image = pins(TRAINER)
    assert image["verl"] == importlib.metadata.version("verl")
    checked = 0
    for line in requires:
        requirement = Requirement(line)
        if requirement.marker is None or 'extra == "vllm"' not in str(requirement.marker).replace("'", '"'):
            continue
        name = canonicalize_name(requirement.name)
        if name in image:
            assert requirement.specifier.contains(image[name], prereleases=True), \
                f"verl[vllm] wants {requirement}; {TRAINER} pins {name}=={image[name]}"
            checked += 1
    assert checked >= 3, f"expected verl[vllm] to pin torch, vllm and transformers; checked {checked}"


def test_images_have_build_commands_in_their_headers():
    for dockerfile, tag in ((TRAINER, "med-copilot-trainer"), (SANDBOX, "med-copilot-sandbox")):
        header = dockerfile.read_text().split("FROM")[0]
        assert re.search(rf"(docker|podman) build .*-t {tag}", header), f"{dockerfile}: no build command in header"
