"""Typed reading of a MedCalc-Bench row's "Relevant Entities" (names and unit spellings of the release).

    e = Entities({'sex': 'Male', 'age': [87, 'years'], 'creatinine': [1.4, 'mg/dL']})
    e.age_years(), e.sex(), e.converted("creatinine", to_mg_dl, "creatinine")

Every failure raises `NotComparable` naming the entity and what was expected. Names match case-insensitively;
yes/no findings that are not stated count as absent (MedCalc-Bench's convention). The reader remembers which
entities were read: `unread_findings()` lists the stated yes/no findings no calculator input consumed, which
means the row names a finding in a way the recomputation does not know (another release's or a pack's
spelling), so a score computed without it cannot be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any


class NotComparable(Exception):
    """The row cannot be recomputed; the message says why (entity missing, unit unknown, ...)."""


# ---------------------------------------------------------------- reading Relevant Entities

# Unit spellings of the release (lower-cased) -> the unit names medcalc_calculators' conversions take.
_UNIT_SPELLINGS = {
    "μmol/l": "µmol/L", "µmol/l": "µmol/L", "umol/l": "µmol/L", "mmol/l": "mmol/L", "mg/dl": "mg/dL",
    "g/dl": "g/dL", "g/l": "g/L", "meq/l": "mEq/L", "kg": "kg", "g": "g", "lb": "lbs", "lbs": "lbs",
    "pounds": "lbs", "cm": "cm", "m": "m", "in": "in", "inches": "in", "°c": "°C", "degrees celsius": "°C",
    "°f": "°F", "degrees fahrenheit": "°F", "degrees fahreinheit": "°F", "mm hg": "mm Hg", "mmhg": "mm Hg",
    "beats per minute": "bpm", "bpm": "bpm", "msec": "msec", "ms": "msec", "breaths per minute": "/min",
    "%": "%", "kg/m^2": "kg/m²", "kg/m²": "kg/m²", "µiu/ml": "µIU/mL", "μiu/ml": "µIU/mL", "miu/l": "µIU/mL",
    "days": "days", "u/l": "U/L", "iu/l": "U/L",
    # cell counts: the unit is the volume counted in ([130000, 'µL'] is 130,000/µL); the release writes 'm^3'
    # for mm³ (its notes say "/mm3", and a count per m³ would be a million times too small)
    "µl": "µL", "μl": "µL", "ul": "µL", "mcl": "µL", "mm^3": "mm^3", "mm3": "mm^3", "m^3": "mm^3", "l": "L",
    "degrees celsisus": "°C",
}
_AGE_UNIT_DIVISORS = {"years": 1, "year": 1, "months": 12, "month": 12, "weeks": 52, "week": 52}
MONOVALENT_ION_UNITS = ("mEq/L", "mmol/L")   # equal for Na+, Cl-, HCO3- (valence 1)
PRESSURE_UNITS = ("mm Hg",)


def canonical_unit(unit: str) -> str:
    """The conversion functions' spelling of a release unit; unknown spellings come back stripped."""
    return _UNIT_SPELLINGS.get(unit.strip().lower(), unit.strip())


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _not_negative(key: str, value: float) -> float:
    # every quantity these calculators read is ≥ 0; a negative one would give complex powers or nonsense
    if value < 0:
        raise NotComparable(f"entity {key!r} is negative ({value})")
    return value


class Entities:
    """Typed access to one row's "Relevant Entities"; every failure raises NotComparable naming the key."""

    def __init__(self, raw: Any):
        if not isinstance(raw, dict):
            raise NotComparable("the row has no Relevant Entities dict")
        # names are matched case-insensitively: the release spells e.g. "Sodium" and "sex"
        self._values = {str(key).strip().lower(): value for key, value in raw.items()}
        self._names = {str(key).strip().lower(): str(key) for key in raw}
        self._read: set[str] = set()

    def has(self, key: str) -> bool:
        self._read.add(key.lower())
        return key.lower() in self._values

    def get(self, key: str) -> Any:
        self._read.add(key.lower())
        if key.lower() not in self._values:
            raise NotComparable(f"entity {key!r} missing")
        return self._values[key.lower()]

    def unread_findings(self) -> list[str]:
        """Stated yes/no findings that no input read (names the recomputation does not know). Both values
        count: a finding that defaults to true when unstated (Centor's cough absent) can be stated false."""
        return sorted(self._names[key] for key, value in self._values.items()
                      if isinstance(value, bool) and key not in self._read)

    def quantity(self, key: str) -> tuple[float, str]:
        value = self.get(key)
        if isinstance(value, (list, tuple)) and len(value) == 2 and is_number(value[0]) \
                and isinstance(value[1], str):
            return _not_negative(key, float(value[0])), canonical_unit(value[1])
        raise NotComparable(f"entity {key!r} is {value!r}; expected [value, unit]")

    def number(self, key: str, units: tuple[str, ...] = ()) -> float:
        """A plain number, or [value, unit] with a unit the formula takes as it is (one of `units`)."""
        value = self.get(key)
        if is_number(value):
            return _not_negative(key, float(value))
        amount, unit = self.quantity(key)
        if unit not in units:
            raise NotComparable(f"entity {key!r}: unit {unit!r} unknown; expected one of {list(units)}")
        return amount

    def converted(self, key: str, convert: Callable[..., float], *args: Any) -> float:
        """[value, unit] converted by a medcalc_calculators function (to_kg, to_mg_dl, ...)."""
        amount, unit = self.quantity(key)
        try:
            return convert(amount, unit, *args)
        except ValueError as exc:
            raise NotComparable(f"entity {key!r}: {exc}") from None

    def flag(self, *keys: str, default: bool = False) -> bool:
        """A yes/no finding, true when any of `keys` is true; `default` when none is stated."""
        self._read.update(k.lower() for k in keys)
        stated = {k: self._values[k.lower()] for k in keys if k.lower() in self._values}
        for key, value in stated.items():
            if not isinstance(value, bool):
                raise NotComparable(f"entity {key!r} is {value!r}; expected true/false")
        return any(stated.values()) if stated else default

    def sex(self) -> str:
        value = self.get("sex")
        if isinstance(value, str) and value.strip().lower() in ("male", "female"):
            return value.strip().capitalize()
        raise NotComparable(f"entity 'sex' is {value!r}; expected 'Male' or 'Female'")

    def age_years(self) -> float:
        """Age in years; months / weeks become completed years (MedCalc-Bench's age conversion)."""
        amount, unit = self.quantity("age")
        if unit.lower() in ("days", "day"):
            return 0.0
        if unit.lower() not in _AGE_UNIT_DIVISORS:
            raise NotComparable(f"entity 'age': unit {unit!r} unknown; expected years, months, weeks or days")
        divisor = _AGE_UNIT_DIVISORS[unit.lower()]
        return amount if divisor == 1 else float(amount // divisor)

    def date_text(self, key: str) -> str:
        """A date 'MM/DD/YYYY', checked to be a real date."""
        value = self.get(key)
        try:
            month, day, year = (int(part) for part in str(value).strip().split("/"))
            return date(year, month, day).strftime("%m/%d/%Y")
        except ValueError:
            raise NotComparable(f"entity {key!r} is {value!r}; expected a date MM/DD/YYYY") from None

    def choice(self, key: str, points: dict[str, int]) -> int:
        value = self.get(key)
        text = str(value).strip().lower()
        if text not in points:
            raise NotComparable(f"entity {key!r} is {value!r}; expected one of {sorted(points)}")
        return points[text]

    def category(self, key: str, categories: dict[str, str]) -> str:
        """A stated category in the calculator's own words: `categories` maps lower-case spellings to them."""
        value = self.get(key)
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text not in categories:
            raise NotComparable(f"entity {key!r} is {value!r}; expected one of {sorted(categories)}")
        return categories[text]
