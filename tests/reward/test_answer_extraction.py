"""reward.answer_extraction: one value read out of an answer; two different values, none, or a non-date refused."""

from datetime import date, datetime

import pytest

from reward.answer_extraction import (
    AMBIGUOUS,
    NO_VALUE,
    NOT_A_DATE,
    extract_date,
    extract_number,
    extract_proportion,
    extract_weeks_days,
)


@pytest.mark.parametrize("answer, value", [
    (4, 4.0), (4.0, 4.0), ("4", 4.0), (" -0.5 ", -0.5), ([4], 4.0), (["4"], 4.0), ([4, 4.0], 4.0),
    ("The score is 4.", 4.0), ("approximately 4", 4.0), ("~4", 4.0), ("≈ 4", 4.0), ("4 points", 4.0),
    ("25.0 mL/min", 25.0), ("25.0 mL/min/1.73 m²", 25.0), ("25 mL/min/1.73m2", 25.0),
    ("25 mL/min per 1.73 m2", 25.0), ("BMI 24.2 kg/m^2", 24.2), ("1,234", 1234.0), ("1,234,567 cells", 1234567.0),
    ("1.5e-3", 0.0015), ("2E+03", 2000.0), ("-2", -2.0), ("\u22122 points", -2.0), ("a change of -2", -2.0),
    ("n = 64 per group", 64.0), ("64 participants in each group", 64.0), ("4 (four); a score of 4.0", 4.0),
    ("CURB-65 score: 2", 2.0), ("CHA2DS2-VASc score is 3", 3.0), ("FIB-4 index 1.3", 1.3), ("HbA1c 6.5", 6.5),
    # a percent sign is a unit for plain numbers (MedCalc percentages are in percent)
    ("proteinuria 150 mg/24 h", 150.0), ("12%", 12.0),
])
def test_number_read(answer, value):
    got = extract_number(answer)
    assert got.found and got.value == value, got.describe()


@pytest.mark.parametrize("answer, candidates", [
    ("step 2 gives 4", (2.0, 4.0)), ("3-5", (3.0, 5.0)), ("4, 5", (4.0, 5.0)), ("4/5 points", (4.0, 5.0)),
    ("64 per group, 128 in total", (64.0, 128.0)), ("12 x 10^9/L", (12.0, 10.0, 9.0)), ("10^3", (10.0, 3.0)),
    ("09/23/2014", (9.0, 23.0, 2014.0)), ("score = 10 - 6 = 4", (10.0, 6.0, 4.0)), ([0.8, 0.9], (0.8, 0.9)),
    (["4", "5 points"], (4.0, 5.0)), ("1,5", (1.0, 5.0)), ("25 mL/26 mL", (25.0, 26.0)),
])
def test_number_ambiguous(answer, candidates):
    got = extract_number(answer)
    assert got.status == AMBIGUOUS and got.candidates == candidates and not got.found
    assert "ambiguous" in got.describe() and "different values" in got.describe()


@pytest.mark.parametrize("answer", [True, False, None, "", "four", "inf", float("nan"), float("inf"), [],
                                    {"score": 4}, "mL/min/1.73 m²", "CO2", [4, "other"], [4, None], [4, True]])
def test_number_none(answer):
    got = extract_number(answer)
    assert got.status == NO_VALUE and got.value is None, got.describe()


def test_a_boolean_is_never_a_number():
    assert "boolean" in extract_number(True).describe() and not extract_proportion([True]).found


@pytest.mark.parametrize("answer, value", [
    ("80%", 0.8), ("80.5 %", 0.805), ("power is 80 percent", 0.8), ("0.8 (80%)", 0.8), (0.8, 0.8),
    ("80", 80.0), (80, 80.0),  # a bare 80 is NOT converted: the checker's bounds then refuse it
    ("100.5%", 1.005),  # read as written; out of bounds is the checker's verdict
])
def test_proportion_read(answer, value):
    got = extract_proportion(answer)
    assert got.found and got.value == value, got.describe()


def test_proportion_ambiguous():
    assert extract_proportion("power 0.8 at alpha 0.05").candidates == (0.8, 0.05)
    assert extract_proportion("0.8 (85%)").candidates == (0.8, 0.85)


@pytest.mark.parametrize("answer", [
    "2014-09-23", "09/23/2014", "9/23/2014", "September 23, 2014", "Sept. 23, 2014", "Sep. 23, 2014",
    "Sep 23 2014", "september 23rd, 2014", "23 September 2014", "23 Sep 2014", "the 23rd of September, 2014",
    "The estimated due date is September 23, 2014.", "On 09/23/2014 (September 23, 2014)", "2014-09-23T00:00:00",
    date(2014, 9, 23), datetime(2014, 9, 23, 10, 0), ["09/23/2014"],
])
def test_date_read(answer):
    got = extract_date(answer)
    assert got.found and got.value == date(2014, 9, 23), got.describe()


def test_date_refused():
    for impossible in ("02/30/2020", "February 30, 2020", "2020-13-01", "23/09/2014"):  # day-first is not read
        assert extract_date(impossible).status == NOT_A_DATE, impossible
    assert extract_date("09/23/2014 or 09/24/2014").candidates == (date(2014, 9, 23), date(2014, 9, 24))
    for none in ("no date here", "09/23/14", "September 2014", 20140923, None, True):
        assert extract_date(none).status == NO_VALUE, none


@pytest.mark.parametrize("answer", [
    "14w1d", "14 w 1 d", "14 weeks 1 day", "14 weeks and 1 day", "14 weeks, 1 day", "14 Weeks + 1 Day", "14wk 1d",
    "(14, 1)", "[14, 1]", "14+1", [14, 1], (14, 1), [14.0, "1"], "('14 weeks', '1 day')", ("14 weeks", "1 days"),
    "Gestational age: 14 weeks and 1 day (14+1)", ["14w1d"],
])
def test_weeks_days_read(answer):
    got = extract_weeks_days(answer)
    assert got.found and got.value == (14, 1), got.describe()


def test_weeks_days_refused():
    assert extract_weeks_days("14w1d or 14w2d").candidates == ((14, 1), (14, 2))
    assert extract_weeks_days([[14, 1], [14, 3]]).status == AMBIGUOUS
    for none in ("14 weeks", "14", 14, [14.5, 1], [True, 1], ("1 day", "14 weeks"), None, "fourteen weeks"):
        assert extract_weeks_days(none).status == NO_VALUE, none
