"""Reference implementations of the MedCalc-Bench calculators used by the offline `medcalc` pack.

Each calculator is a small pure function over values in the formula's own units (kg, cm, mg/dL, ...);
unit conversions are separate small functions. Every calculator and conversion function uses only `math`,
`datetime` and other functions of this module (found through their code's names), because the pack copies
their source text (`inspect.getsource`) into each task's `reference_solution`, which must run in a sandbox
without the project installed. At the end, `Var` / `Call` express one calculation both as a value (the
ground truth) and as the code line that computes it (the reference solution); they are not copied.

What follows MedCalc-Bench (ncbi-nlp/MedCalc-Bench, calculator_implementations/) and what does not:
- Cockcroft-Gault picks the weight as MedCalc-Bench does: BMI < 18.5 → actual weight; 18.5 ≤ BMI ≤ 24.9 →
  min(ideal, actual); otherwise (BMI > 24.9) adjusted weight = IBW + 0.4 × (actual − IBW); IBW by Devine.
- CKD-EPI 2021 (race-free) as published (Inker et al., NEJM 2021): κ = 0.9 for men. MedCalc-Bench's code
  uses 0.7 for men with Scr ≤ 0.9 (a bug); we do not copy it.
- MELD Na follows the UNOS/OPTN 2016 definition (bounds, ×10 after rounding MELD(i) to the tenth, the Na
  term only when MELD(i) > 11, cap 40), not MedCalc-Bench's integer rounding of MELD(i). The score is a
  whole number; the pack types it "decimal" (±5 % limits) as MedCalc-Bench's evaluation does.
- Estimated due date: Naegele's rule with cycle adjustment, LMP + 280 d + (cycle − 28) d. MedCalc-Bench's
  code adds |cycle − 28| for short cycles (a bug); we subtract.
- Free water deficit uses MedCalc-Bench's total-body-water fractions (child 0.6; adult M 0.6 / F 0.5;
  ≥ 65 y M 0.5 / F 0.45).
- Estimated conception date = LMP + (cycle − 14) days (ovulation 14 days before the next menses; the due
  date is conception + 266 d). MedCalc-Bench's code adds 14 days whatever the cycle length.
- Scores follow their publications where MedCalc-Bench's code slips: Child-Pugh bands (bilirubin 2-3 mg/dL
  → 2, albumin 2.8-3.5 g/dL → 2, ascites graded), Charlson graded items (liver 1/3, diabetes 1/2, solid tumor
  2/6), SIRS (heart rate counted only when > 90).
- MedCalc-Bench rounds intermediate values to 5 decimals (QTc Framingham / Hodges RR, unit conversions);
  the functions here do not (far inside its ±5 % limits).
Not protected against: inputs outside physiological ranges (the functions compute whatever the formula
gives); callers (the note generator) keep values away from thresholds where unit rounding could flip a
criterion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable

# ---------------------------------------------------------------- unit conversions (to the formula's units)


def to_kg(value, unit):
    """Weight in kg from 'kg', 'lbs' (1 lb = 0.45359237 kg, exact by definition) or 'g'."""
    factors = {"kg": 1.0, "lbs": 0.45359237, "g": 0.001}
    if unit not in factors:
        raise ValueError(f"weight unit {unit!r} unknown; expected one of {sorted(factors)}")
    return value * factors[unit]


def to_cm(value, unit):
    """Height in cm from 'cm', 'm' or 'in' (1 in = 2.54 cm, exact)."""
    factors = {"cm": 1.0, "m": 100.0, "in": 2.54}
    if unit not in factors:
        raise ValueError(f"height unit {unit!r} unknown; expected one of {sorted(factors)}")
    return value * factors[unit]


def to_mg_dl(value, unit, analyte):
    """Concentration in mg/dL from SI units, with the usual clinical factors (mg/dL per SI unit):
    creatinine 1/88.4 per µmol/L; bilirubin 1/17.1 per µmol/L; calcium 4.008 per mmol/L; glucose 18.016 per
    mmol/L (MW 180.16); total/HDL/LDL cholesterol 38.67 per mmol/L; triglycerides 88.57 per mmol/L;
    urea nitrogen (BUN) 2.801 per mmol/L of urea."""
    per_si = {"creatinine": 1 / 88.4, "bilirubin": 1 / 17.1, "calcium": 4.008, "glucose": 18.016,
              "cholesterol": 38.67, "triglycerides": 88.57, "bun": 2.801}
    if unit == "mg/dL":
        return value
    if analyte not in per_si:
        raise ValueError(f"analyte {analyte!r} unknown; expected one of {sorted(per_si)}")
    if unit not in ("µmol/L", "mmol/L"):
        raise ValueError(f"unit {unit!r} for {analyte} unknown; expected mg/dL, µmol/L or mmol/L")
    return value * per_si[analyte]


def to_g_dl(value, unit):
    """Albumin in g/dL from 'g/dL' or 'g/L'."""
    if unit == "g/dL":
        return value
    if unit == "g/L":
        return value / 10.0
    raise ValueError(f"albumin unit {unit!r} unknown; expected g/dL or g/L")


def to_celsius(value, unit):
    """Temperature in °C from '°C' or '°F'."""
    if unit == "°C":
        return value
    if unit == "°F":
        return (value - 32.0) * 5.0 / 9.0
    raise ValueError(f"temperature unit {unit!r} unknown; expected °C or °F")



def to_giga_per_l(value, unit):
    """Cell count in 10^9/L from a count per 'µL' or 'mm^3' (the same volume) or per 'L'."""
    per_litre = {"µL": 1e6, "mm^3": 1e6, "L": 1.0}
    if unit not in per_litre:
        raise ValueError(f"count unit {unit!r} unknown; expected a count per one of {sorted(per_litre)}")
    return value * per_litre[unit] / 1e9

# ---------------------------------------------------------------- body size


def bmi(weight_kg, height_cm):
    """Body mass index = weight (kg) / height (m)^2 (Quetelet; WHO/CDC definition)."""
    height_m = height_cm / 100.0
    return weight_kg / (height_m * height_m)


def ideal_body_weight(height_cm, sex):
    """Devine (1974): IBW = 50 kg (men) or 45.5 kg (women) + 2.3 kg per inch of height over 60 in."""
    base = 50.0 if sex == "Male" else 45.5
    return base + 2.3 * (height_cm / 2.54 - 60.0)


def adjusted_body_weight(weight_kg, height_cm, sex):
    """Adjusted body weight = IBW + 0.4 × (actual − IBW) (the usual dosing-weight correction)."""
    ibw = ideal_body_weight(height_cm, sex)
    return ibw + 0.4 * (weight_kg - ibw)


def target_weight(target_bmi, height_cm):
    """Target weight (kg) = target BMI × height (m)^2 (BMI definition solved for weight)."""
    height_m = height_cm / 100.0
    return target_bmi * height_m * height_m



def bsa_mosteller(weight_kg, height_cm):
    """Body surface area, Mosteller (NEJM 1987;317:1098): BSA = √(height (cm) × weight (kg) / 3600), m²."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def maintenance_fluids(weight_kg):
    """Holliday-Segar (Pediatrics 1957) '4-2-1' rule, mL/hr: 4 mL/kg/hr for the first 10 kg, 2 mL/kg/hr for
    the next 10 kg, 1 mL/kg/hr for each kg above 20."""
    if weight_kg <= 10:
        return 4.0 * weight_kg
    if weight_kg <= 20:
        return 40.0 + 2.0 * (weight_kg - 10.0)
    return 60.0 + (weight_kg - 20.0)

# ---------------------------------------------------------------- renal


def creatinine_clearance(age, sex, weight_kg, height_cm, creatinine_mg_dl):
    """Cockcroft-Gault (1976): CrCl = (140 − age) × W × (0.85 if female) / (72 × Scr), mL/min.
    W as MedCalc-Bench: BMI < 18.5 → actual; 18.5–24.9 → min(IBW, actual); > 24.9 → adjusted body weight."""
    body_mass_index = bmi(weight_kg, height_cm)
    if body_mass_index < 18.5:
        weight_used = weight_kg
    elif body_mass_index <= 24.9:
        weight_used = min(ideal_body_weight(height_cm, sex), weight_kg)
    else:
        weight_used = adjusted_body_weight(weight_kg, height_cm, sex)
    sex_factor = 1.0 if sex == "Male" else 0.85
    return (140 - age) * weight_used * sex_factor / (72.0 * creatinine_mg_dl)


def ckd_epi_2021(age, sex, creatinine_mg_dl):
    """CKD-EPI 2021 creatinine equation, race-free (Inker et al., NEJM 2021;385:1737):
    eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 [female],
    κ = 0.7 (F) / 0.9 (M), α = −0.241 (F) / −0.302 (M); mL/min/1.73 m²."""
    female = sex == "Female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = creatinine_mg_dl / kappa
    egfr = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.2 * 0.9938 ** age
    return egfr * 1.012 if female else egfr



def mdrd_gfr(age, sex, creatinine_mg_dl, black=False):
    """MDRD study equation, IDMS-traceable (Levey et al., Ann Intern Med 2006;145:247):
    GFR = 175 × Scr^−1.154 × age^−0.203 × 0.742 [female] × 1.212 [Black], mL/min/1.73 m²."""
    gfr = 175.0 * creatinine_mg_dl ** -1.154 * age ** -0.203
    if sex == "Female":
        gfr *= 0.742
    return gfr * 1.212 if black else gfr


def fractional_excretion_sodium(sodium, creatinine_mg_dl, urine_sodium, urine_creatinine_mg_dl):
    """FENa (Espinel, JAMA 1976;236:579) = (urine Na × serum Cr) / (serum Na × urine Cr) × 100, %;
    sodium in mEq/L, creatinine in mg/dL (any one unit per analyte would do: the units cancel)."""
    return urine_sodium * creatinine_mg_dl / (sodium * urine_creatinine_mg_dl) * 100.0

# ---------------------------------------------------------------- haemodynamics, ECG


def mean_arterial_pressure(sbp, dbp):
    """MAP = (2 × DBP + SBP) / 3 = 2/3 DBP + 1/3 SBP, mm Hg."""
    return (2.0 * dbp + sbp) / 3.0


def qtc_bazett(qt_msec, heart_rate):
    """Bazett (1920): QTc = QT / √RR, RR = 60 / HR in seconds; QT and QTc in msec."""
    rr = 60.0 / heart_rate
    return qt_msec / math.sqrt(rr)


def qtc_fridericia(qt_msec, heart_rate):
    """Fridericia (1920): QTc = QT / RR^(1/3), RR = 60 / HR in seconds; msec."""
    rr = 60.0 / heart_rate
    return qt_msec / rr ** (1.0 / 3.0)



def qtc_framingham(qt_msec, heart_rate):
    """Framingham (Sagie et al., Am J Cardiol 1992;70:797): QTc = QT + 154 × (1 − RR), RR = 60 / HR in
    seconds; msec."""
    rr = 60.0 / heart_rate
    return qt_msec + 154.0 * (1.0 - rr)


def qtc_hodges(qt_msec, heart_rate):
    """Hodges (J Am Coll Cardiol 1983;1:694): QTc = QT + 1.75 × (HR − 60); msec. (MedCalc-Bench recomputes HR
    from RR = 60 / HR rounded to 5 decimals: a difference far below its ±5 % limits.)"""
    return qt_msec + 1.75 * (heart_rate - 60.0)


def qtc_rautaharju(qt_msec, heart_rate):
    """Rautaharju (J Electrocardiol 2014;47:914): QTc = QT × (120 + HR) / 180; msec."""
    return qt_msec * (120.0 + heart_rate) / 180.0

# ---------------------------------------------------------------- chemistry


def anion_gap(sodium, chloride, bicarbonate):
    """Anion gap = Na − (Cl + HCO3), mEq/L."""
    return sodium - (chloride + bicarbonate)


def corrected_calcium(calcium_mg_dl, albumin_g_dl, normal_albumin=4.0):
    """Payne (1973): corrected Ca = Ca + 0.8 × (normal albumin − albumin), mg/dL; normal albumin 4 g/dL."""
    return calcium_mg_dl + 0.8 * (normal_albumin - albumin_g_dl)


def serum_osmolality(sodium, bun_mg_dl, glucose_mg_dl):
    """Calculated serum osmolality = 2 × Na + BUN / 2.8 + glucose / 18, mOsm/kg."""
    return 2.0 * sodium + bun_mg_dl / 2.8 + glucose_mg_dl / 18.0


def free_water_deficit(age, sex, weight_kg, sodium):
    """Free water deficit (L) = TBW fraction × weight × (Na / 140 − 1); TBW fraction: age < 18 → 0.6;
    18–64 y: male 0.6, female 0.5; ≥ 65 y: male 0.5, female 0.45 (MedCalc-Bench / MDCalc)."""
    if age < 18:
        fraction = 0.6
    elif age < 65:
        fraction = 0.6 if sex == "Male" else 0.5
    else:
        fraction = 0.5 if sex == "Male" else 0.45
    return fraction * weight_kg * (sodium / 140.0 - 1.0)


def ldl_friedewald(total_chol_mg_dl, hdl_mg_dl, triglycerides_mg_dl):
    """Friedewald (1972): LDL = total cholesterol − HDL − triglycerides / 5, all mg/dL."""
    return total_chol_mg_dl - hdl_mg_dl - triglycerides_mg_dl / 5.0


def homa_ir(insulin_uiu_ml, glucose_mg_dl):
    """HOMA-IR (Matthews 1985) = fasting insulin (µIU/mL) × fasting glucose (mg/dL) / 405."""
    return insulin_uiu_ml * glucose_mg_dl / 405.0


def meld_na(creatinine_mg_dl, bilirubin_mg_dl, inr, sodium, dialysis_twice_past_week=False):
    """MELD Na, UNOS/OPTN (2016). Bounds: Cr, bilirubin, INR < 1 → 1; Cr > 4 or dialysis ≥ 2× in the past
    week → 4; Na clamped to 125–137. MELD(i) = 0.957 ln Cr + 0.378 ln bili + 1.120 ln INR + 0.643, rounded
    to the tenth and × 10; if MELD(i) > 11: MELD = MELD(i) + 1.32 × (137 − Na) − 0.033 × MELD(i) × (137 − Na).
    Result rounded to an integer, capped at 40."""
    creatinine = 4.0 if dialysis_twice_past_week else min(max(creatinine_mg_dl, 1.0), 4.0)
    bilirubin = max(bilirubin_mg_dl, 1.0)
    inr_used = max(inr, 1.0)
    na = min(max(sodium, 125.0), 137.0)
    meld_i = 0.957 * math.log(creatinine) + 0.378 * math.log(bilirubin) + 1.120 * math.log(inr_used) + 0.643
    meld_i = int(round(round(meld_i, 1) * 10.0))  # an integer: avoids 1.1 * 10 = 11.000000000000002 > 11
    score = meld_i
    if meld_i > 11:
        score = meld_i + 1.32 * (137.0 - na) - 0.033 * meld_i * (137.0 - na)
    return min(int(round(score)), 40)



def delta_gap(sodium, chloride, bicarbonate):
    """Delta gap = anion gap − 12 (the normal anion gap), mEq/L."""
    return anion_gap(sodium, chloride, bicarbonate) - 12.0


def delta_ratio(sodium, chloride, bicarbonate):
    """Delta ratio (Wrenn, Ann Emerg Med 1990;19:1310) = (anion gap − 12) / (24 − HCO3)."""
    return delta_gap(sodium, chloride, bicarbonate) / (24.0 - bicarbonate)


def albumin_corrected_anion_gap(sodium, chloride, bicarbonate, albumin_g_dl):
    """Albumin-corrected anion gap (Figge et al., Crit Care Med 1998;26:1807) = anion gap + 2.5 × (4 −
    albumin (g/dL)), mEq/L."""
    return anion_gap(sodium, chloride, bicarbonate) + 2.5 * (4.0 - albumin_g_dl)


def albumin_corrected_delta_gap(sodium, chloride, bicarbonate, albumin_g_dl):
    """Albumin-corrected delta gap = albumin-corrected anion gap − 12, mEq/L."""
    return albumin_corrected_anion_gap(sodium, chloride, bicarbonate, albumin_g_dl) - 12.0


def albumin_corrected_delta_ratio(sodium, chloride, bicarbonate, albumin_g_dl):
    """Albumin-corrected delta ratio = albumin-corrected delta gap / (24 − HCO3)."""
    return albumin_corrected_delta_gap(sodium, chloride, bicarbonate, albumin_g_dl) / (24.0 - bicarbonate)


def sodium_corrected_for_glucose(sodium, glucose_mg_dl):
    """Sodium corrected for hyperglycemia (Hillier et al., Am J Med 1999;106:399) = Na + 0.024 × (glucose −
    100), glucose in mg/dL; mEq/L."""
    return sodium + 0.024 * (glucose_mg_dl - 100.0)


def fib4(age, ast, alt, platelets_giga_per_l):
    """FIB-4 (Sterling et al., Hepatology 2006;43:1317) = age × AST / (platelets (10^9/L) × √ALT); AST and
    ALT in U/L."""
    return age * ast / (platelets_giga_per_l * math.sqrt(alt))


def steroid_equivalent_dose(dose_mg, from_steroid, to_steroid):
    """Equipotent glucocorticoid dose (mg) = dose × equivalent(to) / equivalent(from), with the equivalent
    anti-inflammatory doses of the BNF table (after Meikle & Tyler, Am J Med 1977;63:200): betamethasone 0.75,
    cortisone 25, dexamethasone 0.75, hydrocortisone 20, methylprednisolone 4, prednisolone 5, prednisone 5,
    triamcinolone 4 mg. Names as 'PredniSONE PO': the first word, any case; the route does not change it."""
    equivalent_mg = {"betamethasone": 0.75, "cortisone": 25.0, "dexamethasone": 0.75, "hydrocortisone": 20.0,
                     "methylprednisolone": 4.0, "prednisolone": 5.0, "prednisone": 5.0, "triamcinolone": 4.0}
    drugs = [(str(name).split() or [""])[0].lower() for name in (from_steroid, to_steroid)]
    for name, drug in zip((from_steroid, to_steroid), drugs):
        if drug not in equivalent_mg:
            raise ValueError(f"steroid {name!r} unknown; expected one of {sorted(equivalent_mg)}")
    return dose_mg * equivalent_mg[drugs[1]] / equivalent_mg[drugs[0]]

# ---------------------------------------------------------------- scores


def cha2ds2_vasc(age, sex, chf, hypertension, stroke_tia_thromboembolism, vascular_disease, diabetes):
    """CHA2DS2-VASc (Lip 2010): CHF 1, hypertension 1, age ≥ 75 → 2 / 65–74 → 1, diabetes 1,
    stroke/TIA/thromboembolism 2, vascular disease (MI, PAD, aortic plaque) 1, female sex 1. Range 0–9."""
    score = (2 if age >= 75 else 1 if age >= 65 else 0) + (1 if sex == "Female" else 0)
    score += int(bool(chf)) + int(bool(hypertension)) + int(bool(diabetes)) + int(bool(vascular_disease))
    score += 2 * int(bool(stroke_tia_thromboembolism))
    return score


def has_bled(uncontrolled_hypertension, renal_disease, liver_disease, stroke_history, prior_major_bleeding,
             labile_inr, age, bleeding_medication, alcohol_drinks_per_week):
    """HAS-BLED (Pisters 2010): 1 point each for uncontrolled hypertension (SBP > 160), abnormal renal
    function, abnormal liver function, stroke, bleeding history/predisposition, labile INR, age > 65,
    antiplatelet/NSAID use, alcohol ≥ 8 drinks/week. Range 0–9."""
    flags = [uncontrolled_hypertension, renal_disease, liver_disease, stroke_history, prior_major_bleeding,
             labile_inr, age > 65, bleeding_medication, alcohol_drinks_per_week >= 8]
    return sum(int(bool(flag)) for flag in flags)


def curb_65(confusion, bun_mg_dl, respiratory_rate, sbp, dbp, age):
    """CURB-65 (Lim 2003): confusion; BUN > 19 mg/dL (urea > 7 mmol/L); RR ≥ 30; SBP < 90 or DBP ≤ 60;
    age ≥ 65. 1 point each, range 0–5."""
    return (int(bool(confusion)) + int(bun_mg_dl > 19) + int(respiratory_rate >= 30)
            + int(sbp < 90 or dbp <= 60) + int(age >= 65))


def wells_pe(clinical_signs_dvt, pe_most_likely, heart_rate, immobilization_or_surgery, previous_pe_dvt,
             hemoptysis, malignancy):
    """Wells' criteria for PE (Wells 2000): signs of DVT 3; PE the most likely diagnosis 3; HR > 100 1.5;
    immobilisation ≥ 3 days or surgery in the previous 4 weeks 1.5; previous PE/DVT 1.5; hemoptysis 1;
    malignancy (treated within 6 months or palliative) 1. Range 0–12.5."""
    score = 3.0 * bool(clinical_signs_dvt) + 3.0 * bool(pe_most_likely) + 1.5 * (heart_rate > 100)
    score += 1.5 * bool(immobilization_or_surgery) + 1.5 * bool(previous_pe_dvt)
    score += 1.0 * bool(hemoptysis) + 1.0 * bool(malignancy)
    return score


def glasgow_coma_score(eye, verbal, motor):
    """GCS (Teasdale & Jennett 1974) = eye (1–4) + verbal (1–5) + motor (1–6); range 3–15."""
    if not (1 <= eye <= 4 and 1 <= verbal <= 5 and 1 <= motor <= 6):
        raise ValueError(f"GCS components out of range: eye={eye} (1-4), verbal={verbal} (1-5), motor={motor} (1-6)")
    return eye + verbal + motor


def centor_mcisaac(age, temperature_c, exudate_or_swelling_tonsils, tender_anterior_nodes, cough_absent):
    """Modified Centor / McIsaac (1998): age 3–14 +1, 15–44 0, ≥ 45 −1; temperature > 38 °C +1; tonsillar
    exudate or swelling +1; tender/swollen anterior cervical nodes +1; absence of cough +1. Range −1 to 5."""
    score = 1 if 3 <= age <= 14 else (-1 if age >= 45 else 0)
    score += int(temperature_c > 38.0) + int(bool(exudate_or_swelling_tonsils))
    score += int(bool(tender_anterior_nodes)) + int(bool(cough_absent))
    return score


def perc_count(age, heart_rate, oxygen_saturation, unilateral_leg_swelling, hemoptysis, recent_surgery_or_trauma,
               prior_pe_or_dvt, hormone_use):
    """PERC rule (Kline 2004): number of criteria met among age ≥ 50, HR ≥ 100, SaO2 < 95 %, unilateral leg
    swelling, hemoptysis, surgery/trauma within 4 weeks, prior PE or DVT, hormone use. Range 0–8."""
    flags = [age >= 50, heart_rate >= 100, oxygen_saturation < 95, unilateral_leg_swelling, hemoptysis,
             recent_surgery_or_trauma, prior_pe_or_dvt, hormone_use]
    return sum(int(bool(flag)) for flag in flags)



def wells_dvt(active_cancer, bedridden_or_major_surgery, calf_swelling_3cm, collateral_superficial_veins,
              entire_leg_swollen, localized_deep_vein_tenderness, pitting_edema_symptomatic_leg,
              paralysis_paresis_or_cast, previous_dvt, alternative_diagnosis_as_likely):
    """Wells' criteria for DVT (Wells et al., NEJM 2003;349:1227): 1 point each for active cancer, bedridden
    > 3 days or major surgery within 12 weeks, calf swelling > 3 cm, collateral superficial veins, entire leg
    swollen, tenderness along the deep veins, pitting edema of the symptomatic leg, paralysis / paresis /
    recent cast, previously documented DVT; −2 if an alternative diagnosis is as likely. Range −2 to 9."""
    flags = [active_cancer, bedridden_or_major_surgery, calf_swelling_3cm, collateral_superficial_veins,
             entire_leg_swollen, localized_deep_vein_tenderness, pitting_edema_symptomatic_leg,
             paralysis_paresis_or_cast, previous_dvt]
    return sum(int(bool(flag)) for flag in flags) - 2 * int(bool(alternative_diagnosis_as_likely))


def child_pugh(bilirubin_mg_dl, albumin_g_dl, inr, ascites, encephalopathy):
    """Child-Pugh (Pugh et al., Br J Surg 1973;60:646), 1-3 points each: bilirubin < 2 / 2-3 / > 3 mg/dL;
    albumin > 3.5 / 2.8-3.5 / < 2.8 g/dL; INR < 1.7 / 1.7-2.3 / > 2.3 (the usual stand-in for Pugh's
    prothrombin-time bands); ascites 'absent' / 'slight' / 'moderate'; encephalopathy 'none' / 'grade 1-2' /
    'grade 3-4'. Range 5-15."""
    grades = {"ascites": ["absent", "slight", "moderate"], "encephalopathy": ["none", "grade 1-2", "grade 3-4"]}
    for name, value in (("ascites", ascites), ("encephalopathy", encephalopathy)):
        if value not in grades[name]:
            raise ValueError(f"{name} {value!r} unknown; expected one of {grades[name]}")
    score = 1 + grades["ascites"].index(ascites) + 1 + grades["encephalopathy"].index(encephalopathy)
    score += 1 if bilirubin_mg_dl < 2 else 2 if bilirubin_mg_dl <= 3 else 3
    score += 1 if albumin_g_dl > 3.5 else 2 if albumin_g_dl >= 2.8 else 3
    score += 1 if inr < 1.7 else 2 if inr <= 2.3 else 3
    return score


def revised_cardiac_risk_index(elevated_risk_surgery, ischemic_heart_disease, heart_failure,
                               cerebrovascular_disease, insulin_treatment, creatinine_mg_dl):
    """Revised Cardiac Risk Index (Lee et al., Circulation 1999;100:1043): 1 point each for high-risk surgery
    (intraperitoneal, intrathoracic, suprainguinal vascular), ischemic heart disease, heart failure,
    cerebrovascular disease, pre-operative insulin, pre-operative creatinine > 2 mg/dL. Range 0-6."""
    flags = [elevated_risk_surgery, ischemic_heart_disease, heart_failure, cerebrovascular_disease,
             insulin_treatment, creatinine_mg_dl > 2.0]
    return sum(int(bool(flag)) for flag in flags)


def feverpain(fever_past_24h, purulence, attend_rapidly, severely_inflamed_tonsils, no_cough_or_coryza):
    """FeverPAIN (Little et al., BMJ 2013;347:f5806): 1 point each for fever in the past 24 h, purulence,
    attending within 3 days of onset, severely inflamed tonsils, no cough or coryza. Range 0-5."""
    flags = [fever_past_24h, purulence, attend_rapidly, severely_inflamed_tonsils, no_cough_or_coryza]
    return sum(int(bool(flag)) for flag in flags)


def sirs_count(temperature_c, heart_rate, respiratory_rate, paco2_mm_hg, wbc_giga_per_l, bands_percent):
    """SIRS criteria met (Bone et al., Chest 1992;101:1644): temperature > 38 or < 36 °C; HR > 90;
    RR > 20 or PaCO2 < 32 mm Hg; WBC > 12 or < 4 ×10^9/L or bands > 10 %. None = not measured. Range 0-4."""
    flags = [temperature_c > 38.0 or temperature_c < 36.0, heart_rate > 90,
             respiratory_rate > 20 or (paco2_mm_hg is not None and paco2_mm_hg < 32),
             wbc_giga_per_l > 12.0 or wbc_giga_per_l < 4.0 or (bands_percent is not None and bands_percent > 10)]
    return sum(int(bool(flag)) for flag in flags)


def charlson_comorbidity_index(age, myocardial_infarction, heart_failure, peripheral_vascular_disease,
                               cerebrovascular_disease_or_tia, dementia, chronic_pulmonary_disease,
                               connective_tissue_disease, peptic_ulcer_disease, liver_disease, diabetes,
                               hemiplegia, moderate_severe_ckd, solid_tumor, leukemia, lymphoma, aids):
    """Charlson Comorbidity Index (Charlson et al., J Chronic Dis 1987;40:373) with the age points of the
    combined age-comorbidity score (Charlson 1994): age 50-59 1, 60-69 2, 70-79 3, ≥ 80 4; 1 point each for
    MI, heart failure, peripheral vascular disease, CVA or TIA, dementia, chronic pulmonary disease,
    connective tissue disease, peptic ulcer; liver disease 'mild' 1 / 'moderate to severe' 3; diabetes
    'uncomplicated' 1 / 'end-organ damage' 2; 2 each for hemiplegia, moderate-severe CKD, leukemia, lymphoma;
    solid tumor 'localized' 2 / 'metastatic' 6; AIDS 6. Graded items take 'none' for absent."""
    graded = {"liver_disease": (liver_disease, {"none": 0, "mild": 1, "moderate to severe": 3}),
              "diabetes": (diabetes, {"none": 0, "uncomplicated": 1, "end-organ damage": 2}),
              "solid_tumor": (solid_tumor, {"none": 0, "localized": 2, "metastatic": 6})}
    score = 0 if age < 50 else 1 if age < 60 else 2 if age < 70 else 3 if age < 80 else 4
    for name, (value, points) in graded.items():
        if value not in points:
            raise ValueError(f"{name} {value!r} unknown; expected one of {sorted(points)}")
        score += points[value]
    ones = [myocardial_infarction, heart_failure, peripheral_vascular_disease, cerebrovascular_disease_or_tia,
            dementia, chronic_pulmonary_disease, connective_tissue_disease, peptic_ulcer_disease]
    twos = [hemiplegia, moderate_severe_ckd, leukemia, lymphoma]
    score += sum(int(bool(flag)) for flag in ones) + 2 * sum(int(bool(flag)) for flag in twos)
    return score + 6 * int(bool(aids))

# ---------------------------------------------------------------- dates


def estimated_due_date(last_menstrual_period, cycle_length_days=28):
    """Naegele's rule with cycle adjustment: EDD = LMP + 280 days + (cycle length − 28) days.
    Dates are 'MM/DD/YYYY' strings in and out."""
    month, day, year = (int(part) for part in last_menstrual_period.split("/"))
    due = date(year, month, day) + timedelta(days=280 + (cycle_length_days - 28))
    return due.strftime("%m/%d/%Y")


def gestational_age(last_menstrual_period, current_date):
    """Gestational age by dates = current date − LMP, as (weeks, days); dates are 'MM/DD/YYYY'."""
    m1, d1, y1 = (int(part) for part in last_menstrual_period.split("/"))
    m2, d2, y2 = (int(part) for part in current_date.split("/"))
    elapsed = (date(y2, m2, d2) - date(y1, m1, d1)).days
    if elapsed < 0:
        raise ValueError(f"current date {current_date} is before the LMP {last_menstrual_period}")
    return (elapsed // 7, elapsed % 7)



def estimated_conception_date(last_menstrual_period, cycle_length_days=28):
    """Estimated conception (ovulation) date = LMP + (cycle length − 14) days: ovulation falls 14 days (the
    luteal phase) before the next menses, so LMP + 14 d for a 28-day cycle, and the due date is conception
    + 266 d (Naegele; ACOG Committee Opinion 700, 2017), as estimated_due_date. 'MM/DD/YYYY' in and out."""
    month, day, year = (int(part) for part in last_menstrual_period.split("/"))
    conception = date(year, month, day) + timedelta(days=cycle_length_days - 14)
    return conception.strftime("%m/%d/%Y")

# ---------------------------------------------------------------- a calculation as a value and as code
# The pack evaluates a Call tree for the ground truth and prints the same tree as the reference solution's
# last line, so both perform the same float operations in the same order.


@dataclass(frozen=True)
class Var:
    """A value stated in the note; `name` is the variable the reference solution assigns."""

    name: str
    value: Any
    comment: str = ""


@dataclass(frozen=True)
class Call:
    """`fn(**kwargs)` where kwargs are Vars, Calls or constants; evaluates and prints itself as code."""

    fn: Callable
    kwargs: tuple  # ((name, arg), ...) in call order

    def evaluate(self) -> Any:
        return self.fn(**{k: _value(v) for k, v in self.kwargs})

    def code(self) -> str:
        return f"{self.fn.__name__}(" + ", ".join(f"{k}={_code(v)}" for k, v in self.kwargs) + ")"

    def functions(self) -> list[str]:
        names = [self.fn.__name__]
        for _, v in self.kwargs:
            if isinstance(v, Call):
                names += v.functions()
        return names


def call(fn: Callable, **kwargs) -> Call:
    return Call(fn, tuple(kwargs.items()))


def _value(v):
    return v.evaluate() if isinstance(v, Call) else v.value if isinstance(v, Var) else v


def _code(v):
    return v.code() if isinstance(v, Call) else v.name if isinstance(v, Var) else repr(v)
