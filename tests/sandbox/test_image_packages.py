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


# import name of each distribution of pyproject's `tasks` extra (what MedAgentGym task code imports)
TASK_IMPORTS = {"scikit-image": "skimage", "pysam": "pysam", "biopython": "Bio", "centrosome": "centrosome",
                "lifelines": "lifelines", "seaborn": "seaborn", "plotly": "plotly",
                "pycomplexheatmap": "PyComplexHeatmap"}


def tasks_extra() -> dict[str, str]:
    import tomllib

    pyproject = tomllib.loads((DOCKERFILE.parents[2] / "pyproject.toml").read_text())
    pins = {}
    for requirement in pyproject["project"]["optional-dependencies"]["tasks"]:
        name, sep, version = requirement.partition("==")
        assert sep, f"pyproject.toml: tasks extra {requirement!r} is not pinned (NAME==VERSION)"
        pins[name.lower()] = version
    return pins


def test_the_image_pins_the_tasks_extra_at_the_same_versions():
    image = dockerfile_pip_packages(DOCKERFILE.read_text(), str(DOCKERFILE))
    extra = tasks_extra()
    assert set(extra) == set(TASK_IMPORTS), "a new task dependency needs its import name here"
    for name, version in extra.items():
        assert image.get(name) == version, (f"{DOCKERFILE}: {name}=={image.get(name)}; pyproject's tasks extra "
                                            f"pins {version}")
    assert image["pandas"].split(".")[0] == "2", "lifelines 0.30 requires pandas < 3"


def test_the_process_sandbox_imports_what_task_code_imports():
    from sandbox import open_backend

    code = ("import importlib\nanswer = {}\nfor name in %r:\n    try:\n        importlib.import_module(name)\n"
            "    except Exception as err:\n        answer[name] = repr(err)\n" % sorted(TASK_IMPORTS.values()))
    with open_backend("process", workers=1, preload=("numpy",)) as backend, backend.open_session({}) as session:
        result = session.run_python(code, timeout_s=120)
    assert result.ok and result.answer == {}, (result.answer, result.stderr[-2000:])
