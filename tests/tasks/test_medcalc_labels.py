"""Label recomputation for MedCalc-Bench rows (copilot.tasks.medcalc_labels) and the MedCalc-Bench-Verified
reader (copilot.tasks.medcalc_verified), on small hand-written records shaped like the release's.

Expected values are worked by hand in the comments; records are invented (no release record is copied)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from copilot import tasks
from copilot.tasks.medcalc_labels import LabelCheck, recompute_label
from copilot.tasks.medcalc_verified import normalize_note, read_verified
from copilot.tasks.task import Task, TaskFormatError

NOTE = "A patient note written for this test."


def medcalc_task(calculator_id: int, answer, entities: dict, output_type: str = "decimal", limits=None,
                 note: str = NOTE) -> Task:
    """A Task as medcalc_loader builds it; decimal limits default to the label ± 5 % (MedCalc-Bench's)."""
    if limits is None and output_type == "decimal":
        limits = sorted((round(answer * 0.95, 5), round(answer * 1.05, 5)))
    lower, upper = limits if limits is not None else (None, None)
    params = {"lower": lower, "upper": upper, "output_type": output_type, "calculator_id": calculator_id,
              "calculator_name": f"calculator {calculator_id}"}
    return Task(id=f"medcalcbench/test/{calculator_id}", dataset="medcalcbench", split="test", family="medcalc",
                question="What is the value?", context=note, answer=answer, checker="medcalc",
                checker_params=params, meta={"relevant_entities": entities, "row_number": 1})


def check(*args, **kwargs) -> LabelCheck:
    return recompute_label(medcalc_task(*args, **kwargs))


# ---------------------------------------------------------------- agreeing rows, one per calculator family


AGREEING = [
    # Cockcroft-Gault, 65 M, 85 kg, 170 cm (BMI 29.4 -> adjusted weight 73.56 kg), Scr 106.08 µmol/L = 1.2 mg/dL:
    # 75 x 73.56 / 86.4 = 63.86 mL/min.
    (2, 63.86, {"sex": "Male", "age": [65, "years"], "weight": [85.0, "kg"], "height": [170.0, "cm"],
                "creatinine": [106.08, "µmol/L"]}, "decimal", "creatinine_clearance"),
    # CKD-EPI 2021, 50 F, Scr 0.6: 142 x (0.6/0.7)^-0.241 x 0.9938^50 x 1.012 = 109.28.
    (3, 109.28, {"sex": "Female", "age": [50, "years"], "creatinine": [0.6, "mg/dL"]}, "decimal", "ckd_epi_2021"),
    # CHA2DS2-VASc, 76 F with hypertension: age 2 + female 1 + hypertension 1 = 4 (diabetes stated absent,
    # the other findings not stated).
    (4, 4, {"sex": "Female", "age": [76, "years"], "Hypertension history": True, "Diabetes history": False},
     "integer", "cha2ds2_vasc"),
    # MAP 120/80 mm Hg: (2 x 80 + 120) / 3 = 93.333.
    (5, 93.333, {"Systolic Blood Pressure": [120.0, "mm hg"], "Diastolic Blood Pressure": [80.0, "mmhg"]},
     "decimal", "mean_arterial_pressure"),
    # BMI 150 lbs, 65 in (CDC example): 703 x 150 / 65^2 = 24.96.
    (6, 24.96, {"weight": [150.0, "lbs"], "height": [65.0, "in"]}, "decimal", "bmi"),
    # Calcium 2.2 mmol/L = 8.8176 mg/dL, albumin 25 g/L = 2.5 g/dL: 8.8176 + 0.8 x 1.5 = 10.0176.
    (7, 10.018, {"Calcium": [2.2, "mmol/L"], "Albumin": [25.0, "g/L"]}, "decimal", "corrected_calcium"),
    # Wells' PE: HR 110 (1.5) + surgery in the previous 4 weeks (1.5) + malignancy (1) = 4.0.
    (8, 4.0, {"Heart Rate or Pulse": [110.0, "beats per minute"], "Surgery in the previous 4 weeks": True,
              "Immobilization for at least 3 days": False,
              "Malignancy with treatment within 6 months or palliative": True}, "decimal", "wells_pe"),
    # Estimated due date, LMP 01/10/2020, cycle 32: + 280 d = 10/16/2020, + 4 d = 10/20/2020.
    (13, "10/20/2020", {"Last menstrual date": "01/10/2020", "cycle length": 32}, "date", "estimated_due_date"),
    # Centor, 10 years (120 months): +1; 101.3 °F = 38.5 °C: +1; exudate +1; cough absent +1; nodes 0 = 4.
    (20, 4, {"age": [120, "months"], "Temperature": [101.3, "degrees fahreinheit"],
             "Exudate or swelling on tonsils": True, "Tender/swollen anterior cervical lymph nodes": False,
             "Cough Absent": True}, "integer", "centor_mcisaac"),
    # GCS eye opening to verbal command 3 + confused 4 + localizes pain 5 = 12.
    (21, 12, {"Best eye response": "eye opening to verbal command", "Best verbal response": "confused",
              "Best motor response": "localizes pain"}, "integer", "glasgow_coma_score"),
    # MELD Na: Cr 1.5, bilirubin 2.0, INR 1.5, Na 130: MELD(i) = 0.388 + 0.262 + 0.454 + 0.643 = 1.747 -> 17;
    # 17 + 1.32 x 7 - 0.033 x 17 x 7 = 22.31 -> 22.
    (23, 22.0, {"creatinine": [1.5, "mg/dL"], "Bilirubin": [2.0, "mg/dL"], "international normalized ratio": 1.5,
                "Sodium": [130.0, "mEq/L"], "Dialysis at least twice in the past week": False}, "decimal", "meld_na"),
    # LDL (Friedewald): 200 - 50 - 150 / 5 = 120 mg/dL.
    (44, 120.0, {"Total cholesterol": [200.0, "mg/dL"], "high-density lipoprotein cholesterol": [50.0, "mg/dL"],
                 "Triglycerides": [150.0, "mg/dL"]}, "decimal", "ldl_friedewald"),
    # Gestational age, LMP 01/01/2021, current date 03/15/2021: 73 days = 10 weeks 3 days.
    (69, [10, 3], {"Last menstrual date": "01/01/2021", "Current Date": "03/15/2021"}, "weeks_days",
     "gestational_age"),
    # MDRD, 60 F, Black, Scr 1.0: 175 x 60^-0.203 (0.43555) x 0.742 x 1.212 = 68.55.
    (9, 68.55, {"sex": "Female", "age": [60, "years"], "Race": "Black", "creatinine": [1.0, "mg/dL"]}, "decimal",
     "mdrd_gfr"),
    # FIB-4, 50 y, AST 40, ALT 25, platelets 200,000/µL = 200 x10^9/L: 50 x 40 / (200 x 5) = 2.0.
    (19, 2.0, {"age": [50, "years"], "Aspartate aminotransferase": [40.0, "U/L"],
               "Alanine aminotransferase": [25.0, "U/L"], "Platelet count": [200000.0, "µL"]}, "decimal", "fib4"),
    # Maintenance fluids, 2180 g = 2.18 kg: 4 x 2.18 = 8.72 mL/hr.
    (22, 8.72, {"weight": [2180.0, "g"]}, "decimal", "maintenance_fluids"),
    # Steroids, prednisone 40 mg PO -> dexamethasone IV: 40 x 0.75 / 5 = 6 mg.
    (24, 6.0, {"input steroid": ["PredniSONE PO", 40.0, "mg"], "target steroid": "Dexamethasone IV"}, "decimal",
     "steroid_equivalent_dose"),
    # Sodium for hyperglycemia, Na 130, glucose 25 mmol/L = 450.4 mg/dL: 130 + 0.024 x 350.4 = 138.41.
    (26, 138.41, {"Sodium": [130.0, "mEq/L"], "Glucose": [25.0, "mmol/L"]}, "decimal",
     "sodium_corrected_for_glucose"),
    # FENa: urine Na 20 x Scr 2.0 / (Na 140 x urine Cr 100) x 100 = 0.2857 %.
    (40, 0.2857, {"Sodium": [140.0, "mmol/L"], "creatinine": [2.0, "mg/dL"], "Urine sodium": [20.0, "mEq/L"],
                  "Urine creatinine": [100.0, "mg/dL"]}, "decimal", "fractional_excretion_sodium"),
    # QT 400 msec, HR 75 (RR 0.8 s): Framingham 400 + 154 x 0.2 = 430.8; Hodges 400 + 1.75 x 15 = 426.25;
    # Rautaharju 400 x 195 / 180 = 433.33.
    (57, 430.8, {"QT interval": [400.0, "msec"], "Heart Rate or Pulse": [75.0, "bpm"]}, "decimal", "qtc_framingham"),
    (58, 426.25, {"QT interval": [400.0, "msec"], "Heart Rate or Pulse": [75.0, "bpm"]}, "decimal", "qtc_hodges"),
    (59, 433.33, {"QT interval": [400.0, "msec"], "Heart Rate or Pulse": [75.0, "bpm"]}, "decimal",
     "qtc_rautaharju"),
    # BSA (Mosteller), 81 kg, 180 cm: √(81 x 180 / 3600) = √4.05 = 2.012 m².
    (60, 2.012, {"weight": [81.0, "kg"], "height": [180.0, "cm"]}, "decimal", "bsa_mosteller"),
    # Na 140, Cl 100, HCO3 14: anion gap 26, delta gap 14, delta ratio 14 / 10 = 1.4; albumin 2.0 g/dL adds
    # 2.5 x 2 = 5: corrected gap 31, corrected delta gap 19, corrected delta ratio 1.9.
    (63, 14.0, {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [14.0, "mmol/L"]},
     "decimal", "delta_gap"),
    (64, 1.4, {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [14.0, "mmol/L"]},
     "decimal", "delta_ratio"),
    (65, 31.0, {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [14.0, "mmol/L"],
                "Albumin": [20.0, "g/L"]}, "decimal", "albumin_corrected_anion_gap"),
    (66, 19.0, {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [14.0, "mmol/L"],
                "Albumin": [2.0, "g/dL"]}, "decimal", "albumin_corrected_delta_gap"),
    (67, 1.9, {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [14.0, "mmol/L"],
               "Albumin": [2.0, "g/dL"]}, "decimal", "albumin_corrected_delta_ratio"),
    # Conception, LMP 01/10/2020, cycle 28: + 14 d = 01/24/2020.
    (68, "01/24/2020", {"Last menstrual date": "01/10/2020", "cycle length": 28}, "date",
     "estimated_conception_date"),
    # Child-Pugh: bilirubin 2.5 (2) + albumin 3.0 (2) + INR 1.5 (1) + slight ascites (2) + grade 1-2 (2) = 9.
    (15, 9, {"Bilirubin": [2.5, "mg/dL"], "Albumin": [3.0, "g/dL"], "international normalized ratio": 1.5,
             "Ascites": "slight", "Encephalopathy": "Grade 1-2"}, "integer", "child_pugh"),
    # Wells' DVT: cancer 1 + major surgery 1 + whole leg swollen 1 + pitting edema 1 - alternative diagnosis 2 = 2.
    (16, 2, {"Active cancer": True, "Bedridden recently >3 days or major surgery within 12 weeks": False,
             "Major surgery within 12 weeks": True, "Entire Leg Swollen": True,
             "Pitting edema, confined to symptomatic leg": True,
             "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely": True}, "integer", "wells_dvt"),
    # RCRI: elevated-risk surgery 1 + ischemic heart disease 1 + creatinine 221 µmol/L = 2.5 mg/dL 1 = 3.
    (17, 3, {"Elevated-risk surgery": True, "History of ischemic heart disease": True,
             "Pre-operative treatment with insulin": False, "Pre-operative creatinine": [221.0, "µmol/L"]},
     "integer", "revised_cardiac_risk_index"),
    # FeverPAIN: fever 1 + purulence 1 + severe inflammation 1; onset > 3 days; cough/coryza not stated: 3.
    (33, 3, {"Fever in past 24 hours": True, "Purulent tonsils": True, "Symptom onset ≤3 days": False,
             "Severe tonsil inflammation": True}, "integer", "feverpain"),
    # SIRS: 101.3 °F = 38.5 °C 1 + HR 95 1 + PaCO2 30 (RR 18) 1; WBC 9,000/mm³ 0 = 3.
    (51, 3, {"Temperature": [101.3, "degrees fahrenheit"], "Heart Rate or Pulse": [95.0, "beats per minute"],
             "respiratory rate": [18.0, "breaths per minute"], "PaCO₂": [30.0, "mm hg"],
             "White blood cell count": [9000.0, "m^3"]}, "integer", "sirs_count"),
    # Charlson: age 65 2 + heart failure 1 + mild liver 1 + diabetes with end-organ damage 2 + metastatic
    # tumor 6 + severe CKD 2 = 14.
    (32, 14, {"age": [65, "years"], "Congestive Heart Faliure": True, "Liver disease severity": "Mild",
              "Diabetes mellitus criteria for CCI rule": "End-organ damage", "Solid tumor": "Metastatic",
              "Moderate to severe Chronic Kidney Disease": "Severe", "Dementia": False}, "integer",
     "charlson_comorbidity_index"),
]


@pytest.mark.parametrize("calculator_id, label, entities, output_type, calculator", AGREEING,
                         ids=[row[4] for row in AGREEING])
def test_agreeing_rows(calculator_id, label, entities, output_type, calculator):
    result = check(calculator_id, label, entities, output_type)
    assert result.status == "agrees", result.reason
    assert result.calculator == calculator and result.label == label
    assert type(result.recomputed) is type(label)
    assert "from " in result.reason     # says which inputs it used


def test_decimal_within_limits_and_the_recomputed_form():
    result = check(5, 93.333, {"Systolic Blood Pressure": [120, "mm hg"], "Diastolic Blood Pressure": [80, "mm hg"]})
    assert result.recomputed == pytest.approx(93.3333) and "within [" in result.reason
    assert result.to_dict() == {"status": "agrees", "calculator": "mean_arterial_pressure", "label": 93.333,
                                "recomputed": result.recomputed, "reason": result.reason}


def test_decimal_row_without_limits_uses_five_percent():
    assert check(6, 25.9, {"weight": [68.0, "kg"], "height": [1.65, "m"]}, limits=(None, None)).status == "agrees"
    # 24.98 is 8 % below 27.2: outside label ± 5 %.
    assert check(6, 27.2, {"weight": [68.0, "kg"], "height": [1.65, "m"]}, limits=(None, None)).status == "disputed"


# ---------------------------------------------------------------- disputed rows of each kind


def test_gcs_label_above_fifteen():
    result = check(21, 20, {"Best eye response": "eyes open spontaneously", "Best verbal response": "oriented",
                            "Best motor response": "obeys commands"}, "integer")
    assert result.status == "disputed" and result.recomputed == 15
    assert "label 20 is above the GCS maximum 15" in result.reason
    assert "verbal score is counted twice" in result.reason and "E4 V5 M6" in result.reason


def test_gcs_label_within_scale_but_wrong():
    # E2 + V3 + M4 = 9; the label 12 counts the verbal response twice.
    result = check(21, 12, {"Best eye response": "eye opening to pain", "Best verbal response": "inappropriate words",
                            "Best motor response": "withdrawal from pain"}, "integer")
    assert result.status == "disputed" and result.recomputed == 9
    assert "recomputed 9 ≠ label 12" in result.reason and "counted twice" in result.reason


def test_due_date_adding_the_cycle_difference():
    # LMP 01/10/2020, cycle 24: 10/16/2020 - 4 d = 10/12/2020; MedCalc-Bench's bug adds 4 d: 10/20/2020.
    result = check(13, "10/20/2020", {"Last menstrual date": "01/10/2020", "cycle length": 24}, "date")
    assert result.status == "disputed" and result.recomputed == "10/12/2020"
    assert "-8 days" in result.reason and "the project subtracts 4 d" in result.reason
    assert "the label adds the 4 days (MedCalc-Bench's bug)" in result.reason


def test_ckd_epi_kappa_0_7_for_men():
    # 40 M, Scr 0.7: κ=0.9 gives 119.46; MedCalc-Bench's κ=0.7 gives 142 x 1^-0.302 x 0.9938^40 = 110.73.
    result = check(3, 110.73, {"sex": "Male", "age": [40, "years"], "creatinine": [0.7, "mg/dL"]})
    assert result.status == "disputed" and result.recomputed == pytest.approx(119.46, abs=0.01)
    assert "κ=0.9 for men; the label matches κ=0.7" in result.reason and "MedCalc-Bench's bug" in result.reason


def test_ckd_epi_disagreement_without_the_kappa_pattern_gets_no_hint():
    result = check(3, 60.0, {"sex": "Male", "age": [40, "years"], "creatinine": [0.7, "mg/dL"]})
    assert result.status == "disputed" and "κ=0.7" not in result.reason


def test_calcium_label_contradicting_the_values():
    # Ca 8.0 mg/dL, albumin 3.0 g/dL: 8.0 + 0.8 = 8.8; a label of 10.5 is 16 % off.
    result = check(7, 10.5, {"Calcium": [8.0, "mg/dL"], "Albumin": [3.0, "g/dL"]})
    assert result.status == "disputed" and result.recomputed == pytest.approx(8.8)
    assert "outside [9.975, 11.025]" in result.reason and "-16.2% from the label" in result.reason


def test_ldl_label_contradicting_the_values():
    # 5.0 - 1.0 mmol/L cholesterol (x 38.67) and TG 1.5 mmol/L (x 88.57): 193.35 - 38.67 - 26.57 = 128.11.
    result = check(44, 150.0, {"Total cholesterol": [5.0, "mmol/L"],
                               "high-density lipoprotein cholesterol": [1.0, "mmol/L"],
                               "Triglycerides": [1.5, "mmol/L"]})
    assert result.status == "disputed" and result.recomputed == pytest.approx(128.11, abs=0.01)
    assert "MedCalc-Bench uses 86.13" in result.reason     # the rule difference is named


def test_meld_na_label_contradicting_the_values():
    result = check(23, 30.0, {"creatinine": [1.5, "mg/dL"], "Bilirubin": [2.0, "mg/dL"],
                              "international normalized ratio": 1.5, "Sodium": [130.0, "mEq/L"]})
    assert result.status == "disputed" and result.recomputed == 22.0


def test_score_label_outside_its_scale_even_when_not_recomputable():
    # Eye 'not testable': the GCS has no score for it, but with V5 M4 it can only be 1..4 + 9 = 10..13.
    result = check(21, 18, {"Best eye response": "not testable", "Best verbal response": "oriented",
                            "Best motor response": "withdrawal from pain"}, "integer")
    assert result.status == "disputed" and result.recomputed is None and result.calculator == "glasgow_coma_score"
    assert "label 18 is above the GCS maximum 13 possible with E? V5 M4 ('?' not testable)" in result.reason
    assert "not recomputed: best eye response 'not testable'" in result.reason
    assert "E4 + 2×V5 + M4" in result.reason      # MedCalc-Bench scores it 4 and counts the verbal twice


def test_conception_date_follows_the_cycle_length():
    # LMP 01/10/2020, cycle 21: ovulation 14 d before the next menses, LMP + 7 d = 01/17/2020; the label's
    # LMP + 14 d (MedCalc-Bench's rule whatever the cycle) is 7 days later.
    result = check(68, "01/24/2020", {"Last menstrual date": "01/10/2020", "cycle length": 21}, "date")
    assert result.status == "disputed" and result.recomputed == "01/17/2020"
    assert "-7 days" in result.reason and "LMP + 14 d whatever the cycle length" in result.reason


def test_unit_slip_in_the_note_is_read_in_the_formula_unit():
    # Albumin "2.0 mg/dL" (0.002 g/dL, impossible) is read as 2.0 g/dL: gap 16 + 2.5 x 2 = 21. The label took
    # it literally: 16 + 2.5 x 3.998 = 25.995.
    entities = {"Sodium": [140.0, "mEq/L"], "Chloride": [104.0, "mEq/L"], "Bicarbonate": [20.0, "mEq/L"],
                "Albumin": [2.0, "mg/dL"]}
    result = check(65, 25.995, entities)
    assert result.status == "disputed" and result.recomputed == pytest.approx(21.0)
    assert "Albumin 2 'mg/dL' read as g/dL" in result.reason and "converts the 'mg/dL' value literally" in result.reason
    # A sodium really given in mg/dL (310 mg/dL = 134.84 mEq/L) is converted: delta gap 134.84 - 100 - 24 - 12.
    sodium = check(63, -1.16, {"Sodium": [310.0, "mg/dL"], "Chloride": [100.0, "mEq/L"],
                               "Bicarbonate": [24.0, "mEq/L"]})
    assert sodium.status == "agrees" and "read as" not in sodium.reason


def test_child_pugh_label_of_medcalc_bench_earlier_code():
    # Bilirubin 2.0 (2) + albumin 3.0 (2) + INR 1.5 (1) + slight ascites (2) + grade 1-2 (2) = 9; the earlier
    # code scored bilirubin exactly 2 as 0 and the lower-case ascites as 0: 5.
    result = check(15, 5, {"Bilirubin": [2.0, "mg/dL"], "Albumin": [3.0, "g/dL"], "international normalized ratio": 1.5,
                           "Ascites": "slight", "Encephalopathy": "Grade 1-2"}, "integer")
    assert result.status == "disputed" and result.recomputed == 9 and "earlier code" in result.reason


def test_rcri_with_contradicting_cerebrovascular_entities():
    # Ischemic heart disease 1 + cerebrovascular disease 1 (one of its two entities is true) = 2; the label 1
    # reads only the false one.
    result = check(17, 1, {"History of cerebrovascular disease": True, "Cerebrovascular disease history": False,
                           "History of ischemic heart disease": True, "Pre-operative creatinine": [1.0, "mg/dL"]},
                   "integer")
    assert result.status == "disputed" and result.recomputed == 2 and "contradict each other" in result.reason


def test_sirs_label_of_medcalc_bench_first_code():
    # 37 °C, HR 80, RR 16, WBC 7,000/µL: no criterion met; the first code counted the heart rate and a WBC per
    # µL (converted per m³, above 12,000): 2.
    result = check(51, 2, {"Temperature": [37.0, "degrees celsius"], "Heart Rate or Pulse": [80.0, "bpm"],
                           "respiratory rate": [16.0, "breaths per minute"],
                           "White blood cell count": [7000.0, "µL"]}, "integer")
    assert result.status == "disputed" and result.recomputed == 0
    assert "heart rate ≤ 90 counted, WBC per µL counted as > 12,000" in result.reason


def test_charlson_labels_counting_each_grade_as_one():
    entities = {"age": [65, "years"], "Congestive Heart Faliure": True, "Liver disease severity": "Mild",
                "Diabetes mellitus criteria for CCI rule": "End-organ damage", "Solid tumor": "Metastatic",
                "Moderate to severe Chronic Kidney Disease": "Severe"}
    # 14 as published (see AGREEING); MedCalc-Bench: age 2 + heart failure 1 + CKD 2 + 3 stated grades x 1 = 8.
    result = check(32, 8, entities, "integer")
    assert result.status == "disputed" and result.recomputed == 14 and "case-sensitive" in result.reason
    # A tumor stated only as present: 2 (localized) to 6 (metastatic) at age 45; the label 1 counts it as 1.
    tumor = {"age": [45, "years"], "Solid tumor": True, "Dementia": False}
    below = check(32, 1, tumor, "integer")
    assert below.status == "disputed" and below.recomputed is None
    assert "below the Charlson minimum 2 possible with a solid tumor of unstated extent" in below.reason
    assert "case-sensitive" in below.reason
    assert check(32, 6, tumor, "integer").status == "not_comparable"


# ---------------------------------------------------------------- not comparable


def test_calculator_not_implemented():
    result = check(28, 20, {"age": [60, "years"], "creatinine": [1.0, "mg/dL"]}, "integer")   # APACHE II
    assert result == LabelCheck("not_comparable", None, 20, None, result.reason)
    assert "calculator 28" in result.reason and "not implemented" in result.reason


def test_entity_missing():
    result = check(2, 60.0, {"sex": "Male", "age": [60, "years"], "weight": [70.0, "kg"], "creatinine": [1.0, "mg/dL"]})
    assert result.status == "not_comparable" and result.calculator is None
    assert "'height' missing" in result.reason


def test_unknown_unit_is_named():
    result = check(6, 22.0, {"weight": [11.0, "stone"], "height": [170.0, "cm"]})
    assert result.status == "not_comparable" and "'stone'" in result.reason


def test_unparsable_entity():
    result = check(5, 90.0, {"Systolic Blood Pressure": "high", "Diastolic Blood Pressure": [80, "mm hg"]})
    assert result.status == "not_comparable" and "expected [value, unit]" in result.reason


def test_values_the_formula_cannot_take():
    zero = check(3, 90.0, {"sex": "Male", "age": [50, "years"], "creatinine": [0.0, "mg/dL"]})
    assert zero.status == "not_comparable" and "ckd_epi_2021 is undefined" in zero.reason
    negative = check(6, 20.0, {"weight": [-70.0, "kg"], "height": [170.0, "cm"]})
    assert negative.status == "not_comparable" and "'weight' is negative" in negative.reason


def test_gcs_not_testable():
    entities = {"Best eye response": "eye opening to pain", "Best verbal response": "not testable",
                "Best motor response": "withdrawal from pain"}
    # E2 M4 with any verbal score 1..5: 7..11. A label in that range cannot be checked ...
    result = check(21, 10, entities, "integer")
    assert result.status == "not_comparable" and "not testable" in result.reason and result.calculator is None
    # ... a label outside it is impossible whatever the verbal score.
    assert check(21, 12, entities, "integer").status == "disputed"


def test_impossible_cell_counts_and_unknown_steroids():
    fib4 = check(19, 400.0, {"age": [50, "years"], "Aspartate aminotransferase": [40.0, "U/L"],
                             "Alanine aminotransferase": [25.0, "U/L"], "Platelet count": [1.0e8, "L"]})
    assert fib4.status == "not_comparable" and "0.1 ×10⁹/L is impossible" in fib4.reason
    sirs = check(51, 2, {"Temperature": [37.0, "degrees celsius"], "Heart Rate or Pulse": [80.0, "bpm"],
                         "respiratory rate": [16.0, "breaths per minute"], "White blood cell count": [4.1, "µL"]},
                 "integer")
    assert sirs.status == "not_comparable" and "'White blood cell count'" in sirs.reason
    steroid = check(24, 1.0, {"input steroid": ["Fludrocortisone PO", 0.1, "mg"], "target steroid": "PredniSONE PO"})
    assert steroid.status == "not_comparable" and "'Fludrocortisone PO' unknown" in steroid.reason


def test_score_row_with_another_calculators_findings():
    result = check(33, 2, {"Purulent tonsils": True, "Altered mental status for PECARN head injury criteria": True},
                   "integer")
    assert result.status == "not_comparable" and "not known to the feverpain recomputation" in result.reason


def test_delta_ratio_with_normal_bicarbonate_is_undefined():
    result = check(64, 1.0, {"Sodium": [140.0, "mEq/L"], "Chloride": [100.0, "mEq/L"], "Bicarbonate": [24.0, "mEq/L"]})
    assert result.status == "not_comparable" and "delta_ratio is undefined" in result.reason


NEW_CALCULATORS = {   # name -> example arguments
    "mdrd_gfr": (60, "Female", 1.0, True), "fib4": (50, 40, 25, 200.0), "maintenance_fluids": (25.0,),
    "steroid_equivalent_dose": (40.0, "PredniSONE PO", "Dexamethasone IV"),
    "sodium_corrected_for_glucose": (130.0, 450.0), "fractional_excretion_sodium": (140.0, 2.0, 20.0, 100.0),
    "qtc_framingham": (400.0, 75.0), "qtc_hodges": (400.0, 75.0), "qtc_rautaharju": (400.0, 75.0),
    "bsa_mosteller": (81.0, 180.0), "albumin_corrected_delta_ratio": (140.0, 100.0, 14.0, 2.0),
    "delta_ratio": (140.0, 100.0, 14.0), "estimated_conception_date": ("01/10/2020", 21),
    "wells_dvt": (True, False, False, False, True, False, True, False, False, True),
    "child_pugh": (2.5, 3.0, 1.5, "slight", "grade 1-2"),
    "revised_cardiac_risk_index": (True, True, False, False, False, 2.5),
    "feverpain": (True, True, False, True, False), "sirs_count": (38.5, 95, 18, 30.0, 9.0, None),
    "charlson_comorbidity_index": (65, False, True, False, False, False, False, False, False, "mild",
                                   "end-organ damage", False, True, "metastatic", False, False, False),
    "to_giga_per_l": (200000.0, "µL"),
}


@pytest.mark.parametrize("name", NEW_CALCULATORS)
def test_calculator_source_runs_without_the_project(name):
    """The offline pack copies a calculator's source (and that of the module functions it calls) into a
    sandbox with only math and datetime: the copy must compute what the module does."""
    import inspect
    import math
    from datetime import date, timedelta

    from copilot.tasks.packs import medcalc_calculators as C

    needed, queue = [], [name]
    while queue:
        fn = getattr(C, queue.pop())
        if fn not in needed:
            needed.append(fn)
            queue += [ref for ref in fn.__code__.co_names if inspect.isfunction(getattr(C, ref, None))]
    namespace = {"math": math, "date": date, "timedelta": timedelta}
    for fn in reversed(needed):
        exec(inspect.getsource(fn), namespace)   # the module's own source, as the pack copies it
    args = NEW_CALCULATORS[name]
    assert namespace[name](*args) == getattr(C, name)(*args)


def test_gestational_age_with_current_date_before_lmp():
    result = check(69, [2, 0], {"Last menstrual date": "03/15/2021", "Current Date": "03/01/2021"}, "weeks_days")
    assert result.status == "not_comparable" and "before the LMP" in result.reason


def test_non_medcalc_task():
    task = Task(id="x", dataset="mimic_iii", split="test", family="ehr_sql", question="q", answer="1",
                checker="ehr_sql")
    assert recompute_label(task).status == "not_comparable"


def test_rows_loaded_from_a_release_directory(tmp_path: Path):
    """Relevant Entities as the release stores them (a Python-literal string), through copilot.tasks.load."""
    rows = [{"Row Number": 7, "Calculator ID": 5, "Calculator Name": "Mean Arterial Pressure (MAP)",
             "Patient Note": "BP 150/90 mm Hg.", "Question": "What is the MAP?",
             "Relevant Entities": "{'Systolic Blood Pressure': [150.0, 'mm hg'], "
                                  "'Diastolic Blood Pressure': [90.0, 'mm hg']}",
             "Ground Truth Answer": "110.0", "Lower Limit": "104.5", "Upper Limit": "115.5"},
            {"Row Number": 8, "Calculator ID": 21, "Calculator Name": "Glasgow Coma Score (GCS)",
             "Patient Note": "Opens eyes to pain, incomprehensible sounds, withdraws.", "Question": "GCS?",
             "Relevant Entities": "{'Best eye response': 'eye opening to pain', "
                                  "'Best verbal response': 'incomprehensible sounds', "
                                  "'Best motor response': 'withdrawal from pain'}",
             "Ground Truth Answer": "10", "Lower Limit": "10", "Upper Limit": "10"}]
    directory = tmp_path / "medcalcbench"
    directory.mkdir()
    (directory / "test_tasks.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    map_task, gcs_task = tasks.load(directory, "test", require_resources=False)
    assert recompute_label(map_task).status == "agrees"                    # (2 x 90 + 150) / 3 = 110
    gcs = recompute_label(gcs_task)                                       # 2 + 2 + 4 = 8, not 10
    assert (gcs.status, gcs.label, gcs.recomputed) == ("disputed", 10, 8)


# ---------------------------------------------------------------- the MedCalc-Bench-Verified reader

VERIFIED_COLUMNS = ["Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID",
                    "Note Type", "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer",
                    "Lower Limit", "Upper Limit", "Ground Truth Explanation"]


def verified_row(row_number, calculator_id, note, answer, lower, upper, output_type="decimal") -> list[str]:
    values = {"Row Number": str(row_number), "Calculator ID": str(calculator_id), "Calculator Name": "calc",
              "Category": "lab", "Output Type": output_type, "Note ID": "n1", "Note Type": "Extracted",
              "Patient Note": note, "Question": "q", "Relevant Entities": "{}", "Ground Truth Answer": answer,
              "Lower Limit": lower, "Upper Limit": upper, "Ground Truth Explanation": "step 1,\nstep 2"}
    return [values[column] for column in VERIFIED_COLUMNS]


def write_csv(path: Path, rows: list[list[str]], header=VERIFIED_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_verified_lookup_matches_by_calculator_and_normalised_note(tmp_path: Path):
    path = write_csv(tmp_path / "test_data.csv", [
        verified_row(1, 3, "A 40-year-old man.\nCreatinine  0.7 mg/dL.", "119.46", "113.487", "125.433"),
        verified_row(2, 21, "Eyes open to pain;\n\nconfused; localizes.", "11", "11", "11", "integer"),
        verified_row(3, 13, "LMP 01/10/2020, cycle 24 days.", "10/12/2020", "10/12/2020", "10/12/2020", "date"),
        verified_row(4, 69, "LMP 01/01/2021, today 03/15/2021.", "('10 weeks', '3 days')",
                     "('10 weeks', '3 days')", "('10 weeks', '3 days')", "integer")])
    verified = read_verified(path)
    assert len(verified) == 4
    # The MedAgentGym row: another row number, other whitespace in the note.
    ckd = medcalc_task(3, 110.73, {}, note="  A 40-year-old man. Creatinine 0.7 mg/dL.\n")
    assert verified.lookup(ckd) == {"answer": 119.46, "lower": 113.487, "upper": 125.433, "row_number": 1,
                                    "source": f"{path}:2"}
    assert verified.lookup(medcalc_task(21, 12, {}, "integer", note="Eyes open to pain; confused; localizes."))[
        "answer"] == 11
    due = verified.lookup(medcalc_task(13, "10/20/2020", {}, "date", note="LMP 01/10/2020, cycle 24 days."))
    assert (due["answer"], due["lower"], due["upper"]) == ("10/12/2020", None, None)
    ga = verified.lookup(medcalc_task(69, [10, 3], {}, "weeks_days", note="LMP 01/01/2021, today 03/15/2021."))
    # Rows start on lines 2, 5, 9 and 11: notes and explanations ("step 1,\nstep 2") span several lines.
    assert ga["answer"] == [10, 3] and ga["source"] == f"{path}:11"
    # Same note, other calculator; other note: not found.
    assert verified.lookup(medcalc_task(2, 50.0, {}, note="A 40-year-old man. Creatinine 0.7 mg/dL.")) is None
    assert verified.lookup(medcalc_task(3, 110.73, {}, note="Another patient.")) is None


def test_verified_conflicting_duplicates_are_listed(tmp_path: Path):
    path = write_csv(tmp_path / "dup.csv", [verified_row(1, 5, "BP 120/80.", "93.333", "88.666", "99.999"),
                                            verified_row(2, 5, "BP 120/80.", "95.0", "90.25", "99.75")])
    found = read_verified(path).lookup(medcalc_task(5, 93.333, {}, note="BP 120/80."))
    assert found["row_number"] == 1 and found["conflicting_rows"] == [f"{path}:4"]   # row 1: lines 2-3


def test_normalize_note():
    assert normalize_note(" a\n\tb  c \r\n") == "a b c"


def test_verified_bad_value_names_file_line_and_column(tmp_path: Path):
    path = write_csv(tmp_path / "bad.csv", [verified_row(1, 5, "ok", "93.3", "88.6", "97.9"),
                                            verified_row(2, 5, "multi\nline note", "ninety", "1", "2")])
    with pytest.raises(TaskFormatError, match=r"bad\.csv:4: field 'Ground Truth Answer'"):   # row 1: lines 2-3
        read_verified(path)


def test_verified_wrong_field_count(tmp_path: Path):
    path = write_csv(tmp_path / "short.csv", [verified_row(1, 5, "ok", "93.3", "88.6", "97.9")[:5]])
    with pytest.raises(TaskFormatError, match=r"short\.csv:2: 5 fields; expected 14"):
        read_verified(path)


def test_verified_missing_columns(tmp_path: Path):
    path = write_csv(tmp_path / "cols.csv", [], header=["Row Number", "Calculator ID", "Patient Note"])
    with pytest.raises(TaskFormatError, match=r"cols\.csv:1: missing column\(s\) \['Ground Truth Answer'"):
        read_verified(path)


def test_verified_broken_quoting_and_encoding(tmp_path: Path):
    broken = tmp_path / "quote.csv"
    broken.write_text(",".join(VERIFIED_COLUMNS) + '\n1,5,"calc"x,lab\n', encoding="utf-8")
    with pytest.raises(TaskFormatError, match=r"quote\.csv:2: invalid CSV"):
        read_verified(broken)
    latin = tmp_path / "latin.csv"
    latin.write_bytes((",".join(VERIFIED_COLUMNS) + "\n").encode() + "1,5,caf\xe9".encode("latin-1"))
    with pytest.raises(TaskFormatError, match=r"latin\.csv: not UTF-8"):
        read_verified(latin)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(TaskFormatError, match=r"empty\.csv: empty file"):
        read_verified(empty)
