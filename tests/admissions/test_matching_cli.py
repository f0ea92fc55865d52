"""``vnemis admissions match`` on files: outputs, and every kind of malformed input refused
with file, line and column, in Vietnamese and English, exit status 2 and nothing written."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]
PROGRAMMES = "programme_code,quota,ties\nA,2,\nB,1,none\nC,0,\n"
WISHES = (
    "candidate_id,rank,programme_code,score\n"
    "001,1,A,25.5\n002,1,A,25.50\n003,1,A,26\n003,2,B,20\n"
    "002,2,B,24.25\n004,1,B,24.25\n004,2,C,30\n005,1,B,24.25\n"
)


def files(tmp_path, programmes=PROGRAMMES, wishes=WISHES):
    p, w = tmp_path / "P.csv", tmp_path / "W.csv"
    for path, content in ((p, programmes), (w, wishes)):
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p, w


def run(tmp_path, *extra, programmes=PROGRAMMES, wishes=WISHES):
    p, w = files(tmp_path, programmes, wishes)
    out = tmp_path / "out.csv"
    call_command(
        "admissions", "match", "--programmes", str(p), "--wishes", str(w), "--out", str(out),
        "--reasons", str(tmp_path / "reasons.csv"), *extra, stdout=io.StringIO(),
    )  # fmt: skip
    return out


def test_placements_cutoffs_and_reasons(tmp_path):
    out = run(tmp_path)
    assert out.read_text() == ("candidate_id,programme_code\n001,A\n002,A\n003,A\n004,\n005,\n")
    assert (tmp_path / "out.cutoffs.csv").read_text() == (
        "programme_code,quota,ties,admitted,cutoff_score,cutoff_rank\n"
        "A,2,all,3,25.50,1\nB,1,none,0,,\nC,0,all,0,,\n"
    )
    assert (tmp_path / "reasons.csv").read_text() == (
        "candidate_id,rank,programme_code,score,reason,cutoff_score,cutoff_rank\n"
        "004,1,B,24.25,tied_at_boundary,,\n004,2,C,30.00,no_places,,\n"
        "005,1,B,24.25,tied_at_boundary,,\n"
    )


def test_ties_option_is_the_default_the_file_overrides(tmp_path):
    # A takes the default `none`: 001 and 002 tie at its boundary and are both refused;
    # B says `all`: 004 and 005 tie for its one place and both get in.
    out = run(
        tmp_path, "--ties", "none", programmes="programme_code,quota,ties\nA,2,\nB,1,all\nC,0,\n"
    )
    assert out.read_text().splitlines()[1:] == ["001,", "002,", "003,A", "004,B", "005,B"]


def test_row_order_and_a_utf8_bom_do_not_change_the_output(tmp_path):
    first = run(tmp_path).read_text()
    header, *rows = WISHES.strip().split("\n")
    shuffled = "\ufeff" + "\n".join([header, *reversed(rows)]) + "\n"
    (tmp_path / "out.csv").unlink()
    assert run(tmp_path, wishes=shuffled).read_text() == first


def test_the_console_script_exits_2_on_refused_input(tmp_path):
    p, w = files(tmp_path, wishes=WISHES + "006,1,Z,20\n")
    done = subprocess.run(
        [str(ROOT / ".venv/bin/vnemis"), "admissions", "match", "--programmes", str(p),
         "--wishes", str(w), "--out", str(tmp_path / "out.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "W.csv, dòng 10, cột 'programme_code'" in done.stderr
    assert "line 10, column 'programme_code'" in done.stderr
    assert not list(tmp_path.glob("out*"))


def test_the_console_script_writes_the_files(tmp_path):
    p, w = files(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "vnemis.cli", "admissions", "match", "--programmes", str(p),
         "--wishes", str(w), "--out", str(tmp_path / "out.csv")],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "placed 3 of 5 candidates" in done.stdout
    assert (tmp_path / "out.cutoffs.csv").exists()


W_HEAD = "candidate_id,rank,programme_code,score\n"
P_OK = "programme_code,quota\nA,2\nB,1\n"
MALFORMED = [
    # (case, programmes, wishes, file, line, column, English fragment)
    (
        "missing column",
        P_OK,
        "candidate_id,rank,score\n1,1,20\n",
        "W.csv",
        1,
        "programme_code",
        "missing column",
    ),
    (
        "missing quota column",
        "programme_code\nA\n",
        W_HEAD + "1,1,A,20\n",
        "P.csv",
        1,
        "quota",
        "missing column",
    ),
    (
        "non-numeric quota",
        "programme_code,quota\nA,two\n",
        W_HEAD + "1,1,A,20\n",
        "P.csv",
        2,
        "quota",
        "whole number",
    ),
    (
        "negative quota",
        "programme_code,quota\nA,2\nB,-1\n",
        W_HEAD + "1,1,A,20\n",
        "P.csv",
        3,
        "quota",
        "not negative",
    ),
    (
        "decimal quota",
        "programme_code,quota\nA,2.5\n",
        W_HEAD + "1,1,A,20\n",
        "P.csv",
        2,
        "quota",
        "whole number",
    ),
    (
        "duplicate programme",
        "programme_code,quota\nA,2\nB,1\nA,3\n",
        W_HEAD + "1,1,A,20\n",
        "P.csv",
        4,
        "programme_code",
        "same as line 2",
    ),
    (
        "bad tie rule",
        "programme_code,quota,ties\nA,2,some\n",
        W_HEAD + "1,1,A,20\n",
        "P.csv",
        2,
        "ties",
        "'all' or 'none'",
    ),
    (
        "non-numeric score",
        P_OK,
        W_HEAD + "1,1,A,20\n2,1,A,abc\n",
        "W.csv",
        3,
        "score",
        "decimal number",
    ),
    ("negative score", P_OK, W_HEAD + "1,1,A,-2\n", "W.csv", 2, "score", "not be negative"),
    ("decimal comma", P_OK, W_HEAD + '1,1,A,"25,5"\n', "W.csv", 2, "score", "decimal point"),
    (
        "three decimals",
        P_OK,
        W_HEAD + "1,1,A,25.125\n",
        "W.csv",
        2,
        "score",
        "more than 2 decimal places",
    ),
    ("score too large", P_OK, W_HEAD + "1,1,A,2000000\n", "W.csv", 2, "score", "between 0 and"),
    (
        "non-numeric rank",
        P_OK,
        W_HEAD + "1,first,A,20\n",
        "W.csv",
        2,
        "rank",
        "positive whole number",
    ),
    (
        "rank zero",
        P_OK,
        W_HEAD + "1,1,A,20\n1,0,B,20\n",
        "W.csv",
        3,
        "rank",
        "positive whole number",
    ),
    ("decimal rank", P_OK, W_HEAD + "1,1.5,A,20\n", "W.csv", 2, "rank", "positive whole number"),
    (
        "duplicate rank",
        P_OK,
        W_HEAD + "1,1,A,20\n2,1,A,20\n1,1,B,20\n",
        "W.csv",
        4,
        "rank",
        "same as line 2",
    ),
    (
        "duplicate programme wish",
        P_OK,
        W_HEAD + "1,1,A,20\n1,2,A,21\n",
        "W.csv",
        3,
        "programme_code",
        "same programme",
    ),
    (
        "unknown programme",
        P_OK,
        W_HEAD + "1,1,A,20\n1,2,Z,20\n",
        "W.csv",
        3,
        "programme_code",
        "not in the programmes file",
    ),
    (
        "missing value",
        P_OK,
        W_HEAD + "1,1,A,20\n,2,B,20\n",
        "W.csv",
        3,
        "candidate_id",
        "value is missing",
    ),
    ("short line", P_OK, W_HEAD + "1,1,A,20\n2,1,A\n", "W.csv", 3, "score", "value is missing"),
    ("long line", P_OK, W_HEAD + "1,1,A,20\n2,1,A,20,9\n", "W.csv", 3, None, "fields"),
    ("empty wishes", P_OK, "", "W.csv", None, None, "empty"),
    ("header only", P_OK, W_HEAD, "W.csv", None, None, "empty"),
    ("empty programmes", "", W_HEAD + "1,1,A,20\n", "P.csv", None, None, "empty"),
    (
        "wrong encoding",
        P_OK,
        W_HEAD.encode() + "1,1,A,20\n2,1,Bé,20\n".encode("cp1258"),
        "W.csv",
        3,
        None,
        "not UTF-8",
    ),
    ("utf-16 with BOM", P_OK, (W_HEAD + "1,1,A,20\n").encode("utf-16"), "W.csv", 1, None, "UTF-16"),
    (
        "duplicate column",
        P_OK,
        "candidate_id,rank,rank,programme_code,score\n1,1,1,A,20\n",
        "W.csv",
        1,
        "rank",
        "appears twice",
    ),
]


@pytest.mark.parametrize(
    ("programmes", "wishes", "file", "line", "column", "english"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_input_is_refused_and_nothing_is_written(
    tmp_path, programmes, wishes, file, line, column, english
):
    (tmp_path / "out.csv").write_text("previous run\n")  # must survive a refused run
    with pytest.raises(CommandError) as refused:
        run(tmp_path, programmes=programmes, wishes=wishes)
    message = str(refused.value)
    assert refused.value.returncode == 2
    vi, en = message.split(" / ", 1)
    assert f"tệp {tmp_path / file}" in vi and f"file {tmp_path / file}" in en
    if line is not None:
        assert f"dòng {line}" in vi and f"line {line}" in en
    if column is not None:
        assert f"cột '{column}'" in vi and f"column '{column}'" in en
    assert english in en
    assert (tmp_path / "out.csv").read_text() == "previous run\n"
    assert not (tmp_path / "out.cutoffs.csv").exists() and not (tmp_path / "reasons.csv").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_output_that_is_an_input_is_refused(tmp_path):
    p, w = files(tmp_path)
    with pytest.raises(CommandError) as refused:
        call_command(
            "admissions", "match", "--programmes", str(p), "--wishes", str(w), "--out", str(w)
        )
    assert refused.value.returncode == 2 and "is an input" in str(refused.value)
    assert w.read_text() == WISHES


def test_a_missing_output_directory_is_refused(tmp_path):
    p, w = files(tmp_path)
    with pytest.raises(CommandError) as refused:
        call_command(
            "admissions", "match", "--programmes", str(p), "--wishes", str(w),
            "--out", str(tmp_path / "nowhere" / "out.csv"),
        )  # fmt: skip
    assert refused.value.returncode == 2


def test_a_missing_input_file_is_refused(tmp_path):
    p, _ = files(tmp_path)
    with pytest.raises(CommandError) as refused:
        call_command(
            "admissions", "match", "--programmes", str(p), "--wishes", str(tmp_path / "none.csv"),
            "--out", str(tmp_path / "out.csv"),
        )  # fmt: skip
    assert refused.value.returncode == 2 and "cannot open" in str(refused.value)
