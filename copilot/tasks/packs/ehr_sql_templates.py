"""EHRSQL-style question templates for the offline `ehr_sql` pack: wording, reference SQL, and slot samplers.

Each template has an EHRSQL-like question pattern (`tag`, with {slot}s), a SQL pattern over the MIMIC-III
shaped database of ehr_sql_database.py, and a sampler that draws slot values from what the database holds
(so that most questions have a non-empty answer; existence questions draw a real value half of the time,
so yes and no are both common). Kinds:
  "value"     an unordered list of values (compared as a multiset: order ignored, duplicates counted);
  "existence" a yes/no question; SQLite returns 1 or 0, so the answer is ["1"] or ["0"] as in EHRSQL;
  "ordered"   the question asks for a ranked list (ORDER BY ... with ties broken alphabetically, stated in the
              question): the answer's order matters (checker_params {"ordered": true}).
Relative time windows ("in the last 2 years") are measured from CURRENT_TIME, which the question states,
because an agent cannot otherwise know EHRSQL's fixed "now".

Simplified: one wording per template (para_type "machine"); EHRSQL's human paraphrases are not imitated.
"Latest/first" questions (ORDER BY time LIMIT 1) would be ambiguous if two events tied on the time with
different values: ehr_sql.py checks each such question and drops it when that happens.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from typing import Callable

from copilot.tasks.packs.ehr_sql_database import CURRENT_TIME

NOW = f"(the current time is {CURRENT_TIME})"
YEARS = ("2100", "2101", "2102", "2103", "2104", "2105")
_LAB = "labevents.itemid in (select d_labitems.itemid from d_labitems where d_labitems.label = '{lab_name}')"
_DX = ("diagnoses_icd.icd9_code = (select d_icd_diagnoses.icd9_code from d_icd_diagnoses "
       "where d_icd_diagnoses.short_title = '{diagnosis_name}')")
_PX = ("procedures_icd.icd9_code = (select d_icd_procedures.icd9_code from d_icd_procedures "
       "where d_icd_procedures.short_title = '{procedure_name}')")
_FIRST_ADM = ("(select admissions.hadm_id from admissions where admissions.subject_id = {patient_id} "
              "order by admissions.admittime asc limit 1)")
_LAST_ADM = _FIRST_ADM.replace(" asc ", " desc ")
_FIRST_ICU = ("(select icustays.icustay_id from icustays where icustays.subject_id = {patient_id} "
              "order by icustays.intime asc limit 1)")
_LAST_ICU = _FIRST_ICU.replace(" asc ", " desc ")


class Catalog:
    """Slot values the samplers draw from, read once from the database (every list in a fixed SQL order)."""

    def __init__(self, conn: sqlite3.Connection):
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        self.patients = [r[0] for r in q("select subject_id from patients order by subject_id")]
        self.drugs = [r[0] for r in q("select distinct drug from prescriptions order by drug")]
        self.labs = [r[0] for r in q("select label from d_labitems order by itemid")]
        self.diagnoses = [r[0] for r in q("select distinct d.short_title from diagnoses_icd x join d_icd_diagnoses d "
                                          "using (icd9_code) order by d.short_title")]
        self.procedures = [r[0] for r in q("select distinct d.short_title from procedures_icd x join "
                                           "d_icd_procedures d using (icd9_code) order by d.short_title")]
        self.lab_events = q("select distinct l.subject_id, d.label, substr(l.charttime, 1, 4) from labevents l "
                            "join d_labitems d using (itemid) order by 1, 2, 3")
        self.rx_events = q("select distinct subject_id, drug, substr(startdate, 1, 4) from prescriptions "
                           "order by 1, 2, 3")
        self.dx_events = q("select distinct x.subject_id, d.short_title, substr(x.charttime, 1, 4) from "
                           "diagnoses_icd x join d_icd_diagnoses d using (icd9_code) order by 1, 2, 3")
        self.px_events = q("select distinct x.subject_id, d.short_title, substr(x.charttime, 1, 4) from "
                           "procedures_icd x join d_icd_procedures d using (icd9_code) order by 1, 2, 3")
        self.admissions = q("select distinct subject_id, substr(admittime, 1, 4) from admissions order by 1, 2")
        self.icu_patients = [r[0] for r in q("select distinct subject_id from icustays order by 1")]
        self.icu_years = q("select distinct subject_id, substr(intime, 1, 4) from icustays order by 1, 2")
        self.micro = q("select distinct subject_id, spec_type_desc, substr(charttime, 1, 4), org_name is not null "
                       "from microbiologyevents order by 1, 2, 3, 4")
        first_icu = ("(select i.icustay_id from icustays i where i.subject_id = e.subject_id "
                     "order by i.intime {order} limit 1)")
        self.first_icu_inputs = q("select distinct e.subject_id, d.label from inputevents_cv e join d_items d "
                                  f"using (itemid) where e.icustay_id = {first_icu.format(order='asc')} order by 1, 2")
        self.first_icu_outputs = q("select distinct e.subject_id, d.label from outputevents e join d_items d "
                                   f"using (itemid) where e.icustay_id = {first_icu.format(order='asc')} order by 1, 2")
        self.last_icu_charts = q("select distinct e.subject_id, d.label from chartevents e join d_items d "
                                 f"using (itemid) where e.icustay_id = {first_icu.format(order='desc')} "
                                 "order by 1, 2")


Sampler = Callable[[random.Random, Catalog], dict]


@dataclass(frozen=True)
class Template:
    id: str
    tag: str
    query: str
    sample: Sampler
    kind: str = "value"
    department: str = "['nursing']"
    importance: str = "medium"
    max_answers: int = 20

    def render(self, values: dict) -> tuple[str, str]:
        """(question, SQL) with the values filled in; string values are SQL-escaped in the query."""
        escaped = {k: (v.replace("'", "''") if isinstance(v, str) else v) for k, v in values.items()}
        return self.tag.format(**values), self.query.format(**escaped)


def _lab_event(rng, cat):
    subject_id, label, year = rng.choice(cat.lab_events)
    return {"patient_id": subject_id, "lab_name": label, "year": year}


def _maybe_real(rng, real: dict, fake: dict) -> dict:
    """Existence questions: half draw a real event (answer 1), half a random combination (usually 0)."""
    return real if rng.random() < 0.5 else fake


def _exists_lab(rng, cat):
    real = _lab_event(rng, cat)
    fake = {"patient_id": rng.choice(cat.patients), "lab_name": rng.choice(cat.labs), "year": rng.choice(YEARS)}
    return _maybe_real(rng, real, fake)


def _exists_rx(rng, cat):
    s, d, y = rng.choice(cat.rx_events)
    return _maybe_real(rng, {"patient_id": s, "drug_name": d, "year": y},
                       {"patient_id": rng.choice(cat.patients), "drug_name": rng.choice(cat.drugs),
                        "year": rng.choice(YEARS)})


def _exists_dx(rng, cat):
    s, d, _y = rng.choice(cat.dx_events)
    return _maybe_real(rng, {"patient_id": s, "diagnosis_name": d},
                       {"patient_id": rng.choice(cat.patients), "diagnosis_name": rng.choice(cat.diagnoses)})


def _exists_px(rng, cat):
    s, d, _y = rng.choice(cat.px_events)
    return _maybe_real(rng, {"patient_id": s, "procedure_name": d},
                       {"patient_id": rng.choice(cat.patients), "procedure_name": rng.choice(cat.procedures)})


def _patient(rng, cat):
    return {"patient_id": rng.choice(cat.patients)}


def _patient_year(rng, cat):
    s, y = rng.choice(cat.admissions)
    return {"patient_id": s, "year": y}


def _t(id, tag, query, sample, **kw) -> Template:
    return Template(id=id, tag=tag, query=query, sample=sample, **kw)


TEMPLATES: list[Template] = [
    # --- lookups in the dictionaries ---------------------------------------------------------------------
    _t("drug_route", "what is the intake method of {drug_name}?",
       "select distinct prescriptions.route from prescriptions where prescriptions.drug = '{drug_name}'",
       lambda r, c: {"drug_name": r.choice(c.drugs)}),
    _t("diagnosis_long_title", "what is the full name of the diagnosis {diagnosis_name}?",
       "select d_icd_diagnoses.long_title from d_icd_diagnoses where d_icd_diagnoses.short_title = '{diagnosis_name}'",
       lambda r, c: {"diagnosis_name": r.choice(c.diagnoses)}, department="['physician']"),
    _t("procedure_long_title", "what is the full name of the procedure {procedure_name}?",
       "select d_icd_procedures.long_title from d_icd_procedures "
       "where d_icd_procedures.short_title = '{procedure_name}'",
       lambda r, c: {"procedure_name": r.choice(c.procedures)}, department="['physician']"),
    # --- costs -------------------------------------------------------------------------------------------
    _t("cost_diagnosis", "what is the cost of a diagnosis of {diagnosis_name}?",
       "select distinct cost.cost from cost where cost.event_type = 'diagnoses_icd' and cost.event_id in "
       f"(select diagnoses_icd.row_id from diagnoses_icd where {_DX})",
       lambda r, c: {"diagnosis_name": r.choice(c.diagnoses)}, department="['administration']"),
    _t("cost_procedure", "what is the cost of a procedure named {procedure_name}?",
       "select distinct cost.cost from cost where cost.event_type = 'procedures_icd' and cost.event_id in "
       f"(select procedures_icd.row_id from procedures_icd where {_PX})",
       lambda r, c: {"procedure_name": r.choice(c.procedures)}, department="['administration']"),
    _t("cost_lab", "what is the cost of a {lab_name} lab test?",
       "select distinct cost.cost from cost where cost.event_type = 'labevents' and cost.event_id in "
       f"(select labevents.row_id from labevents where {_LAB})",
       lambda r, c: {"lab_name": r.choice(c.labs)}, department="['administration']"),
    _t("cost_drug", "what is the cost of a prescription of {drug_name}?",
       "select distinct cost.cost from cost where cost.event_type = 'prescriptions' and cost.event_id in "
       "(select prescriptions.row_id from prescriptions where prescriptions.drug = '{drug_name}')",
       lambda r, c: {"drug_name": r.choice(c.drugs)}, department="['administration']"),
    # --- demographics and admissions -----------------------------------------------------------------------
    _t("patient_gender", "what is the gender of patient {patient_id}?",
       "select distinct patients.gender from patients where patients.subject_id = {patient_id}", _patient),
    _t("patient_dob", "what is the date of birth of patient {patient_id}?",
       "select distinct patients.dob from patients where patients.subject_id = {patient_id}", _patient),
    _t("admission_count_since", "how many times has patient {patient_id} been admitted to the hospital since {year}?",
       "select count(distinct admissions.hadm_id) from admissions where admissions.subject_id = {patient_id} "
       "and strftime('%Y', admissions.admittime) >= '{year}'", _patient_year),
    _t("first_admission_type", "what was the admission type of patient {patient_id} on their first hospital visit?",
       "select admissions.admission_type from admissions where admissions.subject_id = {patient_id} "
       "order by admissions.admittime asc limit 1", _patient),
    _t("last_insurance", "what was the insurance of patient {patient_id} on their last hospital visit?",
       "select admissions.insurance from admissions where admissions.subject_id = {patient_id} "
       "order by admissions.admittime desc limit 1", _patient, department="['administration']"),
    _t("first_visit_age", "what was the age of patient {patient_id} on their first hospital visit?",
       "select admissions.age from admissions where admissions.subject_id = {patient_id} "
       "order by admissions.admittime asc limit 1", _patient),
    _t("last_stay_days", "how many full days did the last hospital stay of patient {patient_id} last?",
       "select cast(julianday(admissions.dischtime) - julianday(admissions.admittime) as integer) from admissions "
       "where admissions.subject_id = {patient_id} order by admissions.admittime desc limit 1", _patient),
    _t("discharge_location_year", "where was patient {patient_id} discharged to after their hospital visits in {year}?",
       "select distinct admissions.discharge_location from admissions where admissions.subject_id = {patient_id} "
       "and strftime('%Y', admissions.admittime) = '{year}'", _patient_year),
    # --- icu stays ---------------------------------------------------------------------------------------
    _t("icu_count_since", "how many icu stays has patient {patient_id} had since {year}?",
       "select count(distinct icustays.icustay_id) from icustays where icustays.subject_id = {patient_id} "
       "and strftime('%Y', icustays.intime) >= '{year}'",
       lambda r, c: dict(zip(("patient_id", "year"), r.choice(c.icu_years)))),
    _t("first_icu_careunit", "what was the first care unit of patient {patient_id} on their first icu stay?",
       "select icustays.first_careunit from icustays where icustays.subject_id = {patient_id} "
       "order by icustays.intime asc limit 1", lambda r, c: {"patient_id": r.choice(c.icu_patients)}),
    _t("careunits_year", "which care units was patient {patient_id} in during {year}?",
       "select distinct transfers.careunit from transfers where transfers.subject_id = {patient_id} "
       "and transfers.careunit is not null and strftime('%Y', transfers.intime) = '{year}'",
       lambda r, c: dict(zip(("patient_id", "year"), r.choice(c.icu_years)))),
    _t("input_total_first_icu",
       "what is the total amount of {input_name} input that patient {patient_id} received on their first icu stay?",
       f"select sum(inputevents_cv.amount) from inputevents_cv where inputevents_cv.icustay_id = {_FIRST_ICU} and "
       "inputevents_cv.itemid in (select d_items.itemid from d_items where d_items.label = '{input_name}' "
       "and d_items.linksto = 'inputevents_cv')",
       lambda r, c: dict(zip(("patient_id", "input_name"), r.choice(c.first_icu_inputs)))),
    _t("output_total_first_icu",
       "what is the total {output_name} output of patient {patient_id} on their first icu stay?",
       f"select sum(outputevents.value) from outputevents where outputevents.icustay_id = {_FIRST_ICU} and "
       "outputevents.itemid in (select d_items.itemid from d_items where d_items.label = '{output_name}' "
       "and d_items.linksto = 'outputevents')",
       lambda r, c: dict(zip(("patient_id", "output_name"), r.choice(c.first_icu_outputs)))),
    _t("chart_last_icu", "what was the last {chart_name} value of patient {patient_id} on their last icu stay?",
       f"select chartevents.valuenum from chartevents where chartevents.icustay_id = {_LAST_ICU} and "
       "chartevents.itemid in (select d_items.itemid from d_items where d_items.label = '{chart_name}' "
       "and d_items.linksto = 'chartevents') order by chartevents.charttime desc limit 1",
       lambda r, c: dict(zip(("patient_id", "chart_name"), r.choice(c.last_icu_charts)))),
    # --- labs --------------------------------------------------------------------------------------------
    _t("lab_last_value", "what was the last {lab_name} value of patient {patient_id}?",
       f"select labevents.valuenum from labevents where labevents.subject_id = {{patient_id}} and {_LAB} "
       "order by labevents.charttime desc limit 1", _lab_event, department="['physician']"),
    _t("lab_first_value_year", "what was the first {lab_name} value of patient {patient_id} in {year}?",
       f"select labevents.valuenum from labevents where labevents.subject_id = {{patient_id}} and {_LAB} "
       "and strftime('%Y', labevents.charttime) = '{year}' order by labevents.charttime asc limit 1", _lab_event,
       department="['physician']"),
    _t("lab_max_recent",
       "what was the maximum {lab_name} value of patient {patient_id} in the last {n} years " + NOW + "?",
       f"select max(labevents.valuenum) from labevents where labevents.subject_id = {{patient_id}} and {_LAB} "
       f"and datetime(labevents.charttime) >= datetime('{CURRENT_TIME}', '-{{n}} year')",
       lambda r, c: {**_lab_event(r, c), "n": r.choice((1, 2, 3, 4))}, department="['physician']"),
    _t("lab_avg_year",
       "what was the average {lab_name} value of patient {patient_id} in {year}, rounded to 2 decimal places?",
       f"select round(avg(labevents.valuenum), 2) from labevents where labevents.subject_id = {{patient_id}} "
       f"and {_LAB} and strftime('%Y', labevents.charttime) = '{{year}}'", _lab_event, department="['physician']"),
    _t("lab_exists_since", "has patient {patient_id} had any {lab_name} lab tests since {year}?",
       f"select count(*) > 0 from labevents where labevents.subject_id = {{patient_id}} and {_LAB} "
       "and strftime('%Y', labevents.charttime) >= '{year}'", _exists_lab, kind="existence"),
    # --- prescriptions -----------------------------------------------------------------------------------
    _t("drug_exists_year", "has patient {patient_id} been prescribed {drug_name} in {year}?",
       "select count(*) > 0 from prescriptions where prescriptions.subject_id = {patient_id} and "
       "prescriptions.drug = '{drug_name}' and strftime('%Y', prescriptions.startdate) = '{year}'",
       _exists_rx, kind="existence"),
    _t("drugs_first_visit", "what drugs were prescribed to patient {patient_id} on their first hospital visit?",
       f"select distinct prescriptions.drug from prescriptions where prescriptions.hadm_id = {_FIRST_ADM}", _patient),
    _t("first_drug_dose", "what was the dose of {drug_name} first prescribed to patient {patient_id}?",
       "select prescriptions.dose_val_rx from prescriptions where prescriptions.subject_id = {patient_id} and "
       "prescriptions.drug = '{drug_name}' order by prescriptions.startdate asc limit 1",
       lambda r, c: dict(zip(("patient_id", "drug_name"), r.choice(c.rx_events)[:2]))),
    _t("drug_patient_count_recent",
       "how many patients were prescribed {drug_name} in the last {n} years " + NOW + "?",
       "select count(distinct prescriptions.subject_id) from prescriptions where prescriptions.drug = '{drug_name}' "
       f"and datetime(prescriptions.startdate) >= datetime('{CURRENT_TIME}', '-{{n}} year')",
       lambda r, c: {"drug_name": r.choice(c.drugs), "n": r.choice((1, 2, 3))}),
    _t("top_drugs_ordered",
       "what were the {k} most frequently prescribed drugs in {year}, from most to least frequent "
       "(ties in alphabetical order)?",
       "select prescriptions.drug from prescriptions where strftime('%Y', prescriptions.startdate) = '{year}' "
       "group by prescriptions.drug order by count(*) desc, prescriptions.drug asc limit {k}",
       lambda r, c: {"k": r.choice((3, 4, 5)), "year": r.choice(YEARS)}, kind="ordered"),
    # --- diagnoses and procedures ------------------------------------------------------------------------
    _t("diagnosis_exists", "has patient {patient_id} ever been diagnosed with {diagnosis_name}?",
       f"select count(*) > 0 from diagnoses_icd where diagnoses_icd.subject_id = {{patient_id}} and {_DX}",
       _exists_dx, kind="existence", department="['physician']"),
    _t("procedure_exists", "has patient {patient_id} ever undergone a {procedure_name} procedure?",
       f"select count(*) > 0 from procedures_icd where procedures_icd.subject_id = {{patient_id}} and {_PX}",
       _exists_px, kind="existence", department="['physician']"),
    _t("diagnoses_last_visit", "what diagnoses did patient {patient_id} receive on their last hospital visit?",
       "select distinct d_icd_diagnoses.short_title from d_icd_diagnoses where d_icd_diagnoses.icd9_code in "
       f"(select diagnoses_icd.icd9_code from diagnoses_icd where diagnoses_icd.hadm_id = {_LAST_ADM})", _patient,
       department="['physician']"),
    _t("first_procedure_time_year", "when did patient {patient_id} first undergo a procedure in {year}?",
       "select procedures_icd.charttime from procedures_icd where procedures_icd.subject_id = {patient_id} and "
       "strftime('%Y', procedures_icd.charttime) = '{year}' order by procedures_icd.charttime asc limit 1",
       lambda r, c: {"patient_id": (e := r.choice(c.px_events))[0], "year": e[2]}),
    _t("diagnosis_patient_count_since", "how many patients were diagnosed with {diagnosis_name} since {year}?",
       f"select count(distinct diagnoses_icd.subject_id) from diagnoses_icd where {_DX} "
       "and strftime('%Y', diagnoses_icd.charttime) >= '{year}'",
       lambda r, c: {"diagnosis_name": r.choice(c.diagnoses), "year": r.choice(YEARS)}),
    _t("procedure_patient_count_year", "how many patients underwent a {procedure_name} procedure in {year}?",
       f"select count(distinct procedures_icd.subject_id) from procedures_icd where {_PX} "
       "and strftime('%Y', procedures_icd.charttime) = '{year}'",
       lambda r, c: {"procedure_name": r.choice(c.procedures), "year": r.choice(YEARS)}),
    _t("top_diagnoses_ordered",
       "what were the {k} most frequent diagnoses since {year}, from most to least frequent "
       "(ties in alphabetical order)?",
       "select d_icd_diagnoses.short_title from diagnoses_icd join d_icd_diagnoses on "
       "diagnoses_icd.icd9_code = d_icd_diagnoses.icd9_code where strftime('%Y', diagnoses_icd.charttime) >= '{year}' "
       "group by d_icd_diagnoses.short_title order by count(*) desc, d_icd_diagnoses.short_title asc limit {k}",
       lambda r, c: {"k": r.choice((3, 4, 5)), "year": r.choice(YEARS)}, kind="ordered", importance="low"),
    _t("top_procedures_rank", "what were the top {k} most frequent procedures in {year}?",
       "select d_icd_procedures.short_title from d_icd_procedures where d_icd_procedures.icd9_code in "
       "(select t1.icd9_code from (select procedures_icd.icd9_code, dense_rank() over (order by count(*) desc) "
       "as c1 from procedures_icd where strftime('%Y', procedures_icd.charttime) = '{year}' "
       "group by procedures_icd.icd9_code) as t1 where t1.c1 <= {k})",
       lambda r, c: {"k": r.choice((3, 4, 5)), "year": r.choice(YEARS)}, importance="low"),
    _t("top_labs_rank", "what were the top {k} most frequent lab tests since {year}?",
       "select d_labitems.label from d_labitems where d_labitems.itemid in "
       "(select t1.itemid from (select labevents.itemid, dense_rank() over (order by count(*) desc) as c1 "
       "from labevents where strftime('%Y', labevents.charttime) >= '{year}' group by labevents.itemid) as t1 "
       "where t1.c1 <= {k})",
       lambda r, c: {"k": r.choice((2, 3, 4)), "year": r.choice(YEARS)}, importance="low"),
    # --- microbiology ------------------------------------------------------------------------------------
    _t("micro_first_organism",
       "what organism was found in the first {specimen} microbiology test of patient {patient_id}?",
       "select microbiologyevents.org_name from microbiologyevents where microbiologyevents.subject_id = "
       "{patient_id} and microbiologyevents.spec_type_desc = '{specimen}' and microbiologyevents.org_name "
       "is not null order by microbiologyevents.charttime asc limit 1",
       lambda r, c: dict(zip(("patient_id", "specimen"), r.choice([m for m in c.micro if m[3]])[:2]))),
    _t("micro_specimens_year", "what specimen tests did patient {patient_id} have in {year}?",
       "select distinct microbiologyevents.spec_type_desc from microbiologyevents where "
       "microbiologyevents.subject_id = {patient_id} and strftime('%Y', microbiologyevents.charttime) = '{year}'",
       lambda r, c: {"patient_id": (m := r.choice(c.micro))[0], "year": m[2]}),
]


def template_by_id(template_id: str) -> Template:
    for template in TEMPLATES:
        if template.id == template_id:
            return template
    raise KeyError(f"ehr_sql template {template_id!r} is unknown; expected one of {[t.id for t in TEMPLATES]}")
