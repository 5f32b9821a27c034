"""SQL question answering over an EHR: mimic_iii, eicu, treqs, ehr_seqsql (and the offline ehr_sql pack).

Record shapes (MedAgentGym release):
- mimic_iii / eicu: EHRSQL records; the question shown is `template` (the de-paraphrased question), the
  gold SQL is `query`, the answer is `answer` (a JSON list of strings, or a Python-literal string of one);
  `q_tag` is the question template, `department` a Python-literal list such as "['nursing']".
  Offline ehr_sql pack records use the same fields plus "reference_solution"; the pack's pack.json lists
  its templates ({"id", "q_tag", "ordered"}, matched on the record's `q_tag`) and its "resources" (mount name
  -> file in the pack dir, mounted instead of scanning the directory). A record may also carry
  "template_id" and "ordered" (bool), which win over pack.json.
- treqs: `question`, `query`, `answer`.
- ehr_seqsql: `seed_question` + `question` (asked together, as the release does), answer in `ans`.
Task: checker "sql", answer = the released list (a scalar answer becomes a one-element list),
checker_params {"ordered": bool}; resources = the dataset directory's tables (*.csv, *.db, *.sqlite).

Simplified: "ordered" is a heuristic when neither the record nor pack.json says: the gold SQL has ORDER BY without a
single-row LIMIT *and* the question asks for an order ("in ascending order", "sorted", ...). A released
answer of null is accepted only for questions marked `is_impossible` (it becomes []).
"""

from __future__ import annotations

import re
from typing import Any

from copilot.tasks.loaders.jsonl_records import JsonlRecord, is_missing, parse_python_literal
from copilot.tasks.loaders.release_layout import DatasetDir, pack_reference, pack_templates, template_from_record
from copilot.tasks.task import Task

TABLE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".csv")
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_LIMIT_ONE = re.compile(r"\blimit\s+1\s*;?\s*\)?\s*$", re.IGNORECASE)
_ORDER_WORDS = re.compile(r"\b(in (ascending|descending|chronological|alphabetical|reverse) order|"
                          r"sorted|ordered by|in order of|from (earliest|latest|oldest|newest|first|last) to)\b",
                          re.IGNORECASE)


def sql_answer(record: JsonlRecord, field: str) -> list[Any]:
    """The released answer as a list: JSON list, Python-literal list string, or a scalar (wrapped)."""
    value = record.raw(field, "a list of values (JSON list or Python-literal string)")
    if isinstance(value, list):
        return value
    if value is None:
        if record.data.get("is_impossible") is True:
            return []
        raise record.error(field, "a list of values (null only for is_impossible questions)", value)
    if isinstance(value, str):
        parsed = parse_python_literal(value)
        if not is_missing(parsed) and isinstance(parsed, (list, tuple)):
            return list(parsed)
        return [value]
    if isinstance(value, (bool, int, float)):
        return [value]
    raise record.error(field, "a list of values (JSON list or Python-literal string)", value)


def is_ordered(record: JsonlRecord, query: str | None, question: str, pack_entry: dict[str, Any]) -> bool:
    explicit = record.boolean("ordered", optional=True)
    if explicit is not None:
        return explicit
    if isinstance(pack_entry.get("ordered"), bool):
        return pack_entry["ordered"]
    if not query or not _ORDER_BY.search(query) or _LIMIT_ONE.search(query.strip()):
        return False
    return bool(_ORDER_WORDS.search(question))


def _data_context(ds: DatasetDir, resources: dict[str, str]) -> str:
    if not resources:
        return f"The {ds.dataset} EHR tables are not installed here."
    databases = [n for n in resources if not n.lower().endswith(".csv")]
    tables = [n for n in resources if n.lower().endswith(".csv")]
    parts = []
    if databases:
        parts.append("SQLite database(s): " + ", ".join(f"/data/{n}" for n in databases))
    if tables:
        parts.append("CSV tables: " + ", ".join(f"/data/{n}" for n in tables))
    return f"The {ds.dataset} EHR data are mounted read-only. " + "; ".join(parts) + "."


def _build(ds: DatasetDir, split: str, record: JsonlRecord, question: str, answer: list[Any],
           query: str | None, template: Any, meta: dict[str, Any], pack_entry: dict[str, Any] | None = None) -> Task:
    resources = ds.table_files(TABLE_SUFFIXES)
    meta = {"source": record.source, "template": template, **meta, **pack_reference(record)}
    if query is not None:
        meta["query"] = query
    if record.has("id"):
        meta["record_id"] = record.data["id"]
    return Task(id=ds.task_id(split, record.index), dataset=ds.dataset, split=split, family="ehr_sql",
                question=question, answer=answer, checker="sql",
                checker_params={"ordered": is_ordered(record, query, question, pack_entry or {})},
                context=_data_context(ds, resources), resources=resources, meta=meta)


def _load_ehrsql(ds: DatasetDir, split: str) -> list[Task]:
    """mimic_iii and eicu (EHRSQL records): the question shown is `template`."""
    by_q_tag = pack_templates(ds, "q_tag")
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            question = record.text("template", allow_empty=False)
            query = record.text("query")
            answer = sql_answer(record, "answer")
            q_tag = record.text("q_tag", optional=True, allow_null=True)
            meta: dict[str, Any] = {"paraphrase": record.text("question", optional=True), "q_tag": q_tag}
            if record.has("department"):
                meta["department"] = record.literal("department", (list,))
            for key in ("value", "importance", "is_impossible", "db_id"):
                if record.has(key):
                    meta[key] = record.data[key]
            pack_entry = by_q_tag.get(q_tag, {})
            template = template_from_record(record, pack_entry.get("id", q_tag), keys=("template_id",))
            tasks.append(_build(ds, split, record, question, answer, query, template, meta, pack_entry))
    return tasks


def load_mimic_iii(ds: DatasetDir, split: str) -> list[Task]:
    return _load_ehrsql(ds, split)


def load_eicu(ds: DatasetDir, split: str) -> list[Task]:
    return _load_ehrsql(ds, split)


def load_treqs(ds: DatasetDir, split: str) -> list[Task]:
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            question = record.text("question", allow_empty=False)
            query = record.text("query")
            answer = sql_answer(record, "answer")
            meta = {k: record.data[k] for k in ("is_impossible", "db_id") if record.has(k)}
            template = template_from_record(record, None)
            tasks.append(_build(ds, split, record, question, answer, query, template, meta))
    return tasks


def load_ehr_seqsql(ds: DatasetDir, split: str) -> list[Task]:
    tasks = []
    for record in ds.records(split):
        with ds.guard(record):
            seed = record.text("seed_question", allow_empty=False)
            follow_up = record.text("question", allow_empty=False)
            answer = sql_answer(record, "ans")
            query = record.text("query", optional=True, allow_null=True)
            meta = {"seed_question": seed, "follow_up_question": follow_up}
            template = template_from_record(record, None)
            tasks.append(_build(ds, split, record, f"{seed.strip()} {follow_up.strip()}", answer, query,
                                template, meta))
    return tasks
