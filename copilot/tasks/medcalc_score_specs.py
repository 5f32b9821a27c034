"""How each rule-based MedCalc-Bench score is recomputed from a row's "Relevant Entities".

    from copilot.tasks.medcalc_score_specs import SCORE_SPECS
    SCORE_SPECS[21].compute(Entities(row_entities))   # Recomputation(value=12, inputs="E3 V4 M5")

Each `CalculatorSpec` (medcalc_label_specs) reads the score's findings under the release's entity names and
calls the `packs.medcalc_calculators` function; `scale` is the range the score can take (a label outside it is
disputed). Equation-based calculators are in `medcalc_label_specs`; `medcalc_labels` compares.

Simplified: yes/no findings absent from the entities count as absent (MedCalc-Bench's convention), except
Centor's "Cough Absent", which the release's labels count as present when not stated (FeverPAIN's "absence of
cough or coryza" they count as absent). Where a label matches a known MedCalc-Bench bug the hint says so:
Child-Pugh (lower-case ascites scored 0), RCRI (two contradicting cerebrovascular entities), SIRS (heart rate
always counted), Charlson (graded items compared case-sensitively), GCS (verbal counted twice).
Not protected against: findings the entities misread from the note (a label agreeing with them agrees).
"""

from __future__ import annotations

from typing import Any

from copilot.tasks.medcalc_entities import PRESSURE_UNITS, Entities, NotComparable
from copilot.tasks.medcalc_label_specs import (MIN_WBC_GIGA_PER_L, CalculatorSpec, Recomputation, albumin,
                                               cell_count, creatinine, fmt, heart_rate, present)
from copilot.tasks.packs import medcalc_calculators as C
from copilot.tasks.task import Task


def _cha2ds2_vasc(e: Entities) -> Recomputation:
    age, sex = e.age_years(), e.sex()
    findings = {"chf": e.flag("Congestive Heart Faliure", "Congestive Heart Failure"),
                "hypertension": e.flag("Hypertension history"),
                "stroke_tia_thromboembolism": e.flag("Stroke", "Transient Ischemic Attacks History",
                                                     "Thromboembolism history"),
                "vascular_disease": e.flag("Vascular disease history"), "diabetes": e.flag("Diabetes history")}
    return Recomputation(C.cha2ds2_vasc(age, sex, **findings),
                         f"age {fmt(age)} y, {sex}, present: {present(findings)}")


def _wells_pe(e: Entities) -> Recomputation:
    rate = heart_rate(e)
    findings = {"clinical_signs_dvt": e.flag("Clinical signs and symptoms of Deep Vein Thrombosis"),
                "pe_most_likely": e.flag("Pulmonary Embolism is #1 diagnosis OR equally likely"),
                "immobilization_or_surgery": e.flag("Immobilization for at least 3 days",
                                                    "Surgery in the previous 4 weeks"),
                "previous_pe_dvt": e.flag("Previously Documented Pulmonary Embolism",
                                          "Previously documented Deep Vein Thrombosis"),
                "hemoptysis": e.flag("Hemoptysis"),
                "malignancy": e.flag("Malignancy with treatment within 6 months or palliative")}
    return Recomputation(C.wells_pe(heart_rate=rate, **findings),
                         f"HR {fmt(rate)}, present: {present(findings)}")


def _centor(e: Entities) -> Recomputation:
    age, temperature = e.age_years(), e.converted("Temperature", C.to_celsius)
    findings = {"exudate_or_swelling_tonsils": e.flag("Exudate or swelling on tonsils"),
                "tender_anterior_nodes": e.flag("Tender/swollen anterior cervical lymph nodes"),
                # MedCalc-Bench counts an unstated cough as absent (a point), like any unstated finding
                "cough_absent": e.flag("Cough Absent", default=True)}
    return Recomputation(C.centor_mcisaac(age, temperature, **findings),
                         f"age {fmt(age)} y, {fmt(round(temperature, 2))} °C, present: {present(findings)}")


GCS_EYE = {"eyes open spontaneously": 4, "eye opening to verbal command": 3, "eye opening to pain": 2,
           "no eye opening": 1}
GCS_VERBAL = {"oriented": 5, "confused": 4, "inappropriate words": 3, "incomprehensible sounds": 2,
              "no verbal response": 1}
GCS_MOTOR = {"obeys commands": 6, "localizes pain": 5, "withdrawal from pain": 4, "flexion to pain": 3,
             "extension to pain": 2, "no motor response": 1}
GCS_NOT_TESTABLE = "not testable"
MEDCALC_BENCH_NOT_TESTABLE_POINTS = 4   # its code scores an untestable eye or verbal response as 4


GCS_COMPONENTS = (("E", "Best eye response", GCS_EYE), ("V", "Best verbal response", GCS_VERBAL),
                  ("M", "Best motor response", GCS_MOTOR))


def _gcs_scores(e: Entities) -> list[int | None]:
    """(eye, verbal, motor) points; None for a component 'not testable'."""
    return [None if str(e.get(key)).strip().lower() == GCS_NOT_TESTABLE else e.choice(key, points)
            for _, key, points in GCS_COMPONENTS]


def _gcs(e: Entities) -> Recomputation:
    scores = _gcs_scores(e)
    for (_, key, _), score in zip(GCS_COMPONENTS, scores):
        if score is None:
            raise NotComparable(f"{key.lower()} 'not testable': the GCS has no score for an untestable "
                                f"component (MedCalc-Bench counts it as {MEDCALC_BENCH_NOT_TESTABLE_POINTS})")
    eye, verbal, motor = scores
    return Recomputation(C.glasgow_coma_score(eye, verbal, motor), f"E{eye} V{verbal} M{motor}")


def _gcs_row_scale(e: Entities) -> tuple[int, int, str] | None:
    """With components not testable, the GCS left possible: each of them anywhere in its own range."""
    scores = _gcs_scores(e)
    if None not in scores:
        return None
    parts = list(zip(scores, GCS_COMPONENTS))
    low = sum(min(points.values()) if score is None else score for score, (_, _, points) in parts)
    high = sum(max(points.values()) if score is None else score for score, (_, _, points) in parts)
    given = " ".join(f"{letter}{'?' if score is None else score}" for score, (letter, _, _) in parts)
    return low, high, f"{given} ('?' not testable)"


def _gcs_hint(e: Entities, task: Task) -> str | None:
    eye, verbal, motor = (MEDCALC_BENCH_NOT_TESTABLE_POINTS if score is None else score for score in _gcs_scores(e))
    if task.answer == eye + 2 * verbal + motor:
        return f"the label equals E{eye} + 2×V{verbal} + M{motor}: the verbal score is counted twice"
    if task.answer == eye + verbal + motor:
        return f"the label equals E{eye} + V{verbal} + M{motor} with 'not testable' scored as 4 (MedCalc-Bench)"
    return None


def _has_bled(e: Entities) -> Recomputation:
    age = e.age_years()
    drinks = e.number("Number of Alcoholic Drinks Per Week") if e.has("Number of Alcoholic Drinks Per Week") else 0
    findings = {"uncontrolled_hypertension": e.flag("Hypertension history"),   # the release's H criterion
                "renal_disease": e.flag("Renal disease criteria for the HAS-BLED rule"),
                "liver_disease": e.flag("Liver disease criteria for the HAS-BLED rule"),
                "stroke_history": e.flag("Stroke"),
                "prior_major_bleeding": e.flag("Prior major bleeding or predisposition to bleeding"),
                "labile_inr": e.flag("Labile international normalized ratio"),
                "bleeding_medication": e.flag("Medication usage predisposing to bleeding")}
    return Recomputation(C.has_bled(age=age, alcohol_drinks_per_week=drinks, **findings),
                         f"age {fmt(age)} y, {fmt(drinks)} drinks/week, present: {present(findings)}")


def _curb_65(e: Entities) -> Recomputation:
    args = {"confusion": e.flag("Confusion"), "bun_mg_dl": e.converted("Blood Urea Nitrogen (BUN)", C.to_mg_dl, "bun"),
            "respiratory_rate": e.number("respiratory rate", ("/min",)),
            "sbp": e.number("Systolic Blood Pressure", PRESSURE_UNITS),
            "dbp": e.number("Diastolic Blood Pressure", PRESSURE_UNITS), "age": e.age_years()}
    return Recomputation(C.curb_65(**args), ", ".join(f"{k} {v if isinstance(v, bool) else fmt(v)}"
                                                      for k, v in args.items()))


def _perc(e: Entities) -> Recomputation:
    age, rate = e.age_years(), heart_rate(e)
    saturation = e.number("O₂ saturation percentage", ("%",))
    findings = {"unilateral_leg_swelling": e.flag("Unilateral Leg Swelling"), "hemoptysis": e.flag("Hemoptysis"),
                "recent_surgery_or_trauma": e.flag("Recent surgery or trauma"),
                "prior_pe_or_dvt": e.flag("Previously Documented Pulmonary Embolism",
                                          "Previously documented Deep Vein Thrombosis"),
                "hormone_use": e.flag("Hormone use")}
    return Recomputation(C.perc_count(age, rate, saturation, **findings),
                         f"age {fmt(age)} y, HR {fmt(rate)}, SaO2 {fmt(saturation)} %, "
                         f"present: {present(findings)}")


def _wells_dvt(e: Entities) -> Recomputation:
    findings = {"active_cancer": e.flag("Active cancer"),
                "bedridden_or_major_surgery": e.flag("Bedridden recently >3 days or major surgery within 12 weeks",
                                                     "Major surgery within 12 weeks"),
                "calf_swelling_3cm": e.flag("Calf swelling >3 centimeters compared to the other leg"),
                "collateral_superficial_veins": e.flag("Collateral (nonvaricose) superficial veins present"),
                "entire_leg_swollen": e.flag("Entire Leg Swollen"),
                "localized_deep_vein_tenderness": e.flag("Localized tenderness along the deep venous system"),
                "pitting_edema_symptomatic_leg": e.flag("Pitting edema, confined to symptomatic leg"),
                "paralysis_paresis_or_cast": e.flag("Paralysis, paresis, or recent plaster immobilization of the "
                                                    "lower extremity"),
                "previous_dvt": e.flag("Previously documented Deep Vein Thrombosis"),
                "alternative_diagnosis_as_likely": e.flag("Alternative diagnosis to Deep Vein Thrombosis as likely "
                                                          "or more likely")}
    return Recomputation(C.wells_dvt(**findings), f"present: {present(findings)}")


CHILD_PUGH_ENCEPHALOPATHY = {"no encephalopathy": "none", "grade 0": "none", "none": "none",
                             "grade 1-2": "grade 1-2", "grade 3-4": "grade 3-4"}
CHILD_PUGH_ASCITES = {"absent": "absent", "none": "absent", "slight": "slight", "mild": "slight",
                      "moderate": "moderate", "moderate to severe": "moderate", "severe": "moderate"}


def _child_pugh_grade(e: Entities, key: str, grades: dict[str, str], unstated: str) -> str:
    # MedCalc-Bench's default for ascites / encephalopathy not stated: absent (1 point)
    return e.category(key, grades) if e.has(key) else unstated


def _child_pugh(e: Entities) -> Recomputation:
    bilirubin = e.converted("Bilirubin", C.to_mg_dl, "bilirubin")
    albumin_g_dl, inr = albumin(e), e.number("international normalized ratio")
    ascites = _child_pugh_grade(e, "Ascites", CHILD_PUGH_ASCITES, "absent")
    encephalopathy = _child_pugh_grade(e, "Encephalopathy", CHILD_PUGH_ENCEPHALOPATHY, "none")
    return Recomputation(C.child_pugh(bilirubin, albumin_g_dl, inr, ascites, encephalopathy),
                         f"bilirubin {fmt(bilirubin)} mg/dL, albumin {fmt(albumin_g_dl)} g/dL, INR {fmt(inr)}, "
                         f"ascites {ascites}, encephalopathy {encephalopathy}")


def _child_pugh_hint(e: Entities, task: Task) -> str | None:
    """The release's labels follow an earlier MedCalc-Bench Child-Pugh code: it compared ascites with 'Absent' /
    'Slight' / 'Moderate' (the entities are lower-case, so a stated ascites scored 0), scored bilirubin exactly
    2 mg/dL 0 and exactly 3 mg/dL 3, albumin exactly 2.8 g/dL 3, and encephalopathy 'Grade 0' 0."""
    bilirubin = e.converted("Bilirubin", C.to_mg_dl, "bilirubin")
    albumin_g_dl, inr = albumin(e), e.number("international normalized ratio")
    encephalopathy = str(e.get("Encephalopathy")).strip().lower() if e.has("Encephalopathy") else "none"
    score = (0 if bilirubin == 2 else 1 if bilirubin < 2 else 2 if bilirubin < 3 else 3)
    score += 1 if albumin_g_dl > 3.5 else 2 if albumin_g_dl > 2.8 else 3
    score += 1 if inr < 1.7 else 2 if inr <= 2.3 else 3
    score += 0 if e.has("Ascites") else 1
    score += {"grade 0": 0, "grade 1-2": 2, "grade 3-4": 3}.get(encephalopathy, 1)
    if task.answer == score:
        return ("the label follows MedCalc-Bench's earlier code: a stated (lower-case) ascites scores 0, and "
                "bilirubin 2 / 3 mg/dL, albumin 2.8 g/dL and encephalopathy 'Grade 0' are scored off by one band")
    return None


CEREBROVASCULAR_KEYS = ("History of cerebrovascular disease", "Cerebrovascular disease history")


def _rcri(e: Entities) -> Recomputation:
    findings = {"elevated_risk_surgery": e.flag("Elevated-risk surgery"),
                "ischemic_heart_disease": e.flag("History of ischemic heart disease"),
                "heart_failure": e.flag("Congestive Heart Failure criteria for the Cardiac Risk Index rule"),
                "cerebrovascular_disease": e.flag(*CEREBROVASCULAR_KEYS),
                "insulin_treatment": e.flag("Pre-operative treatment with insulin")}
    scr = creatinine(e, "Pre-operative creatinine")
    return Recomputation(C.revised_cardiac_risk_index(creatinine_mg_dl=scr, **findings),
                         f"Cr {fmt(scr)} mg/dL, present: {present(findings)}")


def _rcri_hint(e: Entities, task: Task) -> str | None:
    """The release states cerebrovascular disease twice; MedCalc-Bench's label reads the second name only."""
    first, second = (e.get(key) if e.has(key) else None for key in CEREBROVASCULAR_KEYS)
    if first is True and second is False and task.answer == _rcri(e).value - 1:
        return (f"the label counts {CEREBROVASCULAR_KEYS[1]!r} (false) and not {CEREBROVASCULAR_KEYS[0]!r} "
                "(true): the two entities contradict each other")
    return None


def _feverpain(e: Entities) -> Recomputation:
    findings = {"fever_past_24h": e.flag("Fever in past 24 hours"), "purulence": e.flag("Purulent tonsils"),
                "attend_rapidly": e.flag("Symptom onset ≤3 days"),
                "severely_inflamed_tonsils": e.flag("Severe tonsil inflammation"),
                # unstated counts as absent here: the release's labels do (unlike its Centor labels)
                "no_cough_or_coryza": e.flag("Absence of cough or coryza")}
    return Recomputation(C.feverpain(**findings), f"present: {present(findings)}")


def _sirs(e: Entities) -> Recomputation:
    temperature, rate = e.converted("Temperature", C.to_celsius), heart_rate(e)
    respiratory_rate = e.number("respiratory rate", ("/min",))
    paco2 = e.number("PaCO₂", PRESSURE_UNITS) if e.has("PaCO₂") else None
    wbc = cell_count(e, "White blood cell count", MIN_WBC_GIGA_PER_L)
    inputs = (f"{fmt(round(temperature, 2))} °C, HR {fmt(rate)}, RR {fmt(respiratory_rate)}, "
              f"PaCO2 {'not stated' if paco2 is None else fmt(paco2)}, WBC {fmt(wbc)} ×10⁹/L, bands not stated")
    return Recomputation(C.sirs_count(temperature, rate, respiratory_rate, paco2, wbc, None), inputs)


def _sirs_hint(e: Entities, task: Task) -> str | None:
    """MedCalc-Bench's first SIRS code counted the heart-rate criterion whatever the rate and converted a WBC
    given per µL to a count per m³ (always above 12,000)."""
    extra = {"heart rate ≤ 90 counted": heart_rate(e) <= 90,
             "WBC per µL counted as > 12,000": e.quantity("White blood cell count")[1] == "µL"
             and 4.0 <= cell_count(e, "White blood cell count", MIN_WBC_GIGA_PER_L) <= 12.0}
    if any(extra.values()) and task.answer == _sirs(e).value + sum(extra.values()):
        return f"the label matches MedCalc-Bench's first SIRS code ({present(extra)})"
    return None


CHARLSON_GRADES = {
    "Liver disease severity": ("liver_disease", {"none": "none", "mild": "mild", "moderate": "moderate to severe",
                                                 "moderate to severe": "moderate to severe",
                                                 "severe": "moderate to severe"}),
    "Diabetes mellitus criteria for CCI rule": ("diabetes", {"none or diet-controlled": "none", "none": "none",
                                                             "uncomplicated": "uncomplicated",
                                                             "end-organ damage": "end-organ damage"}),
    "Solid tumor": ("solid_tumor", {"none": "none", "localized": "localized", "metastatic": "metastatic"}),
}
CHARLSON_FLAGS = {"myocardial_infarction": ("Myocardial infarction",), "heart_failure": ("Congestive Heart Faliure",
                  "Congestive Heart Failure"), "peripheral_vascular_disease": ("Peripheral vascular disease",),
                  "cerebrovascular_disease_or_tia": ("Cerebrovascular Accident", "Transient Ischemic Attacks History"),
                  "dementia": ("Dementia",), "chronic_pulmonary_disease": ("Chronic Obstructive Pulmonary Disease",),
                  "connective_tissue_disease": ("Connective tissue disease",),
                  "peptic_ulcer_disease": ("Peptic ulcer disease",), "hemiplegia": ("Hemiplegia",),
                  "leukemia": ("Leukemia",), "lymphoma": ("Lymphoma",), "aids": ("AIDS",)}
CKD_KEY = "Moderate to severe Chronic Kidney Disease"


def _charlson_args(e: Entities, solid_tumor_when_true: str | None = None) -> dict[str, Any]:
    """The Charlson inputs; a solid tumor stated only as present (True) needs `solid_tumor_when_true`."""
    args: dict[str, Any] = {"age": e.age_years()}
    args.update({name: e.flag(*keys) for name, keys in CHARLSON_FLAGS.items()})
    ckd = e.get(CKD_KEY) if e.has(CKD_KEY) else False
    if not (isinstance(ckd, bool) or str(ckd).strip().lower() in ("moderate", "severe", "moderate to severe")):
        raise NotComparable(f"entity {CKD_KEY!r} is {ckd!r}; expected true/false or a severity")
    args["moderate_severe_ckd"] = bool(ckd)
    for key, (name, grades) in CHARLSON_GRADES.items():
        value = e.get(key) if e.has(key) else False
        if value is True and name == "solid_tumor" and solid_tumor_when_true:
            args[name] = solid_tumor_when_true
        elif isinstance(value, bool):
            if value:
                raise NotComparable(f"entity {key!r} is true; the score needs its grade "
                                    f"({sorted(set(grades.values()))})")
            args[name] = "none"
        else:
            args[name] = e.category(key, grades)
    return args


def _charlson(e: Entities) -> Recomputation:
    args = _charlson_args(e)
    graded = ", ".join(f"{name} {args[name]}" for name, _ in CHARLSON_GRADES.values())
    flags = present({name: args[name] for name in [*CHARLSON_FLAGS, "moderate_severe_ckd"]})
    return Recomputation(C.charlson_comorbidity_index(**args), f"age {fmt(args['age'])} y, {graded}, present: {flags}")


def _charlson_row_scale(e: Entities) -> tuple[int, int, str] | None:
    """A solid tumor stated only as present: the score with it localized (2) up to metastatic (6)."""
    if e.has("Solid tumor") and e.get("Solid tumor") is True:
        low, high = (C.charlson_comorbidity_index(**_charlson_args(e, extent))
                     for extent in ("localized", "metastatic"))
        return low, high, "a solid tumor of unstated extent"
    return None


def _charlson_hint(e: Entities, task: Task) -> str | None:
    """MedCalc-Bench's code compares the graded items with lower-case names ('mild', 'end-organ damage') that the
    release's capitalised values never equal, so every stated grade (even 'None or diet-controlled', and a tumor
    stated as true) counts 1 point."""
    stated = [key for key in CHARLSON_GRADES if e.has(key) and e.get(key) not in (False, "")]
    if not stated:
        return None
    ungraded = {**_charlson_args(e, "localized"), **{name: "none" for name, _ in CHARLSON_GRADES.values()}}
    if task.answer == C.charlson_comorbidity_index(**ungraded) + len(stated):
        return (f"the label counts each stated grade ({', '.join(stated)}) as 1 point "
                "(MedCalc-Bench's case-sensitive comparison)")
    return None


# MedCalc-Bench calculator id -> how to recompute the score.
SCORE_SPECS: dict[int, CalculatorSpec] = {
    4: CalculatorSpec("cha2ds2_vasc", _cha2ds2_vasc, scale=("CHA2DS2-VASc", 0, 9)),
    8: CalculatorSpec("wells_pe", _wells_pe, scale=("Wells' PE", 0, 12.5)),
    15: CalculatorSpec("child_pugh", _child_pugh, scale=("Child-Pugh", 5, 15), label_hint=_child_pugh_hint),
    16: CalculatorSpec("wells_dvt", _wells_dvt, scale=("Wells' DVT", -2, 9)),
    17: CalculatorSpec("revised_cardiac_risk_index", _rcri, scale=("RCRI", 0, 6), label_hint=_rcri_hint),
    20: CalculatorSpec("centor_mcisaac", _centor, scale=("Centor", -1, 5)),
    21: CalculatorSpec("glasgow_coma_score", _gcs, scale=("GCS", 3, 15), row_scale=_gcs_row_scale,
                       label_hint=_gcs_hint),
    25: CalculatorSpec("has_bled", _has_bled, scale=("HAS-BLED", 0, 9)),
    32: CalculatorSpec("charlson_comorbidity_index", _charlson, scale=("Charlson", 0, 37),
                       row_scale=_charlson_row_scale, label_hint=_charlson_hint),
    33: CalculatorSpec("feverpain", _feverpain, scale=("FeverPAIN", 0, 5)),
    45: CalculatorSpec("curb_65", _curb_65, scale=("CURB-65", 0, 5)),
    48: CalculatorSpec("perc_count", _perc, scale=("PERC", 0, 8)),
    51: CalculatorSpec("sirs_count", _sirs, scale=("SIRS", 0, 4), label_hint=_sirs_hint),
}
