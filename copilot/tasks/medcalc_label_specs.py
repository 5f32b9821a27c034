"""How each equation-based MedCalc-Bench calculator id is recomputed from a row's "Relevant Entities".

    from copilot.tasks.medcalc_label_specs import EQUATION_SPECS
    EQUATION_SPECS[9].compute(Entities(row_entities))   # Recomputation(value=..., inputs="age 60 y, ...")

A `CalculatorSpec` names the `packs.medcalc_calculators` function used, reads its inputs from `Entities`
(raising NotComparable with the reason) and may name a known MedCalc-Bench bug the label matches
(`label_hint`). Rule-based scores are in `medcalc_score_specs`; `medcalc_labels` joins both tables and compares.

Simplified: a unit that makes a value impossible is read as the unit the note evidently meant, with the
reading named in the reason: serum albumin "3.2 mg/dL" (0.0032 g/dL) as g/dL and serum sodium "137 mg/dL"
(59.6 mEq/L) as mEq/L; the label hint then says whether the label took the unit literally, as MedCalc-Bench's
conversion does. A cell count below what a laboratory reports (platelets "119×10^6/L") is not comparable.
MDRD takes a race that is not stated as not Black (MedCalc-Bench's default). The conception date follows the
cycle length (medcalc_calculators.estimated_conception_date); the label hint names MedCalc-Bench's LMP + 14 d.
Not protected against: a value misread from the note (a "30 lb weight loss" read as the weight) when its unit
is possible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from copilot.tasks.medcalc_entities import (MONOVALENT_ION_UNITS, PRESSURE_UNITS, Entities, NotComparable,
                                            is_number)
from copilot.tasks.packs import medcalc_calculators as C
from copilot.tasks.task import Task

DEFAULT_RELATIVE_LIMIT = 0.05   # MedCalc-Bench's decimal limits: label ± 5 %


@dataclass(frozen=True)
class Recomputation:
    """What a calculator gave: the value, the inputs in formula units, a rule difference worth naming."""

    value: Any
    inputs: str
    rule_note: str = ""


@dataclass(frozen=True)
class CalculatorSpec:
    """How to recompute one MedCalc-Bench calculator id with medcalc_calculators.

    calculator: the function's name in medcalc_calculators (what LabelCheck.calculator reports).
    compute:    entities -> Recomputation (raises NotComparable).
    scale:      (score name, min, max) the score can take; a label outside it is disputed.
    row_scale:  entities -> (min, max, what is given) still possible for this row when part of the score
                cannot be assessed (GCS 'not testable'); None when it does not apply.
    label_hint: (entities, task) -> how the label was produced, when it matches a known MedCalc-Bench bug.
    """

    calculator: str
    compute: Callable[[Entities], Recomputation]
    scale: tuple[str, float, float] | None = None
    row_scale: Callable[[Entities], tuple[float, float, str] | None] | None = None
    label_hint: Callable[[Entities, Task], str | None] | None = None


# ---------------------------------------------------------------- the label's tolerance


def label_limits(task: Task) -> tuple[float, float]:
    """The row's [lower, upper]; label ± 5 % when the row has none (how MedCalc-Bench builds them)."""
    lower, upper = task.checker_params.get("lower"), task.checker_params.get("upper")
    if lower is None or upper is None:
        lower, upper = sorted((task.answer * (1 - DEFAULT_RELATIVE_LIMIT), task.answer * (1 + DEFAULT_RELATIVE_LIMIT)))
    return float(lower), float(upper)


def within_label_limits(task: Task, value: float) -> bool:
    lower, upper = label_limits(task)
    slack = 1e-9 * max(1.0, abs(lower), abs(upper))   # limits are stored rounded to a few decimals
    return lower - slack <= value <= upper + slack


# ---------------------------------------------------------------- shared readers


def fmt(x: float) -> str:
    return f"{x:.6g}"


def present(findings: dict[str, bool]) -> str:
    return ", ".join(name for name, value in findings.items() if value) or "none"


def creatinine(e: Entities, key: str = "creatinine") -> float:
    return e.converted(key, C.to_mg_dl, "creatinine")


SODIUM_MG_PER_MMOL = 22.99           # sodium mg/dL × 10 / 22.99 = mmol/L (= mEq/L)
MG_PER_G = 1000.0
# A value written in mg/dL but inside these ranges is the note's slip for the formula's own unit: as mg/dL it
# would be impossible (serum sodium 137 mg/dL = 59.6 mEq/L; albumin 3.2 mg/dL = 0.0032 g/dL).
SODIUM_SLIP_MEQ_L = (100.0, 200.0)
ALBUMIN_SLIP_G_DL = (0.5, 7.0)


def _mg_dl_amount(e: Entities, key: str) -> float | None:
    """The amount of `key` when written [amount, 'mg/dL']; None when written otherwise."""
    try:
        amount, unit = e.quantity(key)
    except NotComparable:
        return None
    return amount if unit == "mg/dL" else None


def _is_slip(amount: float | None, slip_range: tuple[float, float]) -> bool:
    return amount is not None and slip_range[0] <= amount <= slip_range[1]


def sodium(e: Entities, literal: bool = False) -> float:
    """Serum sodium in mEq/L; mg/dL converted (× 10 / 22.99), except a slip (above), read as mEq/L unless
    `literal` (MedCalc-Bench converts it)."""
    amount = _mg_dl_amount(e, "Sodium")
    if amount is None:
        return e.number("Sodium", MONOVALENT_ION_UNITS)
    return amount if _is_slip(amount, SODIUM_SLIP_MEQ_L) and not literal else amount * 10.0 / SODIUM_MG_PER_MMOL


def albumin(e: Entities, literal: bool = False) -> float:
    """Serum albumin in g/dL; mg/dL converted (÷ 1000), except a slip (above), read as g/dL unless `literal`
    (MedCalc-Bench converts it)."""
    amount = _mg_dl_amount(e, "Albumin")
    if amount is None:
        return e.converted("Albumin", C.to_g_dl)
    return amount if _is_slip(amount, ALBUMIN_SLIP_G_DL) and not literal else amount / MG_PER_G


def unit_slips(e: Entities) -> str:
    """The rule note naming the values read in another unit than written (sodium(), albumin())."""
    slips = [f"{key} {fmt(amount)} 'mg/dL' read as {unit} (impossible in mg/dL)"
             for key, unit, slip_range in (("Sodium", "mEq/L", SODIUM_SLIP_MEQ_L),
                                           ("Albumin", "g/dL", ALBUMIN_SLIP_G_DL))
             if e.has(key) and _is_slip(amount := _mg_dl_amount(e, key), slip_range)]
    return "; ".join(slips)


MIN_PLATELETS_GIGA_PER_L = 1.0     # 1,000/µL: lower counts are below what a laboratory reports
MIN_WBC_GIGA_PER_L = 0.05          # 50/µL


def cell_count(e: Entities, key: str, minimum_giga_per_l: float) -> float:
    """A cell count in 10^9/L; below `minimum_giga_per_l` the count's unit is misstated (the note's
    "119×10^6/L" thrombocytopenia, "WBC 4.1" read as 4.1/µL): not comparable rather than a wrong value."""
    count = e.converted(key, C.to_giga_per_l)
    if count < minimum_giga_per_l:
        amount, unit = e.quantity(key)
        raise NotComparable(f"entity {key!r}: {fmt(amount)} per {unit} = {fmt(count)} ×10⁹/L is impossible "
                            "(a misstated unit)")
    return count


def heart_rate(e: Entities) -> float:
    return e.number("Heart Rate or Pulse", ("bpm",))


# ---------------------------------------------------------------- renal


def _cockcroft_gault(e: Entities) -> Recomputation:
    age, sex, scr = e.age_years(), e.sex(), creatinine(e)
    weight, height = e.converted("weight", C.to_kg), e.converted("height", C.to_cm)
    return Recomputation(C.creatinine_clearance(age, sex, weight, height, scr),
                         f"age {fmt(age)} y, {sex}, {fmt(weight)} kg, {fmt(height)} cm, Scr {fmt(scr)} mg/dL")


def _ckd_epi(e: Entities) -> Recomputation:
    age, sex, scr = e.age_years(), e.sex(), creatinine(e)
    return Recomputation(C.ckd_epi_2021(age, sex, scr), f"age {fmt(age)} y, {sex}, Scr {fmt(scr)} mg/dL")


def _ckd_epi_hint(e: Entities, task: Task) -> str | None:
    """MedCalc-Bench's code uses κ = 0.7 (not 0.9) for men with Scr ≤ 0.9 mg/dL, keeping α = −0.302: its
    value is ours × (0.9 / 0.7)^−0.302 (the min term's ratio Scr/κ grows by 0.9/0.7). Its unit conversion
    also rounded intermediate values, so Scr to one decimal is tried too."""
    age, sex, scr = e.age_years(), e.sex(), creatinine(e)
    for scr_used in dict.fromkeys((scr, round(scr, 1))):
        if sex != "Male" or scr_used > 0.9:
            continue
        kappa_07 = C.ckd_epi_2021(age, sex, scr_used) * (0.9 / 0.7) ** -0.302
        if within_label_limits(task, kappa_07):
            rounded = "" if scr_used == scr else f" with Scr rounded to {fmt(scr_used)} mg/dL"
            return (f"CKD-EPI 2021 uses κ=0.9 for men; the label matches κ=0.7{rounded} "
                    f"({fmt(round(kappa_07, 3))}, MedCalc-Bench's bug)")
    return None


def _is_black(e: Entities) -> bool:
    if not e.has("Race"):
        return False          # MedCalc-Bench's default: no race coefficient when race is not stated
    race = e.get("Race")
    if not isinstance(race, str):
        raise NotComparable(f"entity 'Race' is {race!r}; expected a text such as 'Black' or 'White'")
    return race.strip().lower() in ("black", "african american", "black or african american")


def _mdrd(e: Entities) -> Recomputation:
    age, sex, scr, black = e.age_years(), e.sex(), creatinine(e), _is_black(e)
    race = "race not stated" if not e.has("Race") else ("Black" if black else "not Black")
    return Recomputation(C.mdrd_gfr(age, sex, scr, black), f"age {fmt(age)} y, {sex}, {race}, Scr {fmt(scr)} mg/dL")


def _fena(e: Entities) -> Recomputation:
    na, urine_na = sodium(e), e.number("Urine sodium", MONOVALENT_ION_UNITS)
    scr, urine_cr = creatinine(e), creatinine(e, "Urine creatinine")
    return Recomputation(C.fractional_excretion_sodium(na, scr, urine_na, urine_cr),
                         f"Na {fmt(na)}, Scr {fmt(scr)} mg/dL, urine Na {fmt(urine_na)}, "
                         f"urine Cr {fmt(urine_cr)} mg/dL", unit_slips(e))


# ---------------------------------------------------------------- body size, haemodynamics, ECG


def _weight_height(e: Entities) -> tuple[float, float, str]:
    weight, height = e.converted("weight", C.to_kg), e.converted("height", C.to_cm)
    return weight, height, f"{fmt(weight)} kg, {fmt(height)} cm"


def _bmi(e: Entities) -> Recomputation:
    weight, height, inputs = _weight_height(e)
    return Recomputation(C.bmi(weight, height), inputs)


def _bsa(e: Entities) -> Recomputation:
    weight, height, inputs = _weight_height(e)
    return Recomputation(C.bsa_mosteller(weight, height), inputs)


def _ideal_body_weight(e: Entities) -> Recomputation:
    sex, height = e.sex(), e.converted("height", C.to_cm)
    return Recomputation(C.ideal_body_weight(height, sex), f"{sex}, {fmt(height)} cm")


def _adjusted_body_weight(e: Entities) -> Recomputation:
    weight, height, inputs = _weight_height(e)
    sex = e.sex()
    return Recomputation(C.adjusted_body_weight(weight, height, sex), f"{sex}, {inputs}")


def _target_weight(e: Entities) -> Recomputation:
    target_bmi = e.number("Body Mass Index (BMI)", ("kg/m²",))
    height = e.converted("height", C.to_cm)
    return Recomputation(C.target_weight(target_bmi, height), f"target BMI {fmt(target_bmi)}, {fmt(height)} cm")


def _maintenance_fluids(e: Entities) -> Recomputation:
    weight = e.converted("weight", C.to_kg)
    return Recomputation(C.maintenance_fluids(weight), f"{fmt(weight)} kg")


def _mean_arterial_pressure(e: Entities) -> Recomputation:
    sbp = e.number("Systolic Blood Pressure", PRESSURE_UNITS)
    dbp = e.number("Diastolic Blood Pressure", PRESSURE_UNITS)
    return Recomputation(C.mean_arterial_pressure(sbp, dbp), f"BP {fmt(sbp)}/{fmt(dbp)} mm Hg")


def _qtc(formula: Callable[[float, float], float]) -> Callable[[Entities], Recomputation]:
    """A QTc recomputation with `formula` (Bazett, Fridericia, ...): each takes QT (msec) and heart rate."""
    def compute(e: Entities) -> Recomputation:
        qt, rate = e.number("QT interval", ("msec",)), heart_rate(e)
        return Recomputation(formula(qt, rate), f"QT {fmt(qt)} msec, HR {fmt(rate)}")
    return compute


# ---------------------------------------------------------------- chemistry


def _corrected_calcium(e: Entities) -> Recomputation:
    calcium = e.converted("Calcium", C.to_mg_dl, "calcium")
    albumin_g_dl = albumin(e)
    return Recomputation(C.corrected_calcium(calcium, albumin_g_dl),
                         f"Ca {fmt(calcium)} mg/dL, albumin {fmt(albumin_g_dl)} g/dL", unit_slips(e))


def _serum_osmolality(e: Entities) -> Recomputation:
    na = sodium(e)
    bun = e.converted("Blood Urea Nitrogen (BUN)", C.to_mg_dl, "bun")
    glucose = e.converted("Glucose", C.to_mg_dl, "glucose")
    return Recomputation(C.serum_osmolality(na, bun, glucose),
                         f"Na {fmt(na)}, BUN {fmt(bun)} mg/dL, glucose {fmt(glucose)} mg/dL", unit_slips(e))


def _homa_ir(e: Entities) -> Recomputation:
    insulin = e.number("Insulin", ("µIU/mL",))
    glucose = e.converted("Glucose", C.to_mg_dl, "glucose")
    return Recomputation(C.homa_ir(insulin, glucose), f"insulin {fmt(insulin)} µIU/mL, glucose {fmt(glucose)} mg/dL")


def _free_water_deficit(e: Entities) -> Recomputation:
    age, sex, weight, na = e.age_years(), e.sex(), e.converted("weight", C.to_kg), sodium(e)
    return Recomputation(C.free_water_deficit(age, sex, weight, na),
                         f"age {fmt(age)} y, {sex}, {fmt(weight)} kg, Na {fmt(na)}", unit_slips(e))


def _sodium_corrected_for_glucose(e: Entities) -> Recomputation:
    na, glucose = sodium(e), e.converted("Glucose", C.to_mg_dl, "glucose")
    return Recomputation(C.sodium_corrected_for_glucose(na, glucose), f"Na {fmt(na)}, glucose {fmt(glucose)} mg/dL",
                         unit_slips(e))


def _gap_inputs(e: Entities, with_albumin: bool, literal: bool = False) -> dict[str, float]:
    args = {"sodium": sodium(e, literal), "chloride": e.number("Chloride", MONOVALENT_ION_UNITS),
            "bicarbonate": e.number("Bicarbonate", MONOVALENT_ION_UNITS)}
    if with_albumin:
        args["albumin_g_dl"] = albumin(e, literal)
    return args


def _gap(formula: Callable[..., float], with_albumin: bool) -> Callable[[Entities], Recomputation]:
    """Anion gap family: formula(sodium, chloride, bicarbonate[, albumin_g_dl]) in mEq/L (and g/dL)."""
    def compute(e: Entities) -> Recomputation:
        args = _gap_inputs(e, with_albumin)
        inputs = f"Na {fmt(args['sodium'])}, Cl {fmt(args['chloride'])}, HCO3 {fmt(args['bicarbonate'])}"
        if with_albumin:
            inputs += f", albumin {fmt(args['albumin_g_dl'])} g/dL"
        return Recomputation(formula(**args), inputs, unit_slips(e))
    return compute


def _gap_hint(formula: Callable[..., float], with_albumin: bool) -> Callable[[Entities, Task], str | None]:
    """The label took a 'mg/dL' unit slip literally (MedCalc-Bench's conversion), e.g. albumin 0.0032 g/dL."""
    def hint(e: Entities, task: Task) -> str | None:
        if unit_slips(e) and within_label_limits(task, formula(**_gap_inputs(e, with_albumin, literal=True))):
            return "the label converts the 'mg/dL' value literally (MedCalc-Bench's conversion of the note's slip)"
        return None
    return hint


def _gap_spec(name: str, with_albumin: bool) -> CalculatorSpec:
    formula = getattr(C, name)
    return CalculatorSpec(name, _gap(formula, with_albumin), label_hint=_gap_hint(formula, with_albumin))


def _ldl(e: Entities) -> Recomputation:
    total = e.converted("Total cholesterol", C.to_mg_dl, "cholesterol")
    hdl = e.converted("high-density lipoprotein cholesterol", C.to_mg_dl, "cholesterol")
    triglycerides = e.converted("Triglycerides", C.to_mg_dl, "triglycerides")
    si_tg = e.quantity("Triglycerides")[1] == "mmol/L"
    note = "triglycerides mmol/L → mg/dL × 88.57 (MedCalc-Bench uses 86.13)" if si_tg else ""
    return Recomputation(C.ldl_friedewald(total, hdl, triglycerides),
                         f"TC {fmt(total)}, HDL {fmt(hdl)}, TG {fmt(triglycerides)} mg/dL", note)


# ---------------------------------------------------------------- liver, dosing


def _meld_inputs(e: Entities) -> dict[str, Any]:
    return {"creatinine_mg_dl": creatinine(e), "bilirubin_mg_dl": e.converted("Bilirubin", C.to_mg_dl, "bilirubin"),
            "inr": e.number("international normalized ratio"),
            "sodium": sodium(e),
            "dialysis_twice_past_week": e.flag("Dialysis at least twice in the past week",
                                               "Continuous veno-venous hemodialysis for ≥24 hours in the past week")}


def _meld_na(e: Entities) -> Recomputation:
    args = _meld_inputs(e)
    inputs = (f"Cr {fmt(args['creatinine_mg_dl'])} mg/dL, bilirubin {fmt(args['bilirubin_mg_dl'])} mg/dL, "
              f"INR {fmt(args['inr'])}, Na {fmt(args['sodium'])}, dialysis {args['dialysis_twice_past_week']}")
    return Recomputation(C.meld_na(**args), inputs, unit_slips(e))


def _meld_na_hint(e: Entities, task: Task) -> str | None:
    """MedCalc-Bench's code sets Cr to 4 after dialysis only when 1 ≤ Cr ≤ 4 (its if/elif chain)."""
    args = _meld_inputs(e)
    if args["dialysis_twice_past_week"] and args["creatinine_mg_dl"] < 1.0 \
            and within_label_limits(task, C.meld_na(**{**args, "dialysis_twice_past_week": False})):
        return "the label ignores dialysis because Cr < 1 (MedCalc-Bench's bug; UNOS sets Cr to 4)"
    return None


def _fib4(e: Entities) -> Recomputation:
    age = e.age_years()
    ast = e.number("Aspartate aminotransferase", ("U/L",))
    alt = e.number("Alanine aminotransferase", ("U/L",))
    platelets = cell_count(e, "Platelet count", MIN_PLATELETS_GIGA_PER_L)
    return Recomputation(C.fib4(age, ast, alt, platelets),
                         f"age {fmt(age)} y, AST {fmt(ast)} U/L, ALT {fmt(alt)} U/L, platelets {fmt(platelets)} ×10⁹/L")


STEROID_DOSE_UNITS_MG = {"mg": 1.0, "g": 1000.0, "µg": 0.001, "mcg": 0.001}


def _steroid_conversion(e: Entities) -> Recomputation:
    given, target = e.get("input steroid"), e.get("target steroid")
    if not (isinstance(given, (list, tuple)) and len(given) == 3 and isinstance(given[0], str)
            and is_number(given[1]) and isinstance(given[2], str)):
        raise NotComparable(f"entity 'input steroid' is {given!r}; expected [name, dose, unit]")
    name, dose, unit = given
    if unit.strip() not in STEROID_DOSE_UNITS_MG or dose < 0:
        raise NotComparable(f"entity 'input steroid': dose {dose} {unit!r}; expected ≥ 0 in one of "
                            f"{sorted(STEROID_DOSE_UNITS_MG)}")
    dose_mg = dose * STEROID_DOSE_UNITS_MG[unit.strip()]
    try:
        value = C.steroid_equivalent_dose(dose_mg, name, target)
    except ValueError as exc:
        raise NotComparable(str(exc)) from None
    return Recomputation(value, f"{fmt(dose_mg)} mg {name} → {target}")


# ---------------------------------------------------------------- dates


def _cycle_length(e: Entities) -> int:
    cycle = e.number("cycle length", ("days",))
    if cycle != int(cycle):
        raise NotComparable(f"entity 'cycle length' is {cycle}; expected whole days")
    return int(cycle)


def _due_date(e: Entities) -> Recomputation:
    lmp, cycle = e.date_text("Last menstrual date"), _cycle_length(e)
    note = "" if cycle >= 28 else (f"cycle {cycle} d < 28: the project subtracts {28 - cycle} d, "
                                   "MedCalc-Bench's code adds |cycle − 28|")
    return Recomputation(C.estimated_due_date(lmp, cycle), f"LMP {lmp}, cycle {cycle} d", note)


def _due_date_hint(e: Entities, task: Task) -> str | None:
    lmp, cycle = e.date_text("Last menstrual date"), _cycle_length(e)
    if cycle < 28 and task.answer == C.estimated_due_date(lmp, 28 + abs(cycle - 28)):
        return f"the label adds the {28 - cycle} days (MedCalc-Bench's bug)"
    return None


def _conception_date(e: Entities) -> Recomputation:
    lmp, cycle = e.date_text("Last menstrual date"), _cycle_length(e)
    note = "" if cycle == 28 else f"cycle {cycle} d: ovulation 14 d before the next menses, LMP + {cycle - 14} d"
    return Recomputation(C.estimated_conception_date(lmp, cycle), f"LMP {lmp}, cycle {cycle} d", note)


def _conception_date_hint(e: Entities, task: Task) -> str | None:
    lmp, cycle = e.date_text("Last menstrual date"), _cycle_length(e)
    if cycle != 28 and task.answer == C.estimated_conception_date(lmp, 28):
        return "the label is LMP + 14 d whatever the cycle length (MedCalc-Bench's code)"
    return None


def _gestational_age(e: Entities) -> Recomputation:
    lmp, today = e.date_text("Last menstrual date"), e.date_text("Current Date")
    try:
        weeks, days = C.gestational_age(lmp, today)
    except ValueError as exc:
        raise NotComparable(str(exc)) from None
    return Recomputation([weeks, days], f"LMP {lmp}, current date {today}")


# MedCalc-Bench calculator id -> how to recompute it; the scores are in medcalc_score_specs.SCORE_SPECS.
EQUATION_SPECS: dict[int, CalculatorSpec] = {
    2: CalculatorSpec("creatinine_clearance", _cockcroft_gault),
    3: CalculatorSpec("ckd_epi_2021", _ckd_epi, label_hint=_ckd_epi_hint),
    5: CalculatorSpec("mean_arterial_pressure", _mean_arterial_pressure),
    6: CalculatorSpec("bmi", _bmi),
    7: CalculatorSpec("corrected_calcium", _corrected_calcium),
    9: CalculatorSpec("mdrd_gfr", _mdrd),
    10: CalculatorSpec("ideal_body_weight", _ideal_body_weight),
    11: CalculatorSpec("qtc_bazett", _qtc(C.qtc_bazett)),
    13: CalculatorSpec("estimated_due_date", _due_date, label_hint=_due_date_hint),
    19: CalculatorSpec("fib4", _fib4),
    22: CalculatorSpec("maintenance_fluids", _maintenance_fluids),
    23: CalculatorSpec("meld_na", _meld_na, scale=("MELD Na", 6, 40), label_hint=_meld_na_hint),
    24: CalculatorSpec("steroid_equivalent_dose", _steroid_conversion),
    26: CalculatorSpec("sodium_corrected_for_glucose", _sodium_corrected_for_glucose),
    30: CalculatorSpec("serum_osmolality", _serum_osmolality),
    31: CalculatorSpec("homa_ir", _homa_ir),
    38: CalculatorSpec("free_water_deficit", _free_water_deficit),
    39: _gap_spec("anion_gap", with_albumin=False),
    40: CalculatorSpec("fractional_excretion_sodium", _fena),
    44: CalculatorSpec("ldl_friedewald", _ldl),
    56: CalculatorSpec("qtc_fridericia", _qtc(C.qtc_fridericia)),
    57: CalculatorSpec("qtc_framingham", _qtc(C.qtc_framingham)),
    58: CalculatorSpec("qtc_hodges", _qtc(C.qtc_hodges)),
    59: CalculatorSpec("qtc_rautaharju", _qtc(C.qtc_rautaharju)),
    60: CalculatorSpec("bsa_mosteller", _bsa),
    61: CalculatorSpec("target_weight", _target_weight),
    62: CalculatorSpec("adjusted_body_weight", _adjusted_body_weight),
    63: _gap_spec("delta_gap", with_albumin=False),
    64: _gap_spec("delta_ratio", with_albumin=False),
    65: _gap_spec("albumin_corrected_anion_gap", with_albumin=True),
    66: _gap_spec("albumin_corrected_delta_gap", with_albumin=True),
    67: _gap_spec("albumin_corrected_delta_ratio", with_albumin=True),
    68: CalculatorSpec("estimated_conception_date", _conception_date, label_hint=_conception_date_hint),
    69: CalculatorSpec("gestational_age", _gestational_age),
}
