"""UIS indicators from aggregate CSV files, each against a small case computed by hand.

Levels: a two-grade primary (entry age 6, grades 1–2) and a one-grade lower secondary (grade 3),
in national numbering. Years 2020 and 2021 (the flow rates of 2020 read both).
"""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

FILES = {
    "levels": "level,entry_age,grades\nprimary,6,2\nlower_secondary,8,1\n",
    "enrolment": """year,level,grade,age,sex,count
2020,primary,1,6,F,50
2020,primary,1,6,M,50
2020,primary,1,7,M,10
2020,primary,2,7,F,40
2020,primary,2,7,M,40
2020,primary,2,8,M,10
2020,lower_secondary,3,8,F,30
2020,lower_secondary,3,8,M,30
2021,primary,1,6,F,45
2021,primary,1,6,M,55
2021,primary,1,7,M,5
2021,primary,2,7,F,42
2021,primary,2,7,M,44
2021,primary,2,8,M,12
2021,lower_secondary,3,8,F,35
2021,lower_secondary,3,8,M,35
2021,lower_secondary,3,9,M,5
""",
    "repeaters": """year,level,grade,sex,count
2020,primary,1,F,1
2020,primary,1,M,4
2020,primary,2,F,0
2020,primary,2,M,2
2021,primary,1,F,2
2021,primary,1,M,5
2021,primary,2,F,1
2021,primary,2,M,3
2021,lower_secondary,3,F,0
2021,lower_secondary,3,M,5
""",
    "new_entrants": """year,level,grade,age,sex,count
2020,primary,1,6,F,49
2020,primary,1,6,M,46
2020,primary,1,7,M,6
""",
    "graduates": """year,level,sex,count
2020,primary,F,38
2020,primary,M,45
2020,lower_secondary,F,28
2020,lower_secondary,M,30
""",
    "population": """year,age,sex,count
2020,6,F,52
2020,6,M,55
2020,7,F,45
2020,7,M,48
2020,8,F,33
2020,8,M,34
""",
    "teachers": "year,level,sex,count\n2020,primary,F,8\n2020,primary,M,2\n",
}


@pytest.fixture
def aggregates(tmp_path) -> Path:
    for name, text in FILES.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def compute(directory, indicator, *extra) -> dict:
    out = StringIO()
    call_command(
        "stats", "compute", "--indicator", indicator, "--aggregates", str(directory),
        "--year", "2020", *extra, stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def approx(x):
    return pytest.approx(x, rel=1e-9)


def test_enrolment_ratios(aggregates):
    ger = compute(aggregates, "GER", "--level", "primary")
    assert ger["indicator"] == "GER" and ger["year"] == 2020
    assert ger["value"] == approx(100.0)  # 200 pupils / 200 children aged 6–7
    assert ger["by_sex"] == {"F": approx(100 * 90 / 97), "M": approx(100 * 110 / 103)}
    assert compute(aggregates, "NER", "--level", "primary")["value"] == approx(95.0)
    assert compute(aggregates, "ANER", "--level", "primary")["value"] == approx(95.0)
    assert compute(aggregates, "OUT_OF_SCHOOL_RATE", "--level", "primary")["value"] == approx(5.0)
    # Lower secondary: 60 pupils aged 8 of 67 children aged 8.
    assert compute(aggregates, "NER", "--level", "lower_secondary")["value"] == approx(6000 / 67)


def test_level_defaults_to_the_first_level(aggregates):
    assert compute(aggregates, "GER")["level"] == "primary"


def test_intake_teachers_and_repeaters(aggregates):
    assert compute(aggregates, "GIR", "--level", "primary")["value"] == approx(100 * 101 / 107)
    ptr = compute(aggregates, "PTR", "--level", "primary")
    assert ptr["value"] == approx(20.0) and "by_sex" not in ptr
    pct = compute(aggregates, "REPEATERS_PCT", "--level", "primary")
    assert pct["value"] == approx(3.5)
    assert pct["by_grade"] == {"1": approx(100 * 5 / 110), "2": approx(100 * 2 / 90)}
    assert pct["by_sex"] == {"F": approx(100 * 1 / 90), "M": approx(100 * 6 / 110)}


def test_flow_rates_by_the_reconstructed_cohort(aggregates):
    promotion = compute(aggregates, "PROMOTION_RATE", "--level", "primary")
    # Grade 1: (98 in grade 2 next year − 4 repeating it) / 110; grade 2: 83 graduates / 90.
    assert promotion["by_grade"] == {"1": approx(100 * 94 / 110), "2": approx(100 * 83 / 90)}
    assert promotion["value"] == approx(100 * 177 / 200)
    repetition = compute(aggregates, "REPETITION_RATE", "--level", "primary")
    assert repetition["by_grade"] == {"1": approx(100 * 7 / 110), "2": approx(100 * 4 / 90)}
    assert repetition["value"] == approx(5.5)
    dropout = compute(aggregates, "DROPOUT_RATE", "--level", "primary")
    assert dropout["value"] == approx(6.0)
    assert dropout["by_grade"]["1"] == approx(100 * (110 - 94 - 7) / 110)
    # Girls: grade 1 → 42 − 1 promoted, 2 repeat, of 50; grade 2 → 38 graduate, 1 repeats, of 40.
    assert promotion["by_sex"]["F"] == approx(100 * (41 + 38) / 90)


def test_survival_transition_and_completion(aggregates):
    survival = compute(aggregates, "SURVIVAL_RATE", "--level", "primary")
    assert survival["value"] == approx(100 * (94 / 110) / (1 - 7 / 110))
    assert survival["by_grade"] == {"1": approx(100.0), "2": approx(100 * 94 / 103)}
    transition = compute(aggregates, "TRANSITION_RATE", "--level", "primary")
    assert transition["value"] == approx(100 * (75 - 5) / (90 - 4))
    completion = compute(aggregates, "COMPLETION_RATE", "--level", "primary")
    assert completion["value"] == approx(100 * 83 / 93)


def test_gender_parity_index(aggregates):
    gpi = compute(aggregates, "GPI_GER", "--level", "primary")
    assert gpi["value"] == approx((90 / 97) / (110 / 103))
    assert "by_sex" not in gpi
    assert compute(aggregates, "GPI_NER")["value"] == approx((90 / 97) / (100 / 103))


def test_local_grade_numbering_gives_the_same_figures(aggregates):
    for name in ("enrolment", "repeaters"):
        path = aggregates / f"{name}.csv"
        lines = path.read_text().splitlines()
        path.write_text(
            "\n".join(x.replace("lower_secondary,3,", "lower_secondary,1,") for x in lines)
        )
    transition = compute(aggregates, "TRANSITION_RATE", "--level", "primary")
    assert transition["value"] == approx(100 * 70 / 86)


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("population", "year,sex,count\n2020,F,1\n", "population.csv: missing column 'age'"),
        ("population", "year,age,sex,count\n2020,6,X,1\n", "column 'sex' must be F or M (rows 2)"),
        ("population", "year,age,sex,count\n2020,six,F,1\n", "column 'age' must be a whole number"),
        ("population", "year,age,sex,count\n2020,6,F,-3\n", "column 'count' is outside"),
        ("enrolment", "year,level,grade,age,sex,count\n2020,college,1,6,F,1\n", "column 'level'"),
        ("levels", "level,entry_age\nprimary,6\n", "levels.csv: missing column 'grades'"),
        (
            "enrolment",
            "year,level,grade,age,sex,count\n2020,primary,,6,F,1\n",
            "column 'grade' is empty",
        ),
    ],
)
def test_malformed_files_are_named_with_their_column(aggregates, file, text, message):
    (aggregates / f"{file}.csv").write_text(text)
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compute(aggregates, "GER")


def test_missing_file_unknown_code_and_empty_year(aggregates):
    (aggregates / "teachers.csv").unlink()
    with pytest.raises(CommandError, match=r"teachers\.csv is missing"):
        compute(aggregates, "PTR")
    with pytest.raises(CommandError, match="unknown indicator 'XYZ'"):
        compute(aggregates, "XYZ")
    with pytest.raises(CommandError, match="No level follows lower_secondary"):
        compute(aggregates, "TRANSITION_RATE", "--level", "lower_secondary")
    out = StringIO()
    with pytest.raises(CommandError, match="denominator is zero or missing"):
        call_command("stats", "compute", "--indicator", "GER", "--aggregates", str(aggregates),
                     "--year", "1999", stdout=out)  # fmt: skip


def test_flow_rates_need_the_next_year(aggregates):
    out = StringIO()
    with pytest.raises(CommandError, match="need the enrolment of 2022-2023"):
        call_command("stats", "compute", "--indicator", "DROPOUT_RATE", "--aggregates",
                     str(aggregates), "--year", "2021", stdout=out)  # fmt: skip
