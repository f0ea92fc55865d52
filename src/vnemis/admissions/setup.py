"""Admissions setup: the round, institutions, programmes with places, combinations, thresholds.

The Ministry opens a round for a year's exam session and sets the wish window and the fee;
institutions declare their programmes on their page, or the Ministry loads every programme
from one CSV file (``programmes_import``: all rows are checked first, errors name the line
and column, and nothing is written unless the whole file is valid).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.exams.catalogue import SUBJECT_GROUPS
from vnemis.exams.models import ExamSession

from .access import ministry_ensure, programme_manage_ensure
from .catalogue import METHODS
from .errors import AdmissionError
from .models import (
    AdmissionRound,
    Combination,
    Institution,
    Programme,
    ProgrammeCombination,
    ProgrammeQuota,
)

PROGRAMME_CODE = re.compile(r"^[A-Z0-9]{2,10}-[A-Z0-9]{1,9}$")
INSTITUTION_CODE = re.compile(r"^[A-Z0-9]{2,10}$")
MAX_WEIGHT = 3


def round_create(
    *,
    actor,
    year: int,
    name: str,
    wishes_open_at,
    wishes_close_at,
    fee_per_wish: int | None = None,
    confirm_by=None,
) -> AdmissionRound:
    """Open the admission round of a year's exam session."""
    ministry_ensure(actor)
    session = ExamSession.objects.filter(year=year).first()
    if session is None:
        raise AdmissionError(
            "no_exam_session",
            f"Chưa có kỳ thi tốt nghiệp năm {year}: hãy tạo kỳ thi trước.",
            f"There is no {year} graduation exam session: create it first.",
        )
    if AdmissionRound.objects.filter(year=year).exists():
        raise AdmissionError(
            "round_exists",
            f"Đợt xét tuyển năm {year} đã có.",
            f"The {year} admission round already exists.",
        )
    fee = settings.VNEMIS_ADMISSION_FEE_PER_WISH if fee_per_wish is None else fee_per_wish
    _window_check(wishes_open_at, wishes_close_at, confirm_by, fee)
    round_ = AdmissionRound.objects.create(
        year=year,
        exam_session=session,
        name=name.strip() or f"Xét tuyển đại học năm {year}",
        wishes_open_at=wishes_open_at,
        wishes_close_at=wishes_close_at,
        fee_per_wish=fee,
        confirm_by=confirm_by,
    )
    audit_record(actor=actor, action="create", object_type="admission_round", object_id=year)
    return round_


def round_update(*, actor, round_: AdmissionRound, **changes) -> AdmissionRound:
    ministry_ensure(actor)
    for name in ("name", "wishes_open_at", "wishes_close_at", "fee_per_wish", "confirm_by"):
        if name in changes:
            setattr(round_, name, changes[name])
    _window_check(
        round_.wishes_open_at, round_.wishes_close_at, round_.confirm_by, round_.fee_per_wish
    )
    round_.save()
    audit_record(actor=actor, action="update", object_type="admission_round", object_id=round_.year)
    return round_


def _window_check(opens, closes, confirm_by, fee) -> None:
    if opens is None or closes is None or closes <= opens:
        raise AdmissionError(
            "bad_window",
            "Hạn đăng ký nguyện vọng phải sau thời điểm mở đăng ký.",
            "The wish deadline must come after the opening time.",
        )
    if confirm_by is not None and confirm_by <= closes:
        raise AdmissionError(
            "bad_confirm_by",
            "Hạn xác nhận nhập học phải sau hạn đăng ký nguyện vọng.",
            "The confirmation deadline must come after the wish deadline.",
        )
    if not isinstance(fee, int) or fee < 0 or fee > 1_000_000:
        raise AdmissionError(
            "bad_fee",
            "Lệ phí mỗi nguyện vọng là số nguyên từ 0 đến 1.000.000 đồng.",
            "The fee per wish is a whole number from 0 to 1,000,000 VND.",
        )


@dataclass
class ProgrammeSpec:
    """A programme as declared: what ``programme_save`` and the CSV import both write."""

    code: str
    name: str
    quotas: dict[str, int]
    combinations: list[str]
    weights: dict[str, int] = field(default_factory=dict)
    threshold: int = 1500  # hundredths
    ties: str = "all"


def spec_check(spec: ProgrammeSpec, *, known_combinations: set[str]) -> list[tuple[str, str, str]]:
    """Every problem of one declaration as (column, Vietnamese, English); empty when valid."""
    problems = []
    if not PROGRAMME_CODE.match(spec.code):
        problems.append(
            ("programme_code", "mã ngành phải có dạng MÃTRƯỜNG-MÃNGÀNH, ví dụ BKA-7480201",
             "the code must look like INSTITUTION-PROGRAMME, e.g. BKA-7480201")
        )  # fmt: skip
    if not spec.name.strip() or len(spec.name) > 255:
        problems.append(("programme_name", "tên ngành phải có (tối đa 255 ký tự)",
                         "the name is required (at most 255 characters)"))  # fmt: skip
    for method, quota in spec.quotas.items():
        if method not in METHODS:
            problems.append(("quota", f"phương thức {method} không có", f"unknown method {method}"))
        elif not isinstance(quota, int) or not 0 <= quota <= 100_000:
            problems.append((f"quota_{method}", "chỉ tiêu là số nguyên từ 0 đến 100.000",
                             "the quota is a whole number from 0 to 100,000"))  # fmt: skip
    unknown = [c for c in spec.combinations if c not in known_combinations]
    if not spec.combinations or unknown or len(set(spec.combinations)) != len(spec.combinations):
        problems.append(
            ("combinations",
             "tổ hợp phải có, không lặp, và thuộc danh mục" + (f" ({', '.join(unknown)} không có)" if unknown else ""),
             "combinations are required, without repeats, from the catalogue" + (f" ({', '.join(unknown)} unknown)" if unknown else ""))
        )  # fmt: skip
    for subject, weight in spec.weights.items():
        if (
            subject not in SUBJECT_GROUPS
            or not isinstance(weight, int)
            or not 1 <= weight <= MAX_WEIGHT
        ):
            problems.append(("weights", f"hệ số {subject}={weight} không hợp lệ (môn thi, hệ số 1–3)",
                             f"weight {subject}={weight} is invalid (an exam subject, weight 1-3)"))  # fmt: skip
    if not isinstance(spec.threshold, int) or not 0 <= spec.threshold <= 3000:
        problems.append(("threshold", "ngưỡng đầu vào từ 0 đến 30 điểm",
                         "the threshold is from 0 to 30 points"))  # fmt: skip
    if spec.ties not in ("all", "none"):
        problems.append(
            ("ties", "quy tắc bằng điểm là all hoặc none", "the tie rule is all or none")
        )
    return problems


def _spec_write(round_: AdmissionRound, institution: Institution, spec: ProgrammeSpec) -> Programme:
    programme, _created = Programme.objects.update_or_create(
        round=round_,
        code=spec.code,
        defaults={
            "institution": institution,
            "name": spec.name.strip(),
            "threshold": spec.threshold,
            "ties": spec.ties,
        },
    )
    ProgrammeQuota.objects.filter(programme=programme).exclude(method__in=spec.quotas).delete()
    for method, quota in spec.quotas.items():
        ProgrammeQuota.objects.update_or_create(
            programme=programme, method=method, defaults={"quota": quota}
        )
    combos = {c.code: c for c in Combination.objects.filter(code__in=spec.combinations)}
    ProgrammeCombination.objects.filter(programme=programme).delete()
    ProgrammeCombination.objects.bulk_create(
        ProgrammeCombination(
            programme=programme,
            combination=combos[code],
            weights={
                s: w for s, w in spec.weights.items() if s in combos[code].subjects and w != 1
            },
        )
        for code in spec.combinations
    )
    return programme


def _inputs_changed(round_: AdmissionRound) -> None:
    AdmissionRound.objects.filter(pk=round_.pk).update(inputs_changed_at=timezone.now())


def programme_save(
    *, actor, round_: AdmissionRound, institution: Institution, spec: ProgrammeSpec
) -> Programme:
    """Create or change one programme of an institution (its accounts, or the Ministry)."""
    existing = Programme.objects.filter(round=round_, code=spec.code).first()
    if existing is not None:
        programme_manage_ensure(actor, existing)
    programme_manage_ensure(actor, Programme(institution=institution))
    if not spec.code.startswith(f"{institution.code}-"):
        raise AdmissionError(
            "code_not_institution",
            f"Mã ngành phải bắt đầu bằng mã trường {institution.code}-.",
            f"The programme code must start with the institution code {institution.code}-.",
        )
    problems = spec_check(
        spec, known_combinations=set(Combination.objects.values_list("code", flat=True))
    )
    if problems:
        raise AdmissionError(
            "invalid_programme",
            "; ".join(vi for _c, vi, _en in problems),
            "; ".join(en for _c, _vi, en in problems),
        )
    with transaction.atomic():
        programme = _spec_write(round_, institution, spec)
        _inputs_changed(round_)
        audit_record(
            actor=actor, action="update", object_type="admission_programme",
            object_id=programme.pk, detail={"code": spec.code, "quotas": spec.quotas},
        )  # fmt: skip
    return programme


PROGRAMME_COLUMNS = ("institution_code", "institution_name", "programme_code", "programme_name",
                     "combinations")  # fmt: skip
OPTIONAL_COLUMNS = ("weights", "threshold", "ties", *(f"quota_{m}" for m in METHODS))


@dataclass
class ImportProblem:
    line: int
    column: str
    message_vi: str
    message_en: str

    def text(self) -> str:
        return f"dòng {self.line}, cột {self.column}: {self.message_vi} / line {self.line}, column {self.column}: {self.message_en}"


def _int_cell(value: str) -> int:
    return int(value.strip())


def _points_cell(value: str) -> int:
    """'15', '15.5' or '15,5' points -> hundredths."""
    number = Decimal(value.strip().replace(",", "."))
    if number != number.quantize(Decimal("0.01")):
        raise InvalidOperation
    return int(number * 100)


def _weights_cell(value: str) -> dict[str, int]:
    weights = {}
    for part in value.replace(",", ";").split(";"):
        if part.strip():
            subject, _, weight = part.partition("=")
            weights[subject.strip().upper()] = int(weight)
    return weights


def programmes_import(*, actor, round_: AdmissionRound, text: str) -> dict:
    """Load institutions and programmes from CSV; all or nothing.

    Columns: institution_code, institution_name, programme_code, programme_name, combinations
    (space or semicolon separated: ``A00 A01 D01``), and optionally weights (``TOAN=2``),
    threshold (points on 30), ties (all/none), quota_exam, quota_transcript, quota_direct,
    quota_aptitude. A programme already in the round is replaced by its row.
    """
    ministry_ensure(actor)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in PROGRAMME_COLUMNS if c not in header]
    if missing:
        raise AdmissionError(
            "missing_columns",
            f"Tệp thiếu cột: {', '.join(missing)}.",
            f"The file lacks the columns: {', '.join(missing)}.",
        )
    known = set(Combination.objects.values_list("code", flat=True))
    problems: list[ImportProblem] = []
    rows: list[tuple[str, str, ProgrammeSpec]] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        spec, cell_problems = _row_spec(row)
        for column, vi, en in cell_problems:
            problems.append(ImportProblem(line, column, vi, en))
        if spec is None:
            continue
        for column, vi, en in spec_check(spec, known_combinations=known):
            problems.append(ImportProblem(line, column, vi, en))
        institution_code = row["institution_code"].upper()
        if not INSTITUTION_CODE.match(institution_code):
            problems.append(ImportProblem(line, "institution_code", "mã trường gồm 2–10 chữ in hoa hoặc số", "the institution code is 2-10 capital letters or digits"))  # fmt: skip
        elif not spec.code.startswith(f"{institution_code}-"):
            problems.append(ImportProblem(line, "programme_code", f"mã ngành phải bắt đầu bằng {institution_code}-", f"the programme code must start with {institution_code}-"))  # fmt: skip
        if spec.code in seen:
            problems.append(ImportProblem(line, "programme_code", f"trùng với dòng {seen[spec.code]}", f"repeats line {seen[spec.code]}"))  # fmt: skip
        seen.setdefault(spec.code, line)
        rows.append((institution_code, row["institution_name"], spec))
    if problems:
        raise ProgrammesImportError(problems)
    if not rows:
        raise AdmissionError(
            "empty_file", "Tệp không có dòng dữ liệu nào.", "The file has no data rows."
        )
    with transaction.atomic():
        institutions: dict[str, Institution] = {}
        for code, name, spec in rows:
            if code not in institutions:
                institutions[code], _new = Institution.objects.get_or_create(
                    code=code, defaults={"name": name or code}
                )
            _spec_write(round_, institutions[code], spec)
        _inputs_changed(round_)
        audit_record(
            actor=actor, action="create", object_type="admission_programmes_file",
            object_id=round_.year, detail={"programmes": len(rows)},
        )  # fmt: skip
    return {"programmes": len(rows), "institutions": len(institutions)}


class ProgrammesImportError(AdmissionError):
    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        first = problems[:20]
        super().__init__(
            "invalid_file",
            f"Tệp có {len(problems)} lỗi, chưa ghi gì: " + "; ".join(
                f"dòng {p.line} cột {p.column}: {p.message_vi}" for p in first),
            f"The file has {len(problems)} errors, nothing was written: " + "; ".join(
                f"line {p.line} column {p.column}: {p.message_en}" for p in first),
        )  # fmt: skip


def _row_spec(row: dict) -> tuple[ProgrammeSpec | None, list[tuple[str, str, str]]]:
    problems = []
    quotas = {}
    for method in METHODS:
        value = row.get(f"quota_{method}", "")
        if value:
            try:
                quotas[method] = _int_cell(value)
            except ValueError:
                problems.append((f"quota_{method}", f"'{value}' không phải số nguyên", f"'{value}' is not a whole number"))  # fmt: skip
    threshold = 1500
    if row.get("threshold"):
        try:
            threshold = _points_cell(row["threshold"])
        except (InvalidOperation, ValueError):
            problems.append(("threshold", f"'{row['threshold']}' không phải số điểm (tối đa 2 chữ số thập phân)", f"'{row['threshold']}' is not a score (at most 2 decimals)"))  # fmt: skip
    weights = {}
    if row.get("weights"):
        try:
            weights = _weights_cell(row["weights"])
        except ValueError:
            problems.append(("weights", "hệ số viết dạng TOAN=2;N1=2", "weights are written TOAN=2;N1=2"))  # fmt: skip
    if problems:
        return None, problems
    spec = ProgrammeSpec(
        code=row["programme_code"].upper(),
        name=row["programme_name"],
        quotas=quotas,
        combinations=[c.upper() for c in re.split(r"[\s;,]+", row["combinations"]) if c],
        weights=weights,
        threshold=threshold,
        ties=(row.get("ties") or "all").lower(),
    )
    return spec, []
