"""The typed normalisation the checkers compare with: numbers, booleans, None, dates, whitespace, literals."""

from reward.answer_normalization import canonical, parse_date, parse_literal, parse_number, to_bool


def test_numbers_compare_by_value_not_text():
    assert canonical("1.0") == canonical("1") == canonical(1) == canonical(" 1e0 ")
    assert canonical("92") == canonical(92) == canonical(92.0) == canonical("92.0")
    # exact values, never rounded to significant digits (the dataset's own precision is Python's str(float))
    assert canonical(0.1 + 0.2) != canonical("0.3") and canonical(0.1 + 0.2) == canonical("0.30000000000000004")
    assert canonical(73.12345670000002) != canonical("73.1234567")
    assert canonical(73.12345670000001) == canonical("73.1234567")  # one double: Python reads both as 73.1234567
    assert canonical("1.9000000000000004") == canonical(1.9000000000000004) != canonical(1.9)
    assert canonical(1234567891) != canonical("1234567890") and canonical("1234567891") == canonical(1234567891.0)
    assert canonical("73.12") != canonical("73.1234567")  # rounding is not forgiven in SQL answers
    assert canonical("12345678901234567891") != canonical("12345678901234567890")  # ints exact at any size
    assert parse_number(True) is None and parse_number("12 mg") is None and parse_number("inf") is None


def test_booleans_none_and_strings():
    assert canonical(True) == canonical("true") == canonical("1") == 1.0
    assert canonical(False) == canonical("FALSE") == canonical(0)
    assert canonical(None) is canonical("None") is canonical(" null ") is canonical(float("nan")) is None
    assert canonical("  PO/NG ") == canonical("po/ng") and canonical("po") != canonical("po/ng")
    assert canonical("po   ng") == canonical("po ng")


def test_dates_and_literals():
    assert canonical("2105-03-01 10:00:00") == canonical("2105-03-01T10:00:00")
    assert canonical("2105-03-01") != canonical("2105-03-01 00:00:00")
    assert parse_date("03/01/2105").isoformat() == "2105-03-01"
    assert parse_date("02/30/2020") is None
    assert parse_literal("['a', 'b']") == ["a", "b"] and parse_literal("(4, 2)") == (4, 2)
    assert parse_literal("[not python") == "[not python"
    assert to_bool("True") is True and to_bool(0) is False and to_bool("yes") is None and to_bool(2) is None
