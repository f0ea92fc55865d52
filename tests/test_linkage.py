"""Record linkage engine (``vnemis.identity.linkage``): comparable forms, the models' behaviour on
hand-made cases, one-to-one decisions, explanations, chunking, versioned models, and precision
and recall on a generated dataset."""

import json
import math
import unicodedata
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from vnemis.identity.linkage import (
    classify_pairs,
    derive_extract_columns,
    evaluate_duplicates,
    evaluate_links,
    latest_model,
    load_model,
    predict_pairs,
    prepare_extract,
    prepare_records,
    save_metrics,
    train_model,
)
from vnemis.identity.linkage.dataset import load_generated
from vnemis.identity.linkage.model import prior_for, rule_names
from vnemis.registry.generate import GenerateConfig, NoiseConfig, generate

PERSONS = 4000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("linkage") / "data"
    noise = NoiseConfig(typo=0.05, no_diacritics=0.05, nfd=0.05, date_swap=0.05, duplicate=0.03)
    # Two provinces: enough schools in each for pupils enrolled twice.
    config = GenerateConfig(out=out, students=PERSONS, seed=11, noise=noise, provinces=("01", "79"))
    generate(config)
    return out


@pytest.fixture(scope="module")
def dataset(data_dir):
    return load_generated(data_dir)


@pytest.fixture(scope="module")
def link_records(dataset):
    """The generated pupils, the planted second enrolments aside, as records without an ID."""
    ids = dataset.truth.filter(~pl.col("is_copy"))["record_id"].implode()
    return dataset.records.filter(pl.col("record_id").is_in(ids))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def link_model(dataset, link_records, models_dir):
    return train_model("link", link_records, dataset.extract, models_dir=models_dir)


@pytest.fixture(scope="module")
def dedupe_model(dataset, link_model, models_dir):
    return train_model("dedupe", dataset.records, models_dir=models_dir, link_model=link_model)


# --- comparable forms -----------------------------------------------------------------------


def test_names_compare_through_case_spacing_unicode_form_and_diacritics():
    raw = pl.DataFrame(
        {
            "record_id": [1, 2, 3, 4, 5],
            "full_name": [
                "Nguyễn Văn Đức",
                unicodedata.normalize("NFD", "NGUYỄN  VĂN ĐỨC "),
                "nguyen van duc",
                "Lê An",
                "Hoa",
            ],
            "birth_date": [
                date(2015, 3, 14),
                date(2015, 12, 3),
                date(2015, 3, 3),
                None,
                date(2015, 3, 31),
            ],
            "sex": ["M", "m ", "M", "F", "F"],
            "birth_province_code": ["01", "01", None, "79", "79"],
        }
    )
    out = prepare_records(raw)
    assert out["unique_id"].to_list() == [1, 2, 3, 4, 5]
    assert out["name_key"][0] == out["name_key"][1] != out["name_key"][2]
    assert set(out["name_ascii"][:3]) == {"nguyen van duc"}
    assert out["family_ascii"][0] == "nguyen" and out["given_ascii"][0] == "duc"
    assert out["middle_ascii"].to_list()[:5] == ["van", "van", "van", None, None]
    assert out["given_ascii"][4] == "hoa" and out["family_ascii"][4] == "hoa"
    assert out["name_sorted"][0] == "duc nguyen van"
    assert out["sex"][1] == "M"
    # Day and month exchanged only where that is another valid date.
    assert out["birth_date_swapped"].to_list() == [None, date(2015, 3, 12), None, None, None]
    assert out["birth_ym"][0] == 201503 and out["birth_year"][0] == 2015
    # Parents' names are optional in our records.
    assert out["father_ascii"].null_count() == 5


def test_the_old_and_new_place_of_the_tone_mark_give_one_key():
    names = ["Nguyễn Thị Hoà", "Nguyễn Thị Hòa", "Lê Thuỷ", "Lê Thủy", "Lê Hùng", "Lê Hưng"]
    out = prepare_records(
        pl.DataFrame(
            {"record_id": range(6), "full_name": names, "birth_date": [date(2015, 1, 1)] * 6}
        ).with_columns(sex=pl.lit("F"), birth_province_code=pl.lit("01"))
    )
    key = out["name_key"].to_list()
    assert key[0] == key[1] and key[2] == key[3]
    # Hùng and Hưng differ by more than the place of a mark: different names.
    assert key[4] != key[5] and out["name_ascii"][4] == out["name_ascii"][5]


def test_the_extract_gets_its_derived_columns_from_the_raw_ones():
    raw = pl.DataFrame(
        {
            "citizen_id": ["001215000001"],
            "full_name": [unicodedata.normalize("NFD", "Đặng  Thị Thu Hà")],
            "birth_date": [date(2015, 1, 2)],
            "sex": ["F"],
            "birth_province_code": ["01"],
        }
    )
    extract = derive_extract_columns(raw)
    row = extract.row(0, named=True)
    assert row["full_name_ascii"] == "dang thi thu ha"
    assert (row["family_name"], row["given_name"]) == ("Đặng", "Hà")
    assert row["father_name"] is None
    prepared = prepare_extract(extract)
    assert prepared["citizen_id"][0] == "001215000001" and prepared["unique_id"][0] == 0


# --- hand-made cases against a trained model ------------------------------------------------

CITIZENS = [
    # citizen_id, full_name, birth_date, sex, province, father, mother
    ("990000000001", "Khổng Văn Đức", date(2015, 3, 14), "M", "01", "Khổng Văn Hải", "Lò Thị Mai"),
    ("990000000002", "Trần Thị Ngọc Ánh", date(2015, 5, 20), "F", "01", None, None),
    ("990000000003", "Khúc Thị Hoa", date(2015, 4, 9), "F", "01", None, None),
    ("990000000004", "Phí Minh Quang Huy", date(2015, 7, 23), "M", "01", None, None),
    ("990000000005", "Ông Hoàng Nam", date(2015, 6, 20), "M", "01", "Ông Văn Hùng", "Lò Thị Lan"),
    # a look-alike of 5: same name and birth date; another sex, province and parents
    ("990000000006", "Ông Hoàng Nam", date(2015, 6, 20), "F", "79", "Ông Văn Tú", "Đinh Thị Na"),
    ("990000000007", "Văn Thị Hồng Nhung", date(2015, 8, 28), "F", "01", None, None),
    # registry namesakes: two people the record cannot tell apart
    ("990000000008", "Ứng Minh Tâm", date(2015, 10, 25), "M", "01", None, None),
    ("990000000009", "Ứng Minh Tâm", date(2015, 10, 25), "M", "01", None, None),
]
RECORDS = [
    # record_id, full_name, birth_date, sex, province, father, mother
    (900001, "KHONG VAN DUC", date(2015, 3, 14), "M", "01", None, None),  # no diacritics
    (
        900002,
        unicodedata.normalize("NFD", "Trần  Thị Ngọc  Ánh"),
        date(2015, 5, 20),
        "F",
        "01",
        None,
        None,
    ),
    (900003, "Khúc Thị Hoa", date(2015, 9, 4), "F", "01", None, None),  # day and month swapped
    (900004, "Phí Quang Minh Huy", date(2015, 7, 23), "M", "01", None, None),  # middles swapped
    (900005, "Ông Hoàng Nam", date(2015, 6, 20), "M", "01", "Ông Văn Hùng", "Lò Thị Lan"),
    # the look-alike's own details are not those of any record: only 5 may match 900005
    (900006, "Ông Hoàng Nam", date(2015, 6, 20), "M", "48", "Ông Văn Khải", "Vũ Thị Hà"),
    # one citizen, two records of it: nobody decides for the clerk
    (900007, "Văn Thị Hồng Nhung", date(2015, 8, 28), "F", "01", None, None),
    (900008, "Văn Thị Hồng Nhung", date(2015, 8, 28), "F", "01", None, None),
    (900009, "Ứng Minh Tâm", date(2015, 10, 25), "M", "01", None, None),
]
COLUMNS = ["full_name", "birth_date", "sex", "birth_province_code", "father_name", "mother_name"]


@pytest.fixture(scope="module")
def hand_made_run(dataset, link_model):
    citizens = pl.DataFrame(
        [dict(zip(["citizen_id", *COLUMNS], row, strict=True)) for row in CITIZENS],
        schema_overrides={"birth_date": pl.Date},
    )
    records = pl.DataFrame(
        [dict(zip(["record_id", *COLUMNS], row, strict=True)) for row in RECORDS],
        schema_overrides={
            "birth_date": pl.Date,
            "father_name": pl.String,
            "mother_name": pl.String,
        },
    )
    # The hand-made citizens among a realistic registry, so the prior is a real one.
    extract = pl.concat(
        [dataset.extract.drop("person_id"), derive_extract_columns(citizens)],
        how="vertical_relaxed",
    )
    chunks = []
    pairs = predict_pairs(link_model, records, extract, on_chunk=chunks.append)
    decided = classify_pairs(pairs, **link_model.thresholds)
    by_pair = {
        (r["record_id"], r["citizen_id"]): {**r, "explanation": json.loads(r["explanation"])}
        for r in decided.iter_rows(named=True)
    }
    return {"pairs": by_pair, "prior": chunks[0].prior}


@pytest.fixture(scope="module")
def hand_made(hand_made_run):
    """The decided pairs of the hand-made records, by (record_id, citizen_id)."""
    return hand_made_run["pairs"]


def _level(pair: dict, field: str) -> str:
    return next(e["level"] for e in pair["explanation"] if e["field"] == field)


def test_a_name_typed_without_diacritics_in_capitals_still_links(hand_made):
    pair = hand_made[(900001, "990000000001")]
    assert pair["decision"] == "accept"
    assert _level(pair, "Họ tên") == "Khớp, một bên không dấu"
    # The record has no parents' names: neutral, not against.
    assert _level(pair, "Họ tên cha") == "Thiếu ở một bên"


def test_nfd_and_doubled_spaces_are_an_exact_match(hand_made):
    pair = hand_made[(900002, "990000000002")]
    assert pair["decision"] == "accept" and _level(pair, "Họ tên") == "Khớp chính xác"


def test_day_and_month_swapped_still_links(hand_made):
    pair = hand_made[(900003, "990000000003")]
    assert _level(pair, "Ngày sinh") == "Đảo ngày và tháng"
    assert pair["decision"] == "accept"


def test_swapped_middle_names_still_link(hand_made):
    pair = hand_made[(900004, "990000000004")]
    assert _level(pair, "Họ tên") == "Cùng các chữ, khác thứ tự"
    assert pair["decision"] == "accept"


def test_a_look_alike_with_other_sex_province_and_parents_is_not_accepted(hand_made):
    assert hand_made[(900005, "990000000005")]["decision"] == "accept"
    look_alike = hand_made.get((900005, "990000000006"))
    assert look_alike is None or look_alike["decision"] == "reject"
    # A record whose only candidates have another province and other parents: never accepted.
    for (record, _citizen), pair in hand_made.items():
        if record == 900006:
            assert pair["decision"] != "accept"
            assert pair["match_weight"] < hand_made[(900005, "990000000005")]["match_weight"]
    if (900006, "990000000005") in hand_made:
        pair = hand_made[(900006, "990000000005")]
        assert _level(pair, "Họ tên cha") == "Khác" and _level(pair, "Nơi sinh (tỉnh)") == "Khác"


def test_one_to_one_sends_ties_to_review(hand_made):
    # Two records of one citizen: neither is accepted.
    for record in (900007, 900008):
        pair = hand_made[(record, "990000000007")]
        assert (pair["decision"], pair["reason"]) == ("review", "conflict")
    # One record, two identical citizens: neither is accepted.
    for citizen in ("990000000008", "990000000009"):
        pair = hand_made[(900009, citizen)]
        assert (pair["decision"], pair["reason"]) == ("review", "conflict")


def test_every_pair_explains_its_weight_field_by_field(hand_made_run, link_model, dataset):
    fields = ["Họ tên", "Ngày sinh", "Giới tính", "Nơi sinh (tỉnh)", "Họ tên cha", "Họ tên mẹ"]
    # The prior is set for the citizens of the records' birth years.
    cohort = dataset.extract.filter(pl.col("birth_date").dt.year() == 2015)
    n_extract = len(cohort) + len(CITIZENS)
    prior = prior_for("link", link_model.match_rate, n_records=len(RECORDS), n_extract=n_extract)
    assert hand_made_run["prior"] == pytest.approx(prior)
    for pair in hand_made_run["pairs"].values():
        assert [e["field"] for e in pair["explanation"]] == fields
        assert all(e["level"] for e in pair["explanation"])
        total = sum(e["weight"] for e in pair["explanation"]) + math.log2(prior / (1 - prior))
        assert total == pytest.approx(pair["match_weight"], abs=0.02)
        assert 0 <= pair["match_key"] < len(rule_names())


# --- decisions on hand-made pairs -----------------------------------------------------------


def _pairs(rows):
    return pl.DataFrame(
        rows, schema=["record_id", "citizen_id", "match_probability", "match_weight"], orient="row"
    )


def test_the_best_pair_wins_only_by_a_margin_and_supersedes_the_others():
    pairs = _pairs(
        [
            (1, "A", 0.999, 20.0),  # best of record 1 and of A, far ahead: accepted
            (1, "B", 0.6, 8.0),  # record 1 is settled: rejected, not reviewed
            (1, "F", 0.97, 11.0),  # ... but a strong runner-up is still shown to a clerk
            (2, "B", 0.98, 15.0),  # best of both, B's other pair is far behind
            (3, "C", 0.99, 16.0),  # C: two records within the margin
            (4, "C", 0.99, 15.0),
            (5, "D", 0.5, 5.0),  # between the thresholds
            (6, "E", 0.1, 1.0),  # below
        ]
    )
    out = classify_pairs(pairs, upper=0.95, lower=0.3, margin=3.0)
    got = {
        (r["record_id"], r["citizen_id"]): (r["decision"], r["reason"])
        for r in out.iter_rows(named=True)
    }
    assert got == {
        (1, "A"): ("accept", "auto"),
        (1, "B"): ("reject", "superseded"),
        (1, "F"): ("review", "conflict"),
        (2, "B"): ("accept", "auto"),
        (3, "C"): ("review", "conflict"),
        (4, "C"): ("review", "conflict"),
        (5, "D"): ("review", "uncertain"),
        (6, "E"): ("reject", "low"),
    }
    accepted = out.filter(pl.col("decision") == "accept")
    assert accepted["record_id"].is_unique().all() and accepted["citizen_id"].is_unique().all()
    with pytest.raises(ValueError, match="Thresholds"):
        classify_pairs(pairs, upper=0.3, lower=0.9)


def test_duplicate_pairs_are_decided_on_their_probability_alone():
    pairs = pl.DataFrame(
        {
            "record_id_l": [1, 1, 2],
            "record_id_r": [2, 3, 3],
            "match_probability": [0.995, 0.5, 0.01],
            "match_weight": [9.0, 0.0, -7.0],
        }
    )
    out = classify_pairs(pairs, upper=0.99, lower=0.3)
    assert out["decision"].to_list() == ["accept", "review", "reject"]


# --- the generated dataset ------------------------------------------------------------------


def test_links_on_generated_noisy_data_meet_the_floors(dataset, link_records, link_model):
    pairs = predict_pairs(link_model, link_records, dataset.extract)
    decided = classify_pairs(pairs, **link_model.thresholds)
    truth = dataset.truth.filter(pl.col("record_id").is_in(link_records["record_id"].implode()))
    figures = evaluate_links(decided, truth)
    assert figures["precision"] >= 0.995
    assert figures["recall"] >= 0.97
    assert figures["candidate_recall"] >= 0.995
    assert figures["review_with_true_pair"] >= 0.9
    for kind in ("typo", "no_diacritics", "nfd", "date_swap"):
        assert figures["recall_by_noise"][kind]["recall"] >= 0.9, kind


def test_chunked_prediction_gives_the_same_pairs(dataset, link_records, link_model):
    # Three birth years, each larger than a chunk: grouped by year, then split by Splink.
    records = link_records.filter(pl.col("birth_date").dt.year().is_between(2012, 2014))
    whole = predict_pairs(link_model, records, dataset.extract)
    seen = []
    chunked = predict_pairs(
        link_model, records, dataset.extract, chunk_records=150, on_chunk=seen.append
    )
    assert len(seen) == 3 and all(s.records > 150 for s in seen)
    assert sum(s.records for s in seen) == len(records)
    assert [s.chunk for s in seen] == [1, 2, 3] and seen[0].chunks == 3
    assert sum(sum(s.comparisons.values()) for s in seen) >= len(whole)
    key = ["record_id", "citizen_id"]
    a = whole.select(*key, "match_probability").sort(key)
    b = chunked.select(*key, "match_probability").sort(key)
    assert len(a) > 0.9 * len(records) and a.equals(b)


def test_dedupe_finds_the_planted_duplicates(dataset, dedupe_model):
    pairs = predict_pairs(dedupe_model, dataset.records)
    assert (pairs["record_id_l"] < pairs["record_id_r"]).all()
    decided = classify_pairs(pairs, **dedupe_model.thresholds)
    figures = evaluate_duplicates(decided, dataset.truth)
    assert figures["true_pairs"] > 50
    assert figures["candidate_recall"] >= 0.95
    assert figures["precision"] >= 0.95
    found = figures["accepted_correct"] + figures["review_true"]
    assert found >= 0.9 * figures["true_pairs"]
    assert dedupe_model.metadata["m_borrowed_from"] == "link-v1"


# --- saved models ---------------------------------------------------------------------------


def test_models_are_versioned_reloadable_and_deterministic(
    link_model, dataset, link_records, models_dir
):
    assert link_model.path.name == "link-v1.json" and link_model.name == "link-v1"
    assert link_model.metadata_path.name == "link-v1.meta.json"
    meta = link_model.metadata
    assert meta["version"] == 1 and meta["sample_records"] == len(link_records)
    # About one match per record; on a few thousand records the estimate is coarse.
    assert 0.7 < meta["match_rate"] < 1.5
    assert meta["thresholds"] == {"upper": 0.95, "lower": 0.3}

    again = train_model("link", link_records, dataset.extract, models_dir=models_dir)
    assert again.version == 2 and again.path.name == "link-v2.json"
    assert again.settings == link_model.settings  # same data, same seed: same model
    assert latest_model(models_dir, "link").version == 2
    assert latest_model(models_dir / "nowhere", "link") is None

    loaded = load_model(link_model.path)
    assert loaded.settings == link_model.settings and loaded.version == 1
    assert loaded.kind == "link" and loaded.thresholds == link_model.thresholds
    updated = save_metrics(loaded, {"precision": 1.0})
    assert load_model(link_model.path).metadata["metrics"] == {"precision": 1.0}
    assert updated.metadata["metrics"]["precision"] == 1.0


def test_bad_requests_give_clear_errors(dataset, link_records, models_dir):
    with pytest.raises(ValueError, match="Unknown model kind"):
        train_model("merge", link_records, models_dir=models_dir)
    with pytest.raises(ValueError, match="extract"):
        train_model("link", link_records, models_dir=models_dir)
    with pytest.raises(ValueError, match="link_model"):
        train_model("dedupe", link_records, models_dir=models_dir)


def test_an_extract_can_be_made_from_the_ground_truth(data_dir):
    # For datasets from before the generator wrote the registry's citizens file.
    made = load_generated(data_dir, source="ground_truth")
    assert made.source == "ground_truth"
    persons = made.truth["person_id"].n_unique()
    assert len(made.extract) == pytest.approx(2 * persons, rel=0.01)
    assert made.truth["true_citizen_id"].null_count() == 0
    assert made.extract["citizen_id"].is_unique().all()
