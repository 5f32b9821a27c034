"""The runtime image's Dockerfile lists every package the sandbox preloads, each with a pinned version."""

import re
import sys
from pathlib import Path

from sandbox.process_backend import DEFAULT_PRELOAD

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dockerfile_pins import dockerfile_pip_packages  # noqa: E402

DOCKERFILE = Path(__file__).resolve().parents[2] / "sandbox" / "images" / "Dockerfile"
# Import names whose PyPI distribution is named differently.
DISTRIBUTION_OF = {"sklearn": "scikit-learn"}


def preloaded_distributions() -> list[str]:
    """The PyPI distributions behind the process backend's default preload list (stdlib modules left out)."""
    tops = dict.fromkeys(m.split(".")[0] for m in DEFAULT_PRELOAD)
    return [DISTRIBUTION_OF.get(m, m) for m in tops if m not in sys.stdlib_module_names]


def test_dockerfile_pins_every_preloaded_package():
    packages = dockerfile_pip_packages(DOCKERFILE.read_text(), str(DOCKERFILE))
    preloaded = preloaded_distributions()
    assert {"numpy", "pandas", "scipy", "scikit-learn"} <= set(preloaded), preloaded
    missing = [name for name in preloaded if name not in packages]
    assert not missing, f"{DOCKERFILE}: pip list lacks {missing}; it has {sorted(packages)}"
    for name, version in packages.items():
        assert re.fullmatch(r"\d+(\.\d+)+", version), f"{DOCKERFILE}: {name}=={version} is not a plain version"


def test_dockerfile_defines_the_non_root_sandbox_user():
    text = DOCKERFILE.read_text()
    assert "useradd --uid 10001" in text, "the backend drops to uid 10001; the image must define that user"
    assert "CMD [\"sleep\", \"infinity\"]" in text
