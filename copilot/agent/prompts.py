"""System and user prompts for a CodeAct episode, per task family, in our own words.

Two prompt styles:
- "full" (the default, for instruct models of 7B and up): the system prompt says: the role, where the task's data are (each mount at /data/<name>, with what kind of
file it is), how the sandbox behaves (a fresh Python process per execution, files in the working directory
persist, no network, output is capped), the five actions in the chosen format, and the answer convention:
set a variable `answer` in the last code execution, or give it with final_answer. A family section says what
the answer must look like for that kind of task (matching what the reward checkers accept, see
BRIEF's checker table). The user prompt carries the question and the task's context.
- "compact" (for very small models, e.g. the CPU demo's SmolLM2-135M with one turn): a few lines that name
  the data, one action (code_execution as JSON) and the `answer` convention. A 135M model does not follow the
  full prompt's 1,000 tokens of rules, and every prompt token costs CPU time in training. Simplified: it
  documents only code_execution (the other actions still parse), so it suits single-turn episodes.

Nothing here reveals the ground truth or the checker's parameters beyond what the task legitimately shows
(e.g. BioCoder's harness is part of the task's context, BioDSBench's tests are not).
"""

from __future__ import annotations

from pathlib import Path

from copilot.agent.actions import ACTION_KINDS
from copilot.tasks.task import Task

FAMILY_GUIDES: dict[str, str] = {
    "ehr_sql": (
        "This is an electronic health record question. Answer it by querying the database (Python's sqlite3, "
        "opened read-only, or pandas on the CSV tables). Look at the schema first and check how values are "
        "spelt in the data (request_info term_lookup helps). The answer is a list of the values the query "
        "returns, e.g. answer = ['po', 'iv'] or answer = [42]; give every value of every result row, flattened."),
    "medcalc": (
        "This is a medical calculation from a patient note. Read the values you need from the note, convert "
        "units where needed, compute the score or quantity in Python, and set `answer` to the number (a date "
        "as the string 'MM/DD/YYYY'; a gestational age as [weeks, days]). Do not round more than the question asks."),
    "biostat": (
        "This is a biostatistics power / sample-size question. Compute it in Python (statsmodels.stats.power, "
        "scipy.stats). A sample size is a whole number, rounded UP; a power is a decimal between 0 and 1. Set "
        "`answer` to that number."),
    "bioinformatics": (
        "This is a coding task: write the requested Python function. Test it in code executions; the function "
        "definition in your last successful code execution (or the \"code\" of final_answer) is what gets "
        "graded, by running it inside the program shown in the task. Define the function (and the imports and "
        "helpers it needs) only; do not print anything extra."),
    "biomedical_analysis": (
        "This is a biomedical data-analysis task. Write Python that loads the data under /data and computes "
        "what is asked into the variables the task names. Hidden tests are run after your final code, so the "
        "code of your last successful code execution (or the \"code\" of final_answer) must run on its own."),
    "fhir": (
        "This is a clinical workflow task on a FHIR server. Use the server URL and instructions given in the "
        "task. Set `answer` to {\"GET\": [the values asked for], \"POST\": [[url, payload], ...]}: GET holds the "
        "answers themselves, POST every order you placed (an empty list when none was needed)."),
    "ehr_consistency": (
        "This is a consistency check between a clinical note and the EHR tables. Query the data and set "
        "`answer` to True when the note contains an inconsistency with the records, else False."),
    "ml_prediction": (
        "This is a prediction task. Train a model on the provided training data and predict for every test "
        "patient. Set `answer` to your predictions as a dict {patient id: predicted label}."),
}
DEFAULT_GUIDE = "Solve the task in Python and set `answer` to the result."

# One sentence per family for the compact style.
COMPACT_GUIDES: dict[str, str] = {
    "ehr_sql": "Query the SQLite database with sqlite3; answer = list of all values of the result rows.",
    "medcalc": "Read the values from the note and compute; answer = the number.",
    "biostat": "Use statsmodels.stats.power; a sample size is rounded up; answer = the number.",
    "bioinformatics": "Define the requested Python function; its code is graded.",
    "biomedical_analysis": "Load the data and compute the variables the task names.",
    "fhir": 'answer = {"GET": [values asked for], "POST": [[url, payload], ...]}.',
    "ehr_consistency": "Query the data; answer = True if the note is inconsistent with the records, else False.",
    "ml_prediction": "Train on the training data; answer = {patient id: predicted label}.",
}
PROMPT_STYLES = ("full", "compact")

SANDBOX_RULES = (
    "How the sandbox works:\n"
    "- Every code execution runs in a NEW Python process: variables and imports from earlier executions are "
    "gone, but files you write in the working directory stay for the rest of the task.\n"
    "- numpy, pandas, scipy, statsmodels and scikit-learn are installed. There is no network.\n"
    "- Printed output is cut when it is long: print summaries, not whole tables.\n"
    "- The data under /data are read-only."
)

JSON_ACTIONS = (
    "Reply with exactly one action per turn, as one JSON object {\"action\": NAME, \"params\": {...}}. You may "
    "think first, but the JSON object must come last. The actions:\n"
    '- request_info: {"query": "column_names" | "distinct_values" | "term_lookup", "target": table or file name '
    '("*" for all), "column": ..., "term": ...} — look at the data without writing code.\n'
    '- code_execution: {"code": "..."} — run Python.\n'
    '- terminal: {"command": "..."} — run a shell command.\n'
    '- debug: {"code": "...", "error": "..."} — get an explanation of an error.\n'
    '- final_answer: {"answer": ...} — give the answer and finish.\n'
    "Example:\n"
    '{"action": "code_execution", "params": {"code": "import pandas as pd\\nanswer = 2 + 2"}}'
)

TOOL_CALL_ACTIONS = (
    "Act by calling exactly one of the tools per turn (" + ", ".join(ACTION_KINDS) + "), written as\n"
    '<tool_call>\n{"name": "code_execution", "arguments": {"code": "answer = 2 + 2"}}\n</tool_call>\n'
    "request_info inspects the data without code (column_names, distinct_values, term_lookup); code_execution "
    "runs Python; terminal runs a shell command; debug explains an error; final_answer gives the answer and "
    "finishes."
)

ANSWER_RULES = (
    "Giving the answer: set a variable named `answer` in your code (its value is recorded after each "
    "execution), then call final_answer with that value. If you stop without final_answer, the `answer` of "
    "your last code execution that set one is taken. Printed text is never graded."
)


CODE_ANSWER_RULES = (
    "Giving the answer: when your function works, call final_answer with {\"answer\": \"done\", \"code\": "
    "<the complete function code>}. Without a \"code\" there, the code of your last successful code execution "
    "is graded."
)


def writes_code(task: Task) -> bool:
    """Code-writing tasks are judged on final_code (BRIEF: family bioinformatics, checkers biocoder/biodsbench)."""
    return task.family == "bioinformatics" or task.checker in ("biocoder", "biodsbench")


def describe_mount(name: str, host_path: str) -> str:
    path = Path(host_path)
    low = name.lower()
    if path.is_dir():
        kind = "a directory"
    elif low.endswith((".sqlite", ".sqlite3", ".db")):
        kind = "a SQLite database"
    elif low.endswith((".csv", ".csv.gz")):
        kind = "a CSV table"
    elif low.endswith((".tsv", ".tsv.gz")):
        kind = "a TSV table"
    else:
        kind = "a file"
    return f"- /data/{name}: {kind}"


def data_section(task: Task) -> str:
    if not task.resources:
        return "This task has no data files: everything you need is in the question and its context."
    lines = [describe_mount(name, path) for name, path in sorted(task.resources.items())]
    return "The task's data (read-only):\n" + "\n".join(lines)


def compact_system_prompt(task: Task, action_format: str) -> str:
    mounts = ", ".join(f"/data/{name}" for name in sorted(task.resources)) or "none"
    if action_format == "json":
        reply = 'Reply with one JSON object: {"action": "code_execution", "params": {"code": "..."}}.'
    else:
        reply = ('Reply with one tool call: <tool_call>\n{"name": "code_execution", "arguments": {"code": "..."}}'
                 '\n</tool_call>.')
    return (f"You solve tasks by writing Python. {COMPACT_GUIDES.get(task.family, DEFAULT_GUIDE)} Data: {mounts}. "
            f"{reply} The code runs in Python and must set the variable `answer` to the result.")


def system_prompt(task: Task, action_format: str = "json", style: str = "full") -> str:
    if action_format not in ("json", "tool_call"):
        raise ValueError(f"action_format: {action_format!r} is unknown; expected 'json' or 'tool_call'")
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompt_style: {style!r} is unknown; expected one of {PROMPT_STYLES}")
    if style == "compact":
        return compact_system_prompt(task, action_format)
    actions = JSON_ACTIONS if action_format == "json" else TOOL_CALL_ACTIONS
    guide = FAMILY_GUIDES.get(task.family, DEFAULT_GUIDE)
    return "\n\n".join([
        "You are a careful biomedical data scientist. You solve the task by writing and running code in a "
        "sandbox, looking at the results, and fixing mistakes, over several turns.",
        guide, data_section(task), SANDBOX_RULES, actions, CODE_ANSWER_RULES if writes_code(task) else ANSWER_RULES,
    ])


def user_prompt(task: Task) -> str:
    parts = [f"Task:\n{task.question.strip()}"]
    if task.context and task.context.strip():
        parts.append(f"Context:\n{task.context.strip()}")
    return "\n\n".join(parts)


def initial_messages(task: Task, action_format: str = "json", style: str = "full") -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt(task, action_format, style)},
            {"role": "user", "content": user_prompt(task)}]
