"""Registration: candidates from grade-12 enrolments (set-wise, in scope, idempotent), identity
flags, free candidates, subject choice rules, claims with evidence (only the highest counts)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from vnemis.core.models import AuditEntry
from vnemis.exams import actions, actions_claims, rules
from vnemis.exams.models import Candidate, CandidateSubject, Claim, ExamSession
from vnemis.identity.verification import candidate_of, outcomes_save
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Ethnicity

from .conftest import grade12


def _codes(candidate) -> set[str]:
    return set(candidate.subjects.values_list("subject__code", flat=True))


def test_register_from_enrolments_is_set_wise_and_idempotent(exam_session, seniors, pupils):
    # ``pupils`` are in grades 3 and 7: never registered.
    with CaptureQueriesContext(connection) as queries:
        result = actions.candidates_register_school(actor=None, session=exam_session, chunk_size=2)
    assert result.created == 5
    # Chunks of 2 enrolment ids, not one query per pupil: a handful of statements per chunk.
    inserts = [q for q in queries.captured_queries if q["sql"].strip().startswith("INSERT INTO")]
    assert any("SELECT" in q["sql"] and "exams_candidate" in q["sql"] for q in inserts)
    candidates = Candidate.objects.filter(session=exam_session)
    assert candidates.count() == 5
    an = candidates.get(person=seniors["an"])
    assert (an.kind, an.unit.code, an.province_code) == ("school", "01000201", "01")
    assert _codes(an) == {"TOAN", "VAN"}
    assert an.enrolment.school_class.grade == 12
    again = actions.candidates_register_school(actor=None, session=exam_session)
    assert (again.created, again.already) == (0, 5)
    assert CandidateSubject.objects.filter(candidate__session=exam_session).count() == 10


def test_school_registers_only_its_own_pupils(exam_session, seniors, exam_users, high_schools):
    result = actions.candidates_register_school(actor=exam_users["hn2"], session=exam_session)
    assert result.created == 1
    assert list(
        Candidate.objects.filter(session=exam_session).values_list("person", flat=True)
    ) == [seniors["dung"].pk]
    with pytest.raises(PermissionDenied):
        actions.candidates_register_school(
            actor=exam_users["hn2"], session=exam_session, school=high_schools["hn1"]
        )
    assert Candidate.objects.filter(session=exam_session).count() == 1


def test_department_registers_its_province(exam_session, seniors, exam_users):
    result = actions.candidates_register_school(actor=exam_users["so_dn"], session=exam_session)
    assert result.created == 1
    assert Candidate.objects.get(session=exam_session).person == seniors["em"]


def test_registration_window_is_enforced(exam_session, seniors):
    ExamSession.objects.filter(pk=exam_session.pk).update(
        registration_closes_at=timezone.now() - timedelta(minutes=1),
        registration_opens_at=timezone.now() - timedelta(days=5),
    )
    exam_session.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        actions.candidates_register_school(actor=None, session=exam_session)
    assert "Ngoài thời gian đăng ký" in exc.value.messages[0]
    assert not Candidate.objects.exists()


def test_identity_status_is_copied_and_refreshed(exam_session, seniors):
    outcomes_save([candidate_of(seniors["an"], "verified", [])], method="id_check", run_id=None)
    result = actions.candidates_register_school(actor=None, session=exam_session)
    assert result.unverified == 4
    an = Candidate.objects.get(person=seniors["an"])
    assert an.identity_status == "verified"
    outcomes_save([candidate_of(seniors["binh"], "mismatch", ["full_name"])], method="id_check",
                  run_id=None)  # fmt: skip
    assert actions.candidates_identity_refresh(session=exam_session) == 5
    assert Candidate.objects.get(person=seniors["binh"]).identity_status == "mismatch"


def test_free_candidate_with_documents(exam_session, exam_users, high_schools, tree):
    person = registry_actions.person_create(
        actor=None, full_name="Võ Thị Giang", birth_date=date(2005, 9, 9), sex="F",
        ethnicity=Ethnicity.objects.get(code="01"), province_code="01",
    )  # fmt: skip
    docs = [{"code": "transcript", "document_number": "HB-123", "issuer": "THPT Chu Văn An",
             "issued_on": date(2023, 6, 1)}]  # fmt: skip
    candidate = actions.candidate_register_free(
        actor=exam_users["so_hn"], session=exam_session, unit=tree["so_hn"], person=person,
        electives=["su", " dia "], documents=docs,
    )  # fmt: skip
    assert (candidate.kind, candidate.province_code, candidate.identity_status) == (
        "free", "01", "unverified",
    )  # fmt: skip
    assert _codes(candidate) == {"TOAN", "VAN", "SU", "DIA"}
    assert candidate.claims.get().kind == Claim.Kind.DOCUMENT
    with pytest.raises(ValidationError):  # once per session
        actions.candidate_register_free(
            actor=exam_users["so_hn"], session=exam_session, unit=tree["so_hn"], person=person,
            electives=["SU", "DIA"], documents=docs,
        )  # fmt: skip
    # Another Department may not take the dossier in Hà Nội's name.
    with pytest.raises(PermissionDenied):
        actions.candidate_register_free(
            actor=exam_users["so_dn"], session=exam_session, unit=tree["so_hn"], person=person,
            electives=["SU", "DIA"], documents=docs,
        )  # fmt: skip


def test_free_candidate_refused_when_identity_contradicts_registry(exam_session, tree):
    person = registry_actions.person_create(
        actor=None, full_name="Đỗ Văn Hải", birth_date=date(2004, 1, 1), sex="M",
        ethnicity=Ethnicity.objects.get(code="01"), province_code="01",
    )  # fmt: skip
    outcomes_save([candidate_of(person, "not_found", [])], method="id_check", run_id=None)
    with pytest.raises(ValidationError) as exc:
        actions.candidate_register_free(
            actor=None, session=exam_session, unit=tree["so_hn"], person=person,
            electives=["SU", "DIA"],
            documents=[{"code": "transcript", "document_number": "1", "issuer": "x"}],
        )  # fmt: skip
    assert exc.value.code == "identity_mismatch"
    assert not Candidate.objects.exists()


@pytest.mark.parametrize(
    ("electives", "problem"),
    [
        (["LY"], "electives_count"),
        (["LY", "HOA", "SINH"], "electives_count"),
        (["LY", "LY"], "elective_duplicate"),
        (["LY", "XYZ"], "elective_unknown"),
        (["TOAN", "LY"], "elective_compulsory"),
        (["N1", "N3"], "languages_two"),
    ],
)
def test_subject_choice_rules(electives, problem):
    found = dict(rules.elective_problems(electives, required=2))
    assert problem in found
    vi, en = rules.problem_text(problem, **found[problem])
    assert vi and en and vi != en


def test_valid_choices_have_no_problems():
    assert rules.elective_problems(["ly", "N1"]) == []
    assert rules.elective_problems(["CNCN", "CNNN"]) == []


def test_subject_choice_action_validates_and_replaces(registered):
    an = registered["an"]
    with pytest.raises(ValidationError) as exc:
        actions.candidate_subjects_set(actor=None, candidate=an, electives=["N1", "N2"])
    assert "ngoại ngữ" in " ".join(exc.value.messages)
    assert _codes(an) == {"TOAN", "VAN", "LY", "HOA"}  # unchanged after a refusal
    actions.candidate_subjects_set(actor=None, candidate=an, electives=["SINH", "N1"])
    assert _codes(an) == {"TOAN", "VAN", "SINH", "N1"}


def test_other_school_cannot_change_choices(registered, exam_users):
    with pytest.raises(PermissionDenied):
        actions.candidate_subjects_set(
            actor=exam_users["hn2"], candidate=registered["an"], electives=["SU", "DIA"]
        )
    assert _codes(registered["an"]) == {"TOAN", "VAN", "LY", "HOA"}


def _claim(candidate, kind, code, **extra):
    fields = {"document_number": "GCN-1", "issuer": "UBND xã", "issued_on": date(2025, 1, 1)}
    return actions_claims.claim_add(
        actor=None, candidate=candidate, kind=kind, code=code, **(fields | extra)
    )


def test_only_the_highest_priority_and_prize_count(registered):
    an = registered["an"]
    _claim(an, "priority", "ethnic_minority")
    _claim(an, "priority", "martyr_child")
    _claim(an, "incentive", "provincial_3")
    prize = _claim(an, "incentive", "national_consolation")
    an.refresh_from_db()
    assert (an.priority_points, an.incentive_points) == (Decimal("0.50"), Decimal("1.50"))
    actions_claims.claim_withdraw(actor=None, claim=prize)
    an.refresh_from_db()
    assert an.incentive_points == Decimal("1.00")
    assert AuditEntry.objects.filter(object_type="exam_claim").count() == 5


def test_claims_need_evidence_and_known_codes(registered):
    an = registered["an"]
    with pytest.raises(ValidationError) as exc:
        _claim(an, "priority", "martyr_child", document_number="", issuer="")
    assert set(exc.value.message_dict) == {"document_number", "issuer"}
    with pytest.raises(ValidationError):
        _claim(an, "priority", "friend_of_the_minister")
    with pytest.raises(ValidationError):
        _claim(an, "incentive", "olympic_gold")
    with pytest.raises(ValidationError):
        _claim(an, "priority", "martyr_child", issued_on=timezone.localdate() + timedelta(days=1))
    assert not an.claims.exists()


def test_language_exemption_rules(registered):
    an = registered["an"]
    with pytest.raises(ValidationError) as exc:  # LY and HOA: no language chosen
        _claim(an, "exemption", "IELTS", subject_code="N1")
    assert exc.value.code == "exemption_subject"
    actions.candidate_subjects_set(actor=None, candidate=an, electives=["LY", "N1"])
    with pytest.raises(ValidationError) as exc:  # HSK is for Chinese, not English
        _claim(an, "exemption", "HSK", subject_code="N1")
    assert exc.value.code == "exemption_certificate"
    _claim(an, "exemption", "ielts", subject_code="N1")
    assert CandidateSubject.objects.get(candidate=an, subject__code="N1").exempt
    with pytest.raises(ValidationError):  # cannot drop the exempted language silently
        actions.candidate_subjects_set(actor=None, candidate=an, electives=["LY", "HOA"])


def test_evidence_file_is_checked_by_content(registered, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.VAR_DIR = tmp_path
    an = registered["an"]
    fake = SimpleUploadedFile(
        "giay.pdf", b"MZ this is an executable", content_type="application/pdf"
    )
    with pytest.raises(ValidationError) as exc:
        _claim(an, "priority", "martyr_child", upload=fake)
    assert exc.value.code == "evidence_format"
    pdf = SimpleUploadedFile("giay.pdf", b"%PDF-1.4 scan", content_type="application/pdf")
    claim = _claim(an, "priority", "martyr_child", upload=pdf)
    assert claim.file_sha256 and (actions_claims.evidence_dir() / claim.file_path).exists()


def test_registration_writes_are_audited(exam_session, seniors, exam_users):
    actions.candidates_register_school(actor=exam_users["hn1"], session=exam_session)
    entry = AuditEntry.objects.filter(object_type="exam_candidates").get()
    assert entry.actor_id == exam_users["hn1"].pk
    assert entry.detail["created"] == 3


def test_session_settings_are_ministry_only(exam_session, exam_users, school_year):
    with pytest.raises(PermissionDenied):
        actions.session_update(actor=exam_users["so_hn"], session=exam_session, room_capacity=20)
    with pytest.raises(ValidationError):
        actions.session_update(
            actor=exam_users["ministry"], session=exam_session,
            results_publish_at=exam_session.registration_closes_at - timedelta(hours=1),
        )  # fmt: skip
    actions.session_update(actor=exam_users["ministry"], session=exam_session, room_capacity=20)
    exam_session.refresh_from_db()
    assert exam_session.room_capacity == 20


def test_new_pupil_registered_on_second_run(exam_session, seniors, high_schools, school_year):
    actions.candidates_register_school(actor=None, session=exam_session)
    grade12(high_schools["hn1"], school_year, "Bùi Văn Khoa", date(2008, 8, 8), serial=21)
    assert actions.candidates_register_school(actor=None, session=exam_session).created == 1
