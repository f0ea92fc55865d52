"""The admission round over the database: setup, wishes, fees, the run, reruns, publication
and confirmation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from vnemis.admissions.errors import AdmissionError
from vnemis.admissions.matching import Reason
from vnemis.admissions.models import (
    AdmissionRound,
    Cutoff,
    MissedWish,
    Placement,
    Programme,
    Wish,
    WishList,
)
from vnemis.admissions.runs import run_execute, run_publish, run_request
from vnemis.admissions.setup import ProgrammeSpec, programme_save, programmes_import, round_create
from vnemis.admissions.wishes import (
    enrolment_confirm,
    fee_due,
    fee_order_start,
    wish_list_codes,
    wish_move,
    wishes_set,
)
from vnemis.payments.gateway_client import GatewayReport
from vnemis.payments.settlement import order_settle

from .conftest import scores_give

pytestmark = pytest.mark.django_db


def _pay(order, amount=None):
    report = GatewayReport(
        txn_ref=order.txn_ref, amount=amount or order.amount, response_code="00",
        transaction_status="00", transaction_no="14000001", bank_code="NCB",
        pay_date=timezone.now(),
    )  # fmt: skip
    return order_settle(report=report, source="ipn", params={})


def _wishes(round_, candidates, fee_paid=True):
    lists = {
        "an": ["BKA-IT1", "QHI-CN1"],
        "binh": ["BKA-IT1", "BKA-EE1", "QHI-CN1"],
        "chi": ["BKA-IT1", "QHI-CN1"],
        "dung": ["BKA-EE1", "BKA-IT1"],
        "em": ["BKA-EE1"],
    }
    for key, codes in lists.items():
        wishes_set(actor=None, round_=round_, candidate=candidates[key], codes=codes)
        if fee_paid:
            WishList.objects.filter(round=round_, candidate=candidates[key]).update(
                paid_wishes=len(codes)
            )


def _placements(run, candidates):
    by_id = {c.pk: k for k, c in candidates.items()}
    return {
        by_id[p.candidate_id]: p.programme and p.programme.code
        for p in Placement.objects.select_related("programme").filter(run=run)
    }


def _run(round_):
    run = run_request(round_=round_, enqueue=False)
    return run_execute(run.pk)


def test_a_run_places_every_candidate_with_cutoffs_and_reasons(
    admission_round, programmes, candidates
):
    _wishes(admission_round, candidates)
    run = _run(admission_round)
    assert run.status == "done" and run.number == 1
    assert (run.candidates, run.placed) == (5, 4)
    assert _placements(run, candidates) == {
        "an": "BKA-IT1", "binh": "BKA-IT1", "chi": "QHI-CN1", "dung": "BKA-EE1", "em": None,
    }  # fmt: skip
    cut = {
        c.programme.code: (c.score, c.admitted, c.quota)
        for c in Cutoff.objects.select_related("programme").filter(run=run)
    }
    assert cut == {"BKA-IT1": (2400, 2, 2), "BKA-EE1": (2725, 1, 1), "QHI-CN1": (2200, 1, 2)}
    # Chi's first wish was below the threshold: never in the run, so no engine reason.
    assert not MissedWish.objects.filter(run=run, candidate=candidates["chi"]).exists()
    again = _run(admission_round)
    assert again.inputs_digest == run.inputs_digest and again.number == 2
    assert _placements(again, candidates) == _placements(run, candidates)


def test_only_paid_wishes_count(admission_round, programmes, candidates):
    _wishes(admission_round, candidates, fee_paid=False)
    WishList.objects.filter(candidate=candidates["dung"]).update(paid_wishes=1)
    run = _run(admission_round)
    got = _placements(run, candidates)
    assert got["dung"] == "BKA-EE1" and got["an"] is None and run.wishes == 1


def test_a_rerun_after_an_appeal_uses_the_new_score(
    admission_round, programmes, candidates, django_capture_on_commit_callbacks
):
    from vnemis.exams.hooks import exam_scores_changed

    _wishes(admission_round, candidates)
    first = _run(admission_round)
    # Re-marking lifts Binh's physics: EE1 is his second wish, IT1 his first, so he stays, but
    # IT1's cut-off rises (2400 → 2475) and the digest changes.
    scores_give(candidates["binh"], {"LY": "8"})
    with django_capture_on_commit_callbacks(execute=True):
        exam_scores_changed([candidates["binh"].pk])
    admission_round.refresh_from_db()
    assert admission_round.inputs_changed_at is not None
    second = _run(admission_round)
    assert second.inputs_digest != first.inputs_digest
    assert Cutoff.objects.get(run=second, programme__code="BKA-IT1").score == 2475


def test_reasons_for_missed_higher_wishes(admission_round, programmes, candidates):
    _wishes(admission_round, candidates)
    programme_save(actor=None, round_=admission_round, institution=programmes["ee"].institution,
                   spec=ProgrammeSpec(code="BKA-EE1", name="Kỹ thuật điện", quotas={"exam": 0},
                                      combinations=["A00"], threshold=1800, ties="none"))  # fmt: skip
    run = _run(admission_round)
    missed = MissedWish.objects.get(run=run, candidate=candidates["dung"])
    assert (missed.programme.code, missed.rank, missed.reason) == ("BKA-EE1", 1, Reason.NO_PLACES)
    # Dũng now competes for IT1 and wins a place with 27.38; Bình (24.00) is refused.
    got = _placements(run, candidates)
    assert got["dung"] == "BKA-IT1" and got["binh"] == "QHI-CN1"
    assert (
        MissedWish.objects.get(run=run, candidate=candidates["binh"], rank=1).reason
        == Reason.BELOW_CUTOFF
    )


def test_one_run_at_a_time_and_failures_are_recorded(
    admission_round, programmes, candidates, monkeypatch
):
    _wishes(admission_round, candidates)
    run = run_request(round_=admission_round, enqueue=False)
    with pytest.raises(AdmissionError) as refused:
        run_request(round_=admission_round, enqueue=False)
    assert refused.value.code == "run_pending"
    import vnemis.admissions.runs as runs

    monkeypatch.setattr(runs, "match", lambda **kw: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "boom" in run.error
    assert not Placement.objects.filter(run=run).exists()  # nothing half-written


def test_publication_and_confirmation(admission_round, programmes, candidates):
    _wishes(admission_round, candidates)
    run = _run(admission_round)
    with pytest.raises(AdmissionError):
        enrolment_confirm(
            actor=None, round_=admission_round, candidate=candidates["an"]
        )  # not published
    run_publish(run=run)
    admission_round.refresh_from_db()
    confirmation = enrolment_confirm(actor=None, round_=admission_round, candidate=candidates["an"])
    assert confirmation.programme.code == "BKA-IT1"
    assert (
        enrolment_confirm(actor=None, round_=admission_round, candidate=candidates["an"])
        == confirmation
    )
    with pytest.raises(AdmissionError) as refused:
        enrolment_confirm(actor=None, round_=admission_round, candidate=candidates["em"])
    assert refused.value.code == "not_placed"
    second = _run(admission_round)
    with pytest.raises(AdmissionError) as refused:
        run_publish(run=second)
    assert refused.value.code == "confirmations_exist"
    AdmissionRound.objects.filter(pk=admission_round.pk).update(
        confirm_by=timezone.now() - timedelta(seconds=1)
    )
    admission_round.refresh_from_db()
    with pytest.raises(AdmissionError) as refused:
        enrolment_confirm(actor=None, round_=admission_round, candidate=candidates["binh"])
    assert refused.value.code == "confirm_closed"


def test_wish_list_rules(admission_round, programmes, candidates):
    an = candidates["an"]
    for codes, code in ((["BKA-IT1", "bka-it1"], "repeated"), (["BKA-XX9"], "unknown_programme")):
        with pytest.raises(AdmissionError) as refused:
            wishes_set(actor=None, round_=admission_round, candidate=an, codes=codes)
        assert refused.value.code == code
    wishes_set(
        actor=None, round_=admission_round, candidate=an, codes=["BKA-IT1", "BKA-EE1", "QHI-CN1"]
    )
    wish_move(actor=None, round_=admission_round, candidate=an, code="QHI-CN1", step=-1)
    assert wish_list_codes(admission_round, an) == ["BKA-IT1", "QHI-CN1", "BKA-EE1"]
    assert list(
        Wish.objects.filter(candidate=an).order_by("rank").values_list("rank", flat=True)
    ) == [1, 2, 3]
    AdmissionRound.objects.filter(pk=admission_round.pk).update(wishes_close_at=timezone.now())
    admission_round.refresh_from_db()
    with pytest.raises(AdmissionError) as refused:
        wishes_set(actor=None, round_=admission_round, candidate=an, codes=["BKA-IT1"])
    assert refused.value.code == "closed"
    assert wish_list_codes(admission_round, an) == ["BKA-IT1", "QHI-CN1", "BKA-EE1"]  # untouched


def test_the_fee_is_per_wish_and_counts_each_payment_once(
    admission_round, programmes, candidates, django_capture_on_commit_callbacks
):
    an = candidates["an"]
    wishes_set(actor=None, round_=admission_round, candidate=an, codes=["BKA-IT1", "QHI-CN1"])
    assert fee_due(admission_round, an) == (2, 0, 40_000)
    order = fee_order_start(actor=None, round_=admission_round, candidate=an)
    assert order.amount == 40_000 and order.purpose == "admission_wish_fee"
    assert fee_order_start(actor=None, round_=admission_round, candidate=an) == order  # reused
    with django_capture_on_commit_callbacks(execute=True):
        _pay(order)
    with django_capture_on_commit_callbacks(execute=True):
        _pay(order)  # a duplicate notification
    assert fee_due(admission_round, an) == (2, 2, 0)
    with pytest.raises(AdmissionError):
        fee_order_start(actor=None, round_=admission_round, candidate=an)
    # Reordering or swapping asks nothing; a third wish asks for one more fee.
    wishes_set(
        actor=None, round_=admission_round, candidate=an, codes=["QHI-CN1", "BKA-EE1", "BKA-IT1"]
    )
    assert fee_due(admission_round, an) == (3, 2, 20_000)


def test_round_setup_is_checked(exam_session, institutions):
    now = timezone.now()
    with pytest.raises(AdmissionError) as refused:
        round_create(actor=None, year=2026, name="x", wishes_open_at=now, wishes_close_at=now)
    assert refused.value.code == "bad_window"
    with pytest.raises(AdmissionError) as refused:
        round_create(
            actor=None,
            year=2031,
            name="x",
            wishes_open_at=now,
            wishes_close_at=now + timedelta(days=1),
        )
    assert refused.value.code == "no_exam_session"
    round_ = round_create(
        actor=None,
        year=2026,
        name="",
        wishes_open_at=now,
        wishes_close_at=now + timedelta(days=1),
        fee_per_wish=0,
    )
    bad = ProgrammeSpec(code="BKA7480201", name="", quotas={"exam": -1}, combinations=["Z99", "A00", "A00"],
                        weights={"TOAN": 5}, threshold=3100, ties="some")  # fmt: skip
    with pytest.raises(AdmissionError) as refused:
        programme_save(actor=None, round_=round_, institution=institutions["bka"], spec=bad)
    assert refused.value.code == "code_not_institution"
    bad.code = "BKA-7480201"
    with pytest.raises(AdmissionError) as refused:
        programme_save(actor=None, round_=round_, institution=institutions["bka"], spec=bad)
    for part in ("tên ngành", "chỉ tiêu", "Z99", "hệ số TOAN=5", "ngưỡng", "bằng điểm"):
        assert part in refused.value.message_vi
    assert not Programme.objects.exists()


def test_programmes_import_all_or_nothing(admission_round):
    header = "institution_code,institution_name,programme_code,programme_name,combinations,weights,threshold,ties,quota_exam\n"
    good = header + (
        "BKA,Đại học Bách khoa Hà Nội,BKA-IT1,Khoa học máy tính,A00 A01,TOAN=2,24.5,all,300\n"
        'NEU,Đại học Kinh tế Quốc dân,NEU-KT1,Kinh tế,A00;D01,,"20,5",none,150\n'
    )
    assert programmes_import(actor=None, round_=admission_round, text=good) == {
        "programmes": 2,
        "institutions": 2,
    }
    it = Programme.objects.get(code="BKA-IT1")
    assert (it.threshold, it.ties, it.quotas.get().quota) == (2450, "all", 300)
    assert it.combinations.get(combination__code="A00").weights == {"TOAN": 2}
    assert Programme.objects.get(code="NEU-KT1").threshold == 2050
    bad = header + (
        "BKA,Bách khoa,BKA-IT1,Khoa học máy tính,A00,,abc,all,10\n"
        "BKA,Bách khoa,NEU-X,Sai mã,A00,,20,all,10\n"
        "BKA,Bách khoa,BKA-IT1,Trùng,A00,,20,all,x\n"
    )
    from vnemis.admissions.setup import ProgrammesImportError

    with pytest.raises(ProgrammesImportError) as refused:
        programmes_import(actor=None, round_=admission_round, text=bad)
    where = {(p.line, p.column) for p in refused.value.problems}
    assert {(2, "threshold"), (3, "programme_code"), (4, "quota_exam")} <= where
    assert Programme.objects.get(code="BKA-IT1").quotas.get().quota == 300  # nothing written
    with pytest.raises(AdmissionError) as refused:
        programmes_import(actor=None, round_=admission_round, text="code,name\nX,Y\n")
    assert refused.value.code == "missing_columns"


def test_the_round_from_the_command_line(exam_session, candidates, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    now = timezone.localtime()
    call_command("admissions", "round-create", "--year", "2026", "--fee", "0",
                 "--opens", (now - timedelta(hours=1)).isoformat(), "--closes", (now + timedelta(days=1)).isoformat())  # fmt: skip
    with pytest.raises(CommandError) as refused:
        call_command(
            "admissions", "round-create", "--year", "2026", "--opens", "yesterday", "--closes", "x"
        )
    assert "ISO" in str(refused.value)
    path = tmp_path / "nganh.csv"
    path.write_text(
        "institution_code,institution_name,programme_code,programme_name,combinations,quota_exam\n"
        "BKA,Bách khoa,BKA-IT1,Khoa học máy tính,A00,1\n",
        encoding="utf-8",
    )
    call_command("admissions", "programmes-load", "--year", "2026", str(path))
    round_ = AdmissionRound.objects.get()
    wishes_set(actor=None, round_=round_, candidate=candidates["an"], codes=["BKA-IT1"])
    wishes_set(actor=None, round_=round_, candidate=candidates["dung"], codes=["BKA-IT1"])
    call_command("admissions", "run", "--year", "2026", "--note", "thử")
    call_command("admissions", "publish", "--year", "2026", "--run", "1")
    call_command("admissions", "status", "--year", "2026")
    out = capsys.readouterr().out
    assert "placed 1 of 2 candidates" in out and "run 1: done placed 1 *" in out
    with pytest.raises(CommandError) as refused:
        call_command("admissions", "publish", "--year", "2026", "--run", "9")
    assert "no run 9" in str(refused.value)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(CommandError) as refused:
        call_command("admissions", "programmes-load", "--year", "2026", str(bad))
    assert "UTF-8" in str(refused.value)
