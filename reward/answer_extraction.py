"""Read ONE value (a number, a proportion, a date, a weeks+days pair) out of an agent's answer.

The answer may be a Python value (int, float, str, date, a list of them) or free text ("The score is 4.").
Each `extract_*` function returns an `Extraction`: the value, or the reason there is none (no value of that
kind; two or more DIFFERENT candidate values, listed; a date that does not exist). Checkers put
`Extraction.describe()` in their detail and compare `Extraction.value` by their dataset's own rule.

What is read (each form is ONE candidate; the same value written twice, "4 ... a score of 4.0", is fine):
- numbers: "4", "The score is 4.", "approximately 4", "~4", "4 points", "25.0 mL/min", "1,234" (groups of
  three digits after a comma), "1.5e-3", "-2" / "−2", "n = 64 per group", "64 participants in each group";
  a "%" is a unit here (MedCalc percentages are written in percent: "12%" is 12);
- proportions (power / probability targets only): the numbers above, and a number followed by "%" or
  "percent" divided by 100 exactly ("80%" -> 0.8, "80.5 %" -> 0.805). A bare 80 stays 80 (the checker
  then finds it outside [0, 1]): units are never guessed;
- dates: "2014-09-23", "09/23/2014" (slashes are always US MM/DD/YYYY, as MedCalc-Bench writes them),
  "September 23, 2014", "Sept. 23, 2014", "Sep 23 2014", "September 23rd, 2014", "23 September 2014",
  "23 Sep 2014"; a datetime.date / datetime value. Each is checked by `datetime.date`, so "02/30/2020" is
  refused (not a real date). No fuzzy parsing: dateutil reads a "date" out of almost any text;
- weeks+days pairs (gestational age): "14w1d", "14 weeks 1 day", "14 weeks and 1 day", "14 weeks, 1 day",
  "(14, 1)", "[14, 1]", "14+1", the values [14, 1] / (14, "1") and "('14 weeks', '1 day')".
A list or tuple answer (other than a weeks+days pair) is read element by element: every element must hold
the value ([4, "other"] is refused) and all of them one value ([4, 4.0] is 4; [0.8, 0.9] is ambiguous).

What is NOT a candidate number (it belongs to a name or a unit):
- digits glued to a letter before them: "CO2", "HbA1c", "kg/m2", "CHA2DS2-VASc";
- a number after a letter and "-" or "^": "CURB-65", "FIB-4", "m^2";
- a denominator of body surface area or time: a number after a unit word and "/", or after "per", that is
  followed by m² / m2 / m^2 or h / hr / hours: "mL/min/1.73 m²", "per 1.73 m2", "mg/24 h" (the 1.73 and
  the 2 are the unit; "²" is never a digit). Other denominators are candidates: "4/5 points" is a fraction
  (two candidates), "25 mL/26 mL" is two values.
Everything else is a candidate, so when in doubt the answer is ambiguous: "step 2 gives 4", "3-5",
"12 x 10^9/L" (12, 10 and 9), "10^3", "09/23/2014" read as a number, "4, 5" and "the score is 4 (range
0-7)" are all refused. Write the value alone, or once with its unit.

Simplified, on purpose: number words ("four") are not read; "1,5" is two numbers (no decimal comma);
"64,128" is read as 64128 (a thousands group), like "1,234"; two-digit years and day-first slash dates are
not dates; "14 weeks" alone is no pair (days are required); days above 6 are kept as written (the checker's
comparison decides). Booleans are never numbers (True is not 1 point). Not protected against: an answer
that states the one right value among words that are not numbers ("four, no: 4" reads as 4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reward.answer_normalization import parse_literal

FOUND, NO_VALUE, AMBIGUOUS, NOT_A_DATE = "found", "no value", "ambiguous", "not a real date"

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# A number with an optional sign (ASCII or U+2212 minus), thousands groups, a fraction and an exponent.
_NUMBER = re.compile(r"(?P<sign>[-+\u2212]?)(?P<body>(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?:\.\d+)?|\.\d+)"
                     r"(?P<exp>[eE][-+]?\d+)?")
_PERCENT_AFTER = re.compile(r"\s*(?:%|percent\b)", re.IGNORECASE)
# The per-unit denominators that carry a number: body surface area ("/1.73 m²") and time ("/24 h").
_DENOMINATOR_UNIT_AFTER = re.compile(r"\s*(?:m(?:²|\^?2)|h|hr|hrs|hours?)(?![^\W\d_])", re.IGNORECASE)
# "/" after a unit word ("min/1.73 m²"; "4/5" is a fraction, two candidates) or the word "per", then spaces.
_PER_BEFORE = re.compile(r"(?:(?<=[^\W\d_])/|(?<![a-z])per)\s*$", re.IGNORECASE)
_MONTH = (r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?")
_MONTHS = {name: number for number, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
     ("nov", "november"), ("dec", "december")), start=1) for name in names}
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE_FORMS = (  # each names its groups year / month / day: ISO, US slashes, month first, day first
    re.compile(r"(?<![\d/.-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?!\d)"),
    re.compile(r"(?<![\d/.-])(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})(?![\d/])"),
    re.compile(rf"(?<![a-z]){_MONTH}\s*(?P<day>\d{{1,2}}){_ORDINAL},?\s+(?P<year>\d{{4}})(?!\d)", re.IGNORECASE),
    re.compile(rf"(?<![\d.])(?P<day>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?{_MONTH},?\s+(?P<year>\d{{4}})(?!\d)",
               re.IGNORECASE),
)
_WEEKS_DAYS = re.compile(
    r"(?<![\d.])(?P<w1>\d+)\s*(?:weeks?|wks?|w)(?![a-z])\.?\s*(?:,|and|\+)?\s*(?P<d1>\d+)\s*(?:days?|d)(?![a-z])"
    r"|[(\[]\s*(?P<w2>\d+)\s*,\s*(?P<d2>\d+)\s*[)\]]"
    r"|(?<![\d.])(?P<w3>\d+)\s*\+\s*(?P<d3>\d+)(?![\d.])", re.IGNORECASE)
_WEEKS_PART = re.compile(r"\s*(\d+)\s*(?:weeks?|wks?|w)?\s*", re.IGNORECASE)
_DAYS_PART = re.compile(r"\s*(\d+)\s*(?:days?|d)?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Extraction:
    """One value read from an answer (status FOUND), or why none was (NO_VALUE / AMBIGUOUS / NOT_A_DATE)."""

    status: str
    value: Any = None
    reason: str = ""
    candidates: tuple[Any, ...] = ()

    @property
    def found(self) -> bool:
        return self.status == FOUND

    def describe(self) -> str:
        """One line for a checker's detail: the value read, or why nothing was read."""
        if self.found:
            return f"read {self.value!r}"
        if self.status == AMBIGUOUS:
            return f"ambiguous: {len(self.candidates)} different values {list(self.candidates)!r}; expected one"
        return f"{self.status}: {self.reason}"


def _found(value: Any) -> Extraction:
    return Extraction(FOUND, value)


def _none(reason: str, status: str = NO_VALUE) -> Extraction:
    return Extraction(status, reason=reason)


def _one_of(values: list[Any], what: str, answer: Any) -> Extraction:
    """The single distinct value among `values` (order kept), else no value / ambiguous."""
    distinct = list(dict.fromkeys(values))
    if not distinct:
        return _none(f"no {what} in {_short(answer)}")
    if len(distinct) > 1:
        return Extraction(AMBIGUOUS, candidates=tuple(distinct))
    return _found(distinct[0])


def _short(answer: Any, limit: int = 80) -> str:
    text = repr(answer)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _from_elements(answer: list | tuple, extract: Callable[[Any], Extraction], what: str) -> Extraction:
    """A list answer: every element read; one value across all of them, else ambiguous / no value."""
    values: list[Any] = []
    for element in answer:
        got = extract(element)
        if got.status == AMBIGUOUS:
            values.extend(got.candidates)
        elif not got.found:  # [4, "other"] is a list of answers, not one: every element must hold the value
            return _none(f"element {_short(element)} of the list holds no {what} ({got.describe()})", got.status)
        else:
            values.append(got.value)
    return _one_of(values, what, answer)


# ---------------------------------------------------------------- numbers

def _is_unit_part(text: str, start: int, end: int) -> bool:
    """True when the number text[start:end] (sign excluded) belongs to a name or a unit (module docstring)."""
    before = text[start - 1] if start else ""
    if before.isalpha():
        return True  # CO2, HbA1c, kg/m2
    if before in "-^" and start >= 2 and text[start - 2].isalpha():
        return True  # CURB-65, FIB-4, m^2
    return bool(_PER_BEFORE.search(text[max(0, start - 8):start])) and bool(_DENOMINATOR_UNIT_AFTER.match(text, end))


def _number_value(match: re.Match, text: str) -> float | None:
    """The signed value of a _NUMBER match; a "-" glued to a word or digit before it is a hyphen, not a sign."""
    body = match.group("body").replace(",", "") + (match.group("exp") or "")
    sign = match.group("sign")
    before = text[match.start() - 1] if match.start() else ""
    negative = sign in ("-", "\u2212") and not (before.isalnum() or before == ")")
    number = float(body)
    return -number if negative else number


def _number_candidates(text: str, percent_is_fraction: bool) -> list[float]:
    values = []
    for match in _NUMBER.finditer(text):
        start = match.start("body")
        if _is_unit_part(text, start, match.end()):
            continue
        number = _number_value(match, text)
        if percent_is_fraction and _PERCENT_AFTER.match(text, match.end()):
            body = match.group("body").replace(",", "") + (match.group("exp") or "")
            number = float(Decimal(body) / 100) * (-1 if number < 0 else 1)  # Decimal: 80.5% is 0.805 exactly
        if math.isfinite(number):
            values.append(number)
    return values


def _extract_numeric(answer: Any, percent_is_fraction: bool, what: str) -> Extraction:
    if isinstance(answer, bool):
        return _none(f"a boolean ({answer}) is not a number")
    if isinstance(answer, (int, float)):
        number = float(answer)
        return _found(number) if math.isfinite(number) else _none(f"{answer!r} is not a finite number")
    if isinstance(answer, str):
        text = answer.strip()
        if _PLAIN_NUMBER.fullmatch(text):  # the common case, read without scanning
            number = float(text)
            return _found(number) if math.isfinite(number) else _none(f"{answer!r} is not a finite number")
        return _one_of(_number_candidates(text, percent_is_fraction), what, answer)
    if isinstance(answer, (list, tuple)):
        return _from_elements(answer, lambda v: _extract_numeric(v, percent_is_fraction, what), what)
    return _none(f"{_short(answer)} ({type(answer).__name__}) is not a {what}")


def extract_number(answer: Any) -> Extraction:
    """One number (float) from a number, numeric text, free text with one number, or a list holding one."""
    return _extract_numeric(answer, percent_is_fraction=False, what="number")


def extract_proportion(answer: Any) -> Extraction:
    """Like extract_number, but "80%" / "80 percent" is 0.8. For power / probability targets only; bounds
    ([0, 1]) are the checker's to enforce, so that it can say why 1.005 or 80 is wrong."""
    return _extract_numeric(answer, percent_is_fraction=True, what="number or percentage")


# ---------------------------------------------------------------- dates

def _date_of(match: re.Match) -> date | None:
    month = match.group("month")
    month_number = int(month) if month.isdigit() else _MONTHS[month.lower().rstrip(".")]
    try:
        return date(int(match.group("year")), month_number, int(match.group("day")))
    except ValueError:
        return None


def _date_in_text(text: str) -> Extraction:
    found: list[tuple[int, int, date | None, str]] = []
    for form in _DATE_FORMS:
        for match in form.finditer(text):
            found.append((match.start(), match.end(), _date_of(match), match.group(0)))
    found.sort(key=lambda item: item[0])
    values, last_end = [], -1
    for start, end, day, written in found:
        if start < last_end:
            continue  # a second reading of text already read (none of the forms overlap; kept for safety)
        if day is None:
            return _none(f"{written!r} is not a calendar date", NOT_A_DATE)
        values.append(day)
        last_end = end
    return _one_of(values, "date", text)


def extract_date(answer: Any) -> Extraction:
    """One calendar date (datetime.date) from a date value or text in the forms of the module docstring."""
    if isinstance(answer, datetime):
        return _found(answer.date())
    if isinstance(answer, date):
        return _found(answer)
    if isinstance(answer, str):
        return _date_in_text(answer)
    if isinstance(answer, (list, tuple)):
        return _from_elements(answer, extract_date, "date")
    return _none(f"{_short(answer)} ({type(answer).__name__}) is not a date")


# ---------------------------------------------------------------- weeks + days

def _pair_part(value: Any, pattern: re.Pattern) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        match = pattern.fullmatch(value)
        return int(match.group(1)) if match else None
    return None


def _pair_value(answer: list | tuple) -> tuple[int, int] | None:
    weeks, days = _pair_part(answer[0], _WEEKS_PART), _pair_part(answer[1], _DAYS_PART)
    return (weeks, days) if weeks is not None and days is not None else None


def _pairs_in_text(text: str) -> list[tuple[int, int]]:
    pairs = []
    for match in _WEEKS_DAYS.finditer(text):
        for weeks, days in (("w1", "d1"), ("w2", "d2"), ("w3", "d3")):
            if match.group(weeks) is not None:
                pairs.append((int(match.group(weeks)), int(match.group(days))))
    return pairs


def extract_weeks_days(answer: Any) -> Extraction:
    """One (weeks, days) pair of ints from a two-element value or text in the forms of the module docstring."""
    answer = parse_literal(answer)
    if isinstance(answer, (list, tuple)):
        if len(answer) == 2:
            pair = _pair_value(answer)
            if pair is not None:
                return _found(pair)
        return _from_elements(answer, extract_weeks_days, "(weeks, days) pair")
    if isinstance(answer, str):
        return _one_of(_pairs_in_text(answer), "(weeks, days) pair", answer)
    return _none(f"{_short(answer)} ({type(answer).__name__}) is not a (weeks, days) pair")
