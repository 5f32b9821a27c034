"""Offline `biostat` pack: sample-size and power questions in the N-PowerAI release format.

    from copilot.tasks.packs import biostat
    biostat.build(Path("data/offline"), seed=0, n_train=400, n_test=100)   # writes data/offline/biostat/

Every record has the release's fields (task_type, task_id, estimate_target "size"/"power", question, answer)
plus "reference_solution": a self-contained Python snippet that computes the answer with statsmodels' power
classes and sets `answer`. The answer IS what that snippet computes: the build executes each snippet
in-process (our own generated code, not model output) so the stored answer and the reference can never
disagree. Sample sizes are the ceiling of `solve_power` (per group where the question says so); power is a
float rounded to 15 significant digits, which is how the release stores it (e.g. 0.0608500725107993).

Study types: one-sample t, two-sample t (equal and unequal allocation), paired t, two proportions (Cohen's h,
normal approximation), one-way ANOVA (Cohen's f, per-group n), correlation (Fisher z), chi-square goodness
of fit (Cohen's w). The release's `task_id` is the scenario number, shared by all records of a scenario; we
keep that meaning (pack.json maps task_id -> scenario id, the template).

Simplified: numbers are drawn uniformly from plausible ranges per scenario; questions whose answer is
degenerate (power outside [0.1, 0.99], sizes under 4 or over 20,000, statsmodels returning NaN) are
redrawn. The question states the method where several textbook formulas exist (Cohen's h, f, w; Fisher z)
so that an exact-integer answer is fair. Split: whole scenarios are held out for the test split (one per
study type, chosen by the seed), so train and test share only the generic question sentence, never a
scenario paragraph; build() checks that with contamination.py's precise rule (scenario paragraph = values,
question sentence = boilerplate) and skips the rare train draw that would collide with test.
Not protected against: a model that memorised statsmodels' conventions answering without understanding;
answers depend on the installed statsmodels/scipy versions (recorded in pack.json).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from copilot.tasks.packs.biostat_scenarios import SCENARIOS, STUDY_PLACEHOLDERS, Scenario
from copilot.tasks.packs.contamination import ContaminationIndex, TextItem, assert_no_contamination
from copilot.tasks.packs.pack_writer import write_pack

PACK = "biostat"
FORMAT = "npowerai"
CHECKS_CONTAMINATION = True  # build() runs the precise, segment-aware check (the CLI then skips the generic one)
MAX_DRAWS = 200  # redraws of one instance before the build gives up (a scenario whose ranges never work)

TASK_TYPES = {
    "one_sample_t": "One-sample t-test",
    "two_sample_t": "Two-sample t-test",
    "paired_t": "Paired t-test",
    "two_proportions": "Two-sample proportion test",
    "anova": "One-way ANOVA",
    "correlation": "Pearson correlation test",
    "gof": "Chi-square goodness-of-fit test",
}

# Method notes appended where the exact integer depends on which textbook formula is used.
METHOD_NOTES = {
    "two_proportions": "Use Cohen's h (the difference of arcsine-square-root transformed proportions) and the "
                       "normal approximation.",
    "anova": "Take Cohen's f as the standard deviation of the group means around their grand mean (dividing "
             "by the number of groups) over the common standard deviation.",
    "correlation": "Base the calculation on Fisher's z transformation: a normal test of atanh(r) with standard "
                   "error 1/sqrt(n - 3).",
    "gof": "Use Cohen's w computed from the expected and the reference proportions.",
}


class BiostatPackError(RuntimeError):
    """The pack cannot be built as asked (names the scenario and what went wrong)."""


# ---------------------------------------------------------------------------------------------------------
# Scenario checks (run at import: a broken paragraph is a programming error, not a runtime surprise)

def _check_scenarios() -> None:
    by_study: dict[str, int] = {}
    for scenario in SCENARIOS:
        if scenario.study not in TASK_TYPES:
            raise BiostatPackError(f"scenario {scenario.id}: unknown study type {scenario.study!r}")
        missing = [p for p in STUDY_PLACEHOLDERS[scenario.study] if p not in scenario.setting]
        if missing:
            raise BiostatPackError(f"scenario {scenario.id}: setting lacks placeholder(s) {missing}")
        by_study[scenario.study] = by_study.get(scenario.study, 0) + 1
    thin = sorted(s for s in TASK_TYPES if by_study.get(s, 0) < 2)
    if thin:
        raise BiostatPackError(f"study types {thin} need at least two scenarios (one is held out for test)")


_check_scenarios()


# ---------------------------------------------------------------------------------------------------------
# Drawing numbers

def _draw(rng: random.Random, spec: tuple[float, float, int]) -> float | int:
    low, high, decimals = spec
    value = rng.uniform(low, high)
    return int(round(value)) if decimals == 0 else round(value, decimals)


def _num(value: float | int) -> str:
    """The one spelling of a number used in both the question and the reference code."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _percent(power: float) -> str:
    return f"{round(power * 100)}%"


def _join(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def _design(scenario: Scenario, rng: random.Random) -> dict[str, Any]:
    """Draw the study's numbers: text placeholders plus the values the reference code uses."""
    p = {name: _draw(rng, spec) for name, spec in scenario.params.items()}
    study = scenario.study
    if study == "one_sample_t":
        mu1 = round(p["mu0"] + p["delta"], scenario.params["delta"][2])
        return {"mu0": p["mu0"], "mu1": mu1, "sd": p["sd"]}
    if study == "two_sample_t":
        mean2 = round(p["mean1"] + p["delta"], scenario.params["delta"][2])
        return {"mean1": p["mean1"], "mean2": mean2, "sd": p["sd"]}
    if study == "paired_t":
        return {"mean_diff": p["mean_diff"], "sd_diff": p["sd_diff"]}
    if study == "two_proportions":
        return {"p1": p["p1"], "p2": round(p["p1"] + p["delta"], 2)}
    if study == "anova":
        k = rng.choice([3, 3, 4, 4, 5])
        spread = int(p["spread"])
        means = [p["base"] + rng.randint(-spread, spread) for _ in range(k)]
        if len(set(means)) == 1:
            means[-1] += 1
        groups = list(scenario.extra["groups"])[:k]
        return {"k": k, "means": means, "sd": p["sd"], "groups": groups}
    if study == "correlation":
        return {"r": p["r"]}
    if study == "gof":
        p0 = list(scenario.extra["p0"])
        shift = p["shift"]
        donors = [i for i, v in enumerate(p0) if v >= shift + 0.02]
        give = rng.choice(donors)
        take = rng.choice([i for i in range(len(p0)) if i != give])
        p1 = list(p0)
        p1[give] = round(p1[give] - shift, 2)
        p1[take] = round(p1[take] + shift, 2)
        return {"p0": p0, "p1": p1, "categories": list(scenario.extra["categories"])}
    raise BiostatPackError(f"scenario {scenario.id}: no design for study type {study!r}")


def _setting_text(scenario: Scenario, design: dict[str, Any]) -> str:
    values: dict[str, str] = {k: _num(v) for k, v in design.items() if isinstance(v, (int, float))}
    if scenario.study == "anova":
        values["means"] = _join([_num(m) for m in design["means"]])
        values["groups"] = _join(design["groups"])
        values["k"] = str(design["k"])
    if scenario.study == "gof":
        values["categories"] = _join(design["categories"])
        values["p0_text"] = _join([_num(v) for v in design["p0"]])
        values["p1_text"] = _join([_num(v) for v in design["p1"]])
    return scenario.setting.format(**values)


# ---------------------------------------------------------------------------------------------------------
# Questions and reference code, per study type

def _alternative(rng: random.Random, study: str) -> tuple[str, str]:
    """(statsmodels alternative, how the question says it). One-sided tests are in the expected direction,
    so the reference uses |effect| with "larger"."""
    if study in ("anova", "gof"):
        return "larger", ""
    if rng.random() < 0.7:
        return "two-sided", "two-sided"
    return "larger", "one-sided"


def _test(sided: str, name: str) -> str:
    """How a question names the test: "two-sided paired t-test", "one-sided paired t-test (in the expected
    direction)"."""
    if sided == "one-sided":
        return f"one-sided {name} (in the expected direction)"
    return f"{sided} {name}" if sided else name


def _effect_code(study: str, d: dict[str, Any]) -> tuple[list[str], str]:
    """(import lines, code computing `effect_size`) for a design."""
    if study == "one_sample_t":
        return (["from statsmodels.stats.power import TTestPower"],
                "# Cohen's d: the expected shift from the reference mean over the SD\n"
                f"effect_size = abs({_num(d['mu1'])} - {_num(d['mu0'])}) / {_num(d['sd'])}")
    if study == "two_sample_t":
        return (["from statsmodels.stats.power import TTestIndPower"],
                "# Cohen's d: the difference between arm means over the common SD\n"
                f"effect_size = abs({_num(d['mean2'])} - {_num(d['mean1'])}) / {_num(d['sd'])}")
    if study == "paired_t":
        return (["from statsmodels.stats.power import TTestPower"],
                "# paired design = one-sample t-test on the within-subject differences\n"
                f"effect_size = {_num(d['mean_diff'])} / {_num(d['sd_diff'])}")
    if study == "two_proportions":
        return (["from statsmodels.stats.power import NormalIndPower",
                 "from statsmodels.stats.proportion import proportion_effectsize"],
                "# Cohen's h (arcsine transformation), sign dropped: the test is in the expected direction\n"
                f"effect_size = abs(proportion_effectsize({_num(d['p2'])}, {_num(d['p1'])}))")
    if study == "anova":
        means = ", ".join(_num(m) for m in d["means"])
        return (["from statsmodels.stats.power import FTestAnovaPower"],
                f"means = [{means}]\n"
                "grand_mean = sum(means) / len(means)\n"
                "# Cohen's f: population SD of the group means over the common SD\n"
                f"effect_size = math.sqrt(sum((m - grand_mean) ** 2 for m in means) / len(means)) / {_num(d['sd'])}")
    if study == "correlation":
        return (["from statsmodels.stats.power import NormalIndPower"],
                "# Fisher z: atanh(r) is normal with SE 1/sqrt(n - 3); ratio=0 makes NormalIndPower a one-sample "
                "z-test\n"
                f"effect_size = abs(math.atanh({_num(d['r'])}))")
    if study == "gof":
        p0 = ", ".join(_num(v) for v in d["p0"])
        p1 = ", ".join(_num(v) for v in d["p1"])
        return (["from statsmodels.stats.gof import chisquare_effectsize",
                 "from statsmodels.stats.power import GofChisquarePower"],
                f"reference = [{p0}]\nexpected = [{p1}]\n"
                "# Cohen's w\n"
                "effect_size = chisquare_effectsize(reference, expected)")
    raise BiostatPackError(f"no effect-size code for study type {study!r}")


def _size_call(study: str, alpha: str, power: str, alt: str, ratio: int, k: int) -> tuple[str, str]:
    """(solve call, final answer line) for a sample-size question."""
    if study in ("one_sample_t", "paired_t"):
        return (f"n = TTestPower().solve_power(effect_size=effect_size, alpha={alpha}, power={power}, "
                f"alternative=\"{alt}\")", "answer = math.ceil(n)")
    if study in ("two_sample_t", "two_proportions"):
        cls = "TTestIndPower" if study == "two_sample_t" else "NormalIndPower"
        return (f"n1 = {cls}().solve_power(effect_size=effect_size, alpha={alpha}, power={power}, "
                f"ratio={ratio}, alternative=\"{alt}\")",
                "answer = math.ceil(n1)  # first arm; the other has ratio * n1")
    if study == "anova":
        return (f"n_total = FTestAnovaPower().solve_power(effect_size=effect_size, alpha={alpha}, power={power}, "
                f"k_groups={k})",
                f"answer = math.ceil(n_total / {k})  # statsmodels' nobs is the total over groups")
    if study == "correlation":
        return (f"n_minus_3 = NormalIndPower().solve_power(effect_size=effect_size, alpha={alpha}, power={power}, "
                f"ratio=0, alternative=\"{alt}\")", "answer = math.ceil(n_minus_3 + 3)")
    if study == "gof":
        return (f"n = GofChisquarePower().solve_power(effect_size=effect_size, alpha={alpha}, power={power}, "
                f"n_bins=len(reference))", "answer = math.ceil(n)")
    raise BiostatPackError(f"no size code for study type {study!r}")


def _power_call(study: str, alpha: str, alt: str, n: int, n2: int, k: int) -> str:
    if study in ("one_sample_t", "paired_t"):
        return f"power = TTestPower().power(effect_size=effect_size, nobs={n}, alpha={alpha}, alternative=\"{alt}\")"
    if study in ("two_sample_t", "two_proportions"):
        cls = "TTestIndPower" if study == "two_sample_t" else "NormalIndPower"
        return (f"power = {cls}().power(effect_size=effect_size, nobs1={n}, alpha={alpha}, ratio={n2} / {n}, "
                f"alternative=\"{alt}\")")
    if study == "anova":
        return (f"power = FTestAnovaPower().power(effect_size=effect_size, nobs={n} * {k}, alpha={alpha}, "
                f"k_groups={k})")
    if study == "correlation":
        return (f"power = NormalIndPower().power(effect_size=effect_size, nobs1={n} - 3, alpha={alpha}, ratio=0, "
                f"alternative=\"{alt}\")")
    if study == "gof":
        return (f"power = GofChisquarePower().power(effect_size=effect_size, nobs={n}, alpha={alpha}, "
                "n_bins=len(reference))")
    raise BiostatPackError(f"no power code for study type {study!r}")


POWER_ROUNDING = "answer = float(f\"{power:.15g}\")  # 15 significant digits, as the N-PowerAI release stores power"


def _size_question(scenario: Scenario, design: dict, sided: str, alpha: str, power: float, ratio: int) -> str:
    s, study = scenario.subjects, scenario.study
    goal = f"at a significance level of {alpha} to have {_percent(power)} power"
    if study == "one_sample_t":
        return (f"How many {s} must the study include for a {_test(sided, 'one-sample t-test')} against "
                f"{_num(design['mu0'])} {goal}?")
    if study == "paired_t":
        return f"How many {s} (each measured twice) are needed for a {_test(sided, 'paired t-test')} {goal}?"
    if study in ("two_sample_t", "two_proportions"):
        g1, g2 = scenario.extra["group1"], scenario.extra["group2"]
        name = "two-sample t-test" if study == "two_sample_t" else "test of two independent proportions"
        if ratio == 1:
            return (f"With equal allocation to the two arms, how many {s} are needed in each arm for a "
                    f"{_test(sided, name)} {goal}?")
        return (f"The {g2} arm will enrol {ratio} times as many {s} as the {g1} arm. How many {s} are needed in "
                f"the {g1} arm for a {_test(sided, name)} {goal}?")
    if study == "anova":
        return f"With equal group sizes, how many {s} are needed in each group for a one-way ANOVA F-test {goal}?"
    if study == "correlation":
        return f"How many {s} are needed for a {_test(sided, 'test of zero correlation')} {goal}?"
    if study == "gof":
        return f"How many {s} must be observed in total for a chi-square goodness-of-fit test {goal}?"
    raise BiostatPackError(f"no size question for study type {study!r}")


def _power_question(scenario: Scenario, sided: str, alpha: str, n: int, n2: int) -> str:
    s, study = scenario.subjects, scenario.study
    level = f"at a significance level of {alpha}"
    tail = " Give the power as a proportion between 0 and 1."
    if study == "one_sample_t":
        return (f"The study will include {n} {s}. What is the power of a {_test(sided, 'one-sample t-test')} "
                f"{level}?" + tail)
    if study == "paired_t":
        return f"If {n} {s} are enrolled, what is the power of a {_test(sided, 'paired t-test')} {level}?" + tail
    if study in ("two_sample_t", "two_proportions"):
        g1, g2 = scenario.extra["group1"], scenario.extra["group2"]
        name = "two-sample t-test" if study == "two_sample_t" else "test of two independent proportions"
        return (f"The study will enrol {n} {s} in the {g1} arm and {n2} in the {g2} arm. What is the power of a "
                f"{_test(sided, name)} {level}?" + tail)
    if study == "anova":
        return f"With {n} {s} in each group, what is the power of a one-way ANOVA F-test {level}?" + tail
    if study == "correlation":
        return f"With {n} {s}, what is the power of a {_test(sided, 'test of zero correlation')} {level}?" + tail
    if study == "gof":
        return f"If {n} {s} are observed, what is the power of a chi-square goodness-of-fit test {level}?" + tail
    raise BiostatPackError(f"no power question for study type {study!r}")


def _run_reference(code: str, where: str) -> Any:
    """Execute our own generated reference snippet in-process and return its `answer`."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(compile(code, f"<{where}>", "exec"), namespace)
    except Exception as exc:  # a broken generator, reported with the snippet's name
        raise BiostatPackError(f"{where}: reference solution failed: {exc!r}\n{code}") from exc
    if "answer" not in namespace:
        raise BiostatPackError(f"{where}: reference solution set no `answer`\n{code}")
    return namespace["answer"]


def make_record(scenario: Scenario, task_id: int, target: str,
                rng: random.Random) -> tuple[dict[str, Any], tuple[tuple[str, bool], ...]]:
    """One release-format record (with `reference_solution`) for a scenario, and its question as
    (text, is_boilerplate) segments for the contamination check; redraws degenerate numbers."""
    study = scenario.study
    for _ in range(MAX_DRAWS):
        design = _design(scenario, rng)
        alt, sided = _alternative(rng, study)
        alpha = rng.choice(["0.05", "0.05", "0.05", "0.01", "0.1"])
        power_goal = rng.choice([0.8, 0.8, 0.85, 0.9, 0.9, 0.95])
        ratio = rng.choice([1, 1, 1, 2, 3]) if study in ("two_sample_t", "two_proportions") else 1
        k = design.get("k", 0)
        imports, effect = _effect_code(study, design)
        head = "\n".join(["import math"] + imports) + "\n\n" + effect + "\n"
        where = f"{scenario.id} ({target})"
        if target == "size":
            solve, last = _size_call(study, alpha, repr(power_goal), alt, ratio, k)
            code = head + solve + "\n" + last + "\n"
            answer = _run_reference(code, where)
            if not (isinstance(answer, int) and 4 <= answer <= 20000):
                continue
            question = _size_question(scenario, design, sided, alpha, power_goal, ratio)
        else:
            # Pick n so that the power lands in an informative range, then ask for the power at that n.
            goal = round(rng.uniform(0.3, 0.95), 2)
            solve, last = _size_call(study, alpha, repr(goal), alt, ratio, k)
            n = _run_reference(head + solve + "\n" + last + "\n", where)
            if not (isinstance(n, int) and 6 <= n <= 20000):
                continue
            n2 = n * ratio if study in ("two_sample_t", "two_proportions") else 0
            code = head + _power_call(study, alpha, alt, n, n2, k) + "\n" + POWER_ROUNDING + "\n"
            answer = _run_reference(code, where)
            if not (isinstance(answer, float) and 0.1 <= answer <= 0.99):
                continue
            question = _power_question(scenario, sided, alpha, n, n2)
        note = METHOD_NOTES.get(study)
        setting = _setting_text(scenario, design)
        tail = " " + question + (f" {note}" if note else "")
        record = {"task_type": TASK_TYPES[study], "task_id": task_id, "estimate_target": target,
                  "question": setting + tail, "answer": answer, "reference_solution": code}
        # For the contamination check: the scenario paragraph (with its numbers) is what identifies a task;
        # the question sentence is the study type's shared wording, and its numbers (alpha, power goal, n)
        # are conventional settings that many records share.
        return record, ((setting, False), (tail, True))
    raise BiostatPackError(f"scenario {scenario.id}: no usable {target} question in {MAX_DRAWS} draws; "
                           "widen its parameter ranges")


# ---------------------------------------------------------------------------------------------------------
# Split and build

def split_scenarios(seed: int) -> dict[str, list[Scenario]]:
    """Hold out one scenario per study type for test (chosen by the seed); the rest are train."""
    rng = random.Random(f"biostat-split:{seed}")
    train, test = [], []
    for study in TASK_TYPES:
        group = [s for s in SCENARIOS if s.study == study]
        held = rng.randrange(len(group))
        for i, scenario in enumerate(group):
            (test if i == held else train).append(scenario)
    return {"train": train, "test": test}


def task_id_of(scenario: Scenario) -> int:
    return SCENARIOS.index(scenario) + 1


def generate_items(seed: int, n_train: int, n_test: int) -> dict[str, list[tuple[dict[str, Any], TextItem]]]:
    """(record, contamination text) pairs of both splits, in file order (no I/O).

    Test is drawn first; a train draw that would contaminate it (e.g. the same number next to the same
    unit and question wording in two scenarios) is skipped, like pack_writer.select_split does."""
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise BiostatPackError(f"{name}: expected a non-negative integer, got {n!r}")
    splits = split_scenarios(seed)
    test_index = ContaminationIndex()
    out: dict[str, list[tuple[dict[str, Any], TextItem]]] = {}
    for split, count in (("test", n_test), ("train", n_train)):
        scenarios, items, seen = splits[split], [], set()
        i = 0
        while len(items) < count:
            if i > 50 * (count + 1):
                raise BiostatPackError(f"{split}: cannot draw {count} distinct, uncontaminated questions")
            scenario = scenarios[i % len(scenarios)]
            target = "size" if (i // len(scenarios)) % 2 == 0 else "power"
            rng = random.Random(f"biostat:{seed}:{split}:{i}")
            record, segments = make_record(scenario, task_id_of(scenario), target, rng)
            i += 1
            item = TextItem(f"{split}:{len(items) + 1}", segments)
            if record["question"] in seen or (split == "train" and test_index.overlap(item) is not None):
                continue  # the next index draws anew
            seen.add(record["question"])
            items.append((record, item))
            if split == "test":
                test_index.add(item)
        out[split] = items
    return {"train": out["train"], "test": out["test"]}


def generate(seed: int, n_train: int, n_test: int) -> dict[str, list[dict[str, Any]]]:
    """The records of both splits, in file order (no I/O)."""
    return {split: [record for record, _ in items] for split, items in generate_items(seed, n_train, n_test).items()}


def templates(seed: int) -> list[dict[str, Any]]:
    """pack.json's template table: task_id -> scenario id, study type and split."""
    splits = split_scenarios(seed)
    split_of = {s.id: name for name, group in splits.items() for s in group}
    return [{"task_id": task_id_of(s), "template": s.id, "task_type": TASK_TYPES[s.study], "split": split_of[s.id]}
            for s in SCENARIOS]


def build(out_dir: Path, seed: int, n_train: int, n_test: int) -> dict[str, Any]:
    """Write out_dir/biostat/{train_tasks.jsonl, test_tasks.jsonl, pack.json}; return the summary.

    Raises ContaminationError when a test question shares a value-bearing 10-gram (scenario paragraph) or its
    whole text with a train question (contamination.py's precise rule; hence CHECKS_CONTAMINATION)."""
    import scipy
    import statsmodels

    items = generate_items(seed, n_train, n_test)
    train, test = items["train"], items["test"]
    assert_no_contamination([t for _, t in train], [t for _, t in test], f"pack {PACK} (seed {seed})")
    manifest = {"pack": PACK, "format": FORMAT, "seed": seed, "templates": templates(seed),
                "split_rule": "one scenario per study type held out for test",
                "answer_rule": "size = ceil(statsmodels solve_power), per group where the question says so; "
                               "power rounded to 15 significant digits",
                "versions": {"statsmodels": statsmodels.__version__, "scipy": scipy.__version__}}
    pack_dir = Path(out_dir) / PACK
    paths = write_pack(pack_dir, manifest, [r for r, _ in train], [r for r, _ in test])
    return {"pack": PACK, "dir": str(pack_dir), "sizes": {"train": len(train), "test": len(test)},
            "templates": len(SCENARIOS), "files": {k: str(v) for k, v in paths.items()}}
