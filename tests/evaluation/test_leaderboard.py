"""Leaderboard tables, grouping, missing cells, errors and byte-for-byte regeneration."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.evaluation.leaderboard import (PAPER_OUT_OF_DISTRIBUTION, load_results, main, table_rows, to_csv,
                                            to_markdown, write_leaderboard)

REPO = Path(__file__).resolve().parents[2]

BASE = {"label": "base", "success_rate": {"biostat": 0.4, "ehrcon": 0.5, "medcalc": 0.25, "ehrshot": 0.1},
        "n": {"biostat": 16, "ehrcon": 10, "medcalc": 8, "ehrshot": 10}, "overall": 0.3, "model": "x"}
TUNED = {"label": "tuned", "success_rate": {"biostat": 0.5, "medcalc": 0.125, "ehrcon": 0.6},
         "n": {"biostat": 16, "medcalc": 8, "ehrcon": 10}}


def test_table_from_two_results():
    header, rows = table_rows([BASE, TUNED])
    assert header == ["model", "ID: biostat", "ID: medcalc", "ID avg", "OOD: ehrcon", "OOD: ehrshot", "OOD avg",
                      "avg", "tasks"]
    assert rows[0] == ["base", "40.00", "25.00", "32.50", "50.00", "10.00", "30.00", "31.25", "44"]
    # tuned lacks ehrshot: "–" there, its OOD average is over ehrcon alone, "avg" over its 3 datasets
    assert rows[1] == ["tuned", "50.00", "12.50", "31.25", "60.00", "–", "60.00", "40.83", "34"]


def test_ood_grouping_is_overridable_and_empty_groups_are_omitted():
    header, rows = table_rows([BASE], out_of_distribution=())
    assert header == ["model", "ID: biostat", "ID: ehrcon", "ID: ehrshot", "ID: medcalc", "ID avg", "avg", "tasks"]
    assert rows[0][-3:] == ["31.25", "31.25", "44"]
    header, _ = table_rows([BASE], out_of_distribution=("biostat", "medcalc", "ehrcon", "ehrshot"))
    assert header == ["model", "OOD: biostat", "OOD: ehrcon", "OOD: ehrshot", "OOD: medcalc", "OOD avg", "avg", "tasks"]
    assert "ehr_sql" not in PAPER_OUT_OF_DISTRIBUTION and "ehrcon" in PAPER_OUT_OF_DISTRIBUTION


def test_tasks_column_says_what_the_audit_left_out():
    audited = dict(TUNED, coverage={"tasks": 34, "loaded": 40, "excluded": {"ungradable": 5, "label_disputed": 1},
                                    "unaudited": 0})
    _, rows = table_rows([audited, dict(TUNED, coverage={"loaded": 34, "excluded": {}})])
    assert rows[0][-1] == "34 of 40 (audit excluded 6: label_disputed 1, ungradable 5)"
    assert rows[1][-1] == "34"


def test_model_without_any_dataset_of_a_group():
    only_id = {"label": "id-only", "success_rate": {"biostat": 1.0}, "n": {"biostat": 4}}
    _, rows = table_rows([BASE, only_id])
    assert rows[1] == ["id-only", "100.00", "–", "100.00", "–", "–", "–", "100.00", "4"]


def test_markdown_and_csv():
    md = to_markdown([BASE, TUNED])
    lines = md.splitlines()
    assert lines[2] == ("| model | ID: biostat | ID: medcalc | ID avg | OOD: ehrcon | OOD: ehrshot | OOD avg | avg "
                        "| tasks |")
    assert lines[3] == "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[5] == "| tuned | 50.00 | 12.50 | 31.25 | 60.00 | – | 60.00 | 40.83 | 34 |"
    assert md.endswith("\n")
    assert to_markdown([dict(TUNED, label="a|b")]).splitlines()[4].startswith("| a\\|b |")
    csv_text = to_csv([BASE, TUNED])
    assert csv_text.split("\n") == [
        "model,ID: biostat,ID: medcalc,ID avg,OOD: ehrcon,OOD: ehrshot,OOD avg,avg,tasks",
        "base,40.00,25.00,32.50,50.00,10.00,30.00,31.25,44",
        "tuned,50.00,12.50,31.25,60.00,–,60.00,40.83,34",
        "",
    ]
    assert "\r" not in csv_text


def test_result_errors():
    with pytest.raises(ValueError, match=r"results\[1\]: missing key 'n'"):
        table_rows([BASE, {"label": "x", "success_rate": {"biostat": 0.5}}])
    with pytest.raises(ValueError, match=r"success_rate\['biostat'\] must be a number in \[0, 1\]"):
        table_rows([{"label": "x", "success_rate": {"biostat": 37.5}, "n": {"biostat": 16}}])
    with pytest.raises(ValueError, match=r"missing key 'n'\['ehrcon'\]"):
        table_rows([{"label": "x", "success_rate": {"ehrcon": 0.5}, "n": {}}])
    with pytest.raises(ValueError, match=r"n\['ehrcon'\] must be a positive integer"):
        table_rows([{"label": "x", "success_rate": {"ehrcon": 0.5}, "n": {"ehrcon": 0}}])
    with pytest.raises(ValueError, match="key 'label' must be a non-empty string"):
        table_rows([dict(TUNED, label=3)])
    with pytest.raises(ValueError, match="no results"):
        table_rows([])


def test_load_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "results.json")):
        load_results([tmp_path])
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"label": "x", "n": {}}))
    with pytest.raises(ValueError, match=rf"{broken}: missing key 'success_rate'"):
        load_results([broken])
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_results([broken])


def _write_inputs(root: Path) -> list[str]:
    (root / "base").mkdir()
    (root / "base" / "results.json").write_text(json.dumps(BASE, indent=2))
    tuned = root / "tuned.json"
    tuned.write_text(json.dumps(TUNED))
    return [str(root / "base"), str(tuned)]


def test_regeneration_is_byte_for_byte(tmp_path, capsys):
    inputs = _write_inputs(tmp_path)
    assert main([*inputs, "--out", str(tmp_path / "one")]) == 0
    assert main([*inputs, "--out", str(tmp_path / "two")]) == 0
    for name in ("leaderboard.md", "leaderboard.csv"):
        first, second = (tmp_path / "one" / name).read_bytes(), (tmp_path / "two" / name).read_bytes()
        assert first == second and len(first) > 100
    assert (tmp_path / "one" / "leaderboard.csv").read_text(encoding="utf-8") == to_csv([BASE, TUNED])
    assert (tmp_path / "one" / "leaderboard.md").read_text(encoding="utf-8") == to_markdown([BASE, TUNED])
    done = subprocess.run([sys.executable, "-m", "copilot.evaluation.leaderboard", *inputs, "--out",
                           str(tmp_path / "three")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("leaderboard.md", "leaderboard.csv"):
        assert (tmp_path / "three" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_main_ood_option(tmp_path, capsys):
    inputs = _write_inputs(tmp_path)
    main([*inputs, "--out", str(tmp_path / "out"), "--ood", "biostat, medcalc"])
    header = (tmp_path / "out" / "leaderboard.csv").read_text(encoding="utf-8").split("\n")[0]
    assert header == "model,ID: ehrcon,ID: ehrshot,ID avg,OOD: biostat,OOD: medcalc,OOD avg,avg,tasks"
    md_path, csv_path = write_leaderboard([BASE], tmp_path / "direct", out_of_distribution=[])
    assert md_path.name == "leaderboard.md" and csv_path.read_text(encoding="utf-8").startswith("model,ID: biostat")
