"""``vnemis exams ACTION``: run the graduation exam from the terminal.

    session-create --year Y --school-year 2025-2026 --opens T --closes T [--publish T]
    register       [--school CODE] [--choices FILE]   candidates from grade-12 enrolments
    register-free  --education-id ID --unit CODE --electives SU,DIA --document KIND|NO|ISSUER|DATE
    claim          --education-id ID --kind priority|incentive|exemption --code C --number N
                   --issuer I --date YYYY-MM-DD [--subject N1]   evidence and points
    venues         --province P (--auto | --code C --name N --rooms K [--capacity N])
    assign-rooms   [--province P] [--renumber]        candidate numbers and seats
    import-scores FILE [--subject CODE]   (also import-averages FILE, import-choices FILE)
    graduate       graduation scores and results of the whole session
    publish        the look-up table, for the publication time
    appeal         --candidate SBD --subject CODE [--score S --reason TEXT]

Every action takes ``--year`` (default: the newest session) and ``--user NAME`` (act as that
account: its scope and the audit log; default: the operator). Imports take ``--dry-run`` and
``--all-or-nothing``. Exit status as ``vnemis import``: 0 done; 3 applied except rejected rows;
2 refused or failed. Messages are "Vietnamese / English".
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from vnemis.exchange.imports import ImportRefused
from vnemis.orgs.models import Organisation, User
from vnemis.registry.models import Person, SchoolYear

from ... import actions, actions_claims, actions_results, actions_rooms
from ...imports import exam_import_file
from ...models import Candidate, ExamImport, ExamSession, Venue

IMPORT_KINDS = {
    "import-scores": ExamImport.Kind.SCORES,
    "import-averages": ExamImport.Kind.AVERAGES,
    "import-choices": ExamImport.Kind.CHOICES,
}


def _refused(exc: Exception) -> CommandError:
    if isinstance(exc, ImportRefused):
        return CommandError(f"{exc.message_vi} / {exc.message_en}", returncode=2)
    if isinstance(exc, ValidationError):
        return CommandError(" ".join(exc.messages), returncode=2)
    return CommandError(str(exc), returncode=2)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            naive = datetime.strptime(text, fmt)  # noqa: DTZ007 - made aware just below
        except ValueError:
            continue
        return timezone.make_aware(naive)  # Asia/Ho_Chi_Minh: the Ministry's clock
    raise CommandError(
        f"Thời điểm '{text}' sai định dạng (dùng 2026-07-16T08:00) / bad time, use "
        "2026-07-16T08:00",
        returncode=2,
    )


def _day(text: str):
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()  # noqa: DTZ007 - a date
    except ValueError:
        raise CommandError(
            f"Ngày '{text}' sai định dạng (dùng YYYY-MM-DD) / bad date, use YYYY-MM-DD",
            returncode=2,
        ) from None


class Command(BaseCommand):
    help = "Graduation exam: registration, rooms, scores, results. / Kỳ thi tốt nghiệp THPT."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        def action(name: str, help_text: str):
            p = sub.add_parser(name, help=help_text)
            p.add_argument("--year", type=int, help="exam year / năm thi (default: newest)")
            p.add_argument("--user", default="", help="act as this account / thao tác với tư cách")
            return p

        p = action("session-create", "open a year's session / tạo kỳ thi")
        p.add_argument("--school-year", required=True, help="e.g. 2025-2026")
        p.add_argument("--opens", required=True, help="registration opens, 2026-04-01T07:00")
        p.add_argument("--closes", required=True, help="registration closes")
        p.add_argument("--publish", help="results publication time")
        p.add_argument("--name", default="")
        p = action("register", "register grade-12 pupils / đăng ký dự thi cho học sinh lớp 12")
        p.add_argument("--school", default="", help="one school's code (default: the scope)")
        p.add_argument("--choices", help="subject choices file to import afterwards")
        p = action("register-free", "a free candidate / thí sinh tự do")
        p.add_argument("--education-id", required=True, help="the person's education ID")
        p.add_argument("--unit", required=True, help="school or Department taking the dossier")
        p.add_argument("--electives", required=True, help="e.g. SU,DIA")
        p.add_argument(
            "--document", action="append", default=[], help="KIND|NUMBER|ISSUER|YYYY-MM-DD"
        )
        p = action("claim", "priority, prize or language certificate / ưu tiên, giải, miễn thi")
        p.add_argument("--education-id", required=True)
        p.add_argument("--kind", required=True, choices=["priority", "incentive", "exemption"])
        p.add_argument("--code", required=True, help="category, prize or certificate kind")
        p.add_argument("--number", default="", help="document number / số hiệu")
        p.add_argument("--issuer", default="", help="issued by / nơi cấp")
        p.add_argument("--date", default="", help="issued on / ngày cấp, YYYY-MM-DD")
        p.add_argument("--subject", default="", help="the exempted language (N1…N7)")
        p = action("venues", "add venues and rooms / thêm điểm thi, phòng thi")
        p.add_argument("--province", required=True)
        p.add_argument("--auto", action="store_true", help="one venue per registration unit")
        p.add_argument("--code", default="")
        p.add_argument("--name", default="")
        p.add_argument("--rooms", type=int, default=0)
        p.add_argument("--capacity", type=int)
        p = action("assign-rooms", "candidate numbers and rooms / số báo danh và phòng thi")
        p.add_argument("--province", action="append", help="province code (repeat; default all)")
        p.add_argument("--renumber", action="store_true", help="renumber every candidate")
        for name in IMPORT_KINDS:
            p = action(name, f"{name.split('-')[1]} file / nhập tệp")
            p.add_argument("file")
            p.add_argument("--subject", default="", help="the subject of a per-subject file")
            p.add_argument("--dry-run", action="store_true", help="check only / kiểm tra thử")
            p.add_argument("--all-or-nothing", action="store_true")
        action("graduate", "compute graduation results / xét tốt nghiệp")
        action("publish", "build the result look-up / công bố kết quả")
        p = action("appeal", "re-marking appeal / phúc khảo")
        p.add_argument("--candidate", required=True, help="candidate number / số báo danh")
        p.add_argument("--subject", required=True)
        p.add_argument("--score", help="the re-marked score (records the decision)")
        p.add_argument("--reason", default="", help="why the score changed / lý do")
        p.add_argument("--note", default="", help="the candidate's request / nội dung đơn")

    def handle(self, *args, action: str, **opts):
        actor = self._actor(opts.get("user"))
        try:
            if action == "session-create":
                return self._session_create(actor, opts)
            session = self._session(opts.get("year"))
            if action in IMPORT_KINDS:
                return self._import(actor, session, opts, IMPORT_KINDS[action])
            return getattr(self, "_" + action.replace("-", "_"))(actor, session, opts)
        except (ValidationError, PermissionDenied, ImportRefused) as exc:
            raise _refused(exc) from None

    # -- helpers ---------------------------------------------------------------------------

    def _actor(self, username: str | None):
        if not username:
            return None
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(
                f"Không có tài khoản / no such active user: {username}", returncode=2
            )
        return actor

    def _session(self, year: int | None) -> ExamSession:
        qs = ExamSession.objects.order_by("-year")
        session = qs.filter(year=year).first() if year else qs.first()
        if session is None:
            raise CommandError(
                f"Không có kỳ thi / no exam session{f' {year}' if year else ''}", returncode=2
            )
        return session

    def _bar(self, label: str):
        state = {"bar": None}

        def update(done: int, total: int) -> None:
            if state["bar"] is None:
                state["bar"] = tqdm(total=total, desc=label, unit=" ", file=self.stderr)
            state["bar"].update(max(0, done - state["bar"].n))

        def close() -> None:
            if state["bar"] is not None:
                state["bar"].close()

        return update, close

    # -- actions ---------------------------------------------------------------------------

    def _session_create(self, actor, opts):
        year = SchoolYear.objects.filter(code=opts["school_year"]).first()
        if year is None:
            raise CommandError(
                f"Không có năm học / no school year {opts['school_year']}", returncode=2
            )
        try:
            session = actions.session_create(
                actor=actor,
                year=opts["year"] or year.start_year + 1,
                school_year=year,
                registration_opens_at=_when(opts["opens"]),
                registration_closes_at=_when(opts["closes"]),
                results_publish_at=_when(opts.get("publish")),
                name=opts["name"],
            )
        except (ValidationError, PermissionDenied) as exc:
            raise _refused(exc) from None
        self.stdout.write(f"Đã tạo kỳ thi / session created: {session.year} {session.name}")

    def _register(self, actor, session, opts):
        school = None
        if opts["school"]:
            school = Organisation.objects.filter(code=opts["school"]).first()
            if school is None:
                raise CommandError(f"Không có trường / no school {opts['school']}", returncode=2)
        update, close = self._bar("đăng ký / registering")
        try:
            result = actions.candidates_register_school(
                actor=actor, session=session, school=school, progress=update
            )
        finally:
            close()
        self.stdout.write(
            f"Đăng ký mới / registered: {result.created:,}  đã có / already: {result.already:,}  "
            f"chưa xác thực định danh / identity not verified: {result.unverified:,}"
        )
        if opts.get("choices"):
            self._import(actor, session, {**opts, "file": opts["choices"], "subject": "",
                                          "dry_run": False, "all_or_nothing": False},
                         ExamImport.Kind.CHOICES)  # fmt: skip

    def _register_free(self, actor, session, opts):
        person = Person.objects.filter(education_id=opts["education_id"]).first()
        unit = Organisation.objects.filter(code=opts["unit"]).first()
        if person is None or unit is None:
            raise CommandError(
                "Không có người hoặc đơn vị này / no such person or unit", returncode=2
            )
        documents = []
        for text in opts["document"]:
            parts = text.split("|")
            if len(parts) != 4:
                raise CommandError(
                    f"Giấy tờ '{text}' phải có dạng LOẠI|SỐ|NƠI CẤP|YYYY-MM-DD / a document is "
                    "KIND|NUMBER|ISSUER|YYYY-MM-DD",
                    returncode=2,
                )
            documents.append(
                {"code": parts[0], "document_number": parts[1], "issuer": parts[2],
                 "issued_on": _day(parts[3])}
            )  # fmt: skip
        candidate = actions.candidate_register_free(
            actor=actor,
            session=session,
            unit=unit,
            person=person,
            electives=opts["electives"].split(","),
            documents=documents,
        )
        self.stdout.write(
            f"Đã đăng ký thí sinh tự do / free candidate registered: #{candidate.pk} "
            f"(định danh / identity: {candidate.identity_status})"
        )

    def _claim(self, actor, session, opts):
        candidate = (
            Candidate.objects.filter(session=session, person__education_id=opts["education_id"])
            .select_related("unit", "session")
            .first()
        )
        if candidate is None:
            raise CommandError(
                f"Không có thí sinh / no candidate {opts['education_id']}", returncode=2
            )
        claim = actions_claims.claim_add(
            actor=actor,
            candidate=candidate,
            kind=opts["kind"],
            code=opts["code"],
            document_number=opts["number"],
            issuer=opts["issuer"],
            issued_on=_day(opts["date"]) if opts["date"] else None,
            subject_code=opts["subject"] or None,
        )
        candidate.refresh_from_db()
        self.stdout.write(
            f"Đã ghi / recorded {claim.kind} {claim.code}; ưu tiên / priority "
            f"{candidate.priority_points}, khuyến khích / incentive {candidate.incentive_points}"
        )

    def _venues(self, actor, session, opts):
        province = opts["province"]
        if opts["auto"]:
            created = actions_rooms.venues_from_units(
                actor=actor, session=session, province_code=province
            )
            self.stdout.write(f"Điểm thi mới / venues created: {len(created)}")
            return
        host = Organisation.objects.filter(code=opts["code"]).first()
        venue = actions_rooms.venue_create(
            actor=actor,
            session=session,
            province_code=province,
            code=opts["code"],
            name=opts["name"],
            rooms=opts["rooms"],
            capacity=opts.get("capacity"),
            host=host,
        )
        self.stdout.write(f"Điểm thi / venue {venue.code}: {opts['rooms']} phòng / rooms")

    def _assign_rooms(self, actor, session, opts):
        provinces = opts.get("province") or sorted(
            set(Candidate.objects.filter(session=session).values_list("province_code", flat=True))
        )
        for province in provinces:
            if not Venue.objects.filter(session=session, province_code=province).exists():
                raise CommandError(
                    f"Tỉnh {province} chưa có điểm thi; chạy `vnemis exams venues --province "
                    f"{province} --auto` / province {province} has no venues yet",
                    returncode=2,
                )
            seating = actions_rooms.seating_assign(
                actor=actor, session=session, province_code=province, renumber=opts["renumber"]
            )
            self.stdout.write(
                f"{province}: {seating.candidates:,} thí sinh / candidates, {seating.seats:,} chỗ "
                f"/ seats; số báo danh mới / numbered {seating.numbered:,}; đổi phòng / moved "
                f"{seating.seated:,}"
            )

    def _import(self, actor, session, opts, kind):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp / file not found: {path}", returncode=2)
        bars: dict = {}

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                bar = bars[phase] = tqdm(total=total or None, desc=phase, file=self.stderr)
            bar.update(max(0, done - bar.n))

        try:
            job = exam_import_file(
                path,
                actor=actor,
                session=session,
                kind=kind,
                subject_code=opts.get("subject", ""),
                mode="all_or_nothing" if opts.get("all_or_nothing") else "apply_valid",
                dry_run=opts.get("dry_run", False),
                progress=progress,
            )
        finally:
            for bar in bars.values():
                bar.close()
        w = self.stdout.write
        w(f"việc / job: {job.pk}  trạng thái / status: {job.status}"
          f"{' (kiểm tra thử / dry run)' if job.dry_run else ''}")  # fmt: skip
        w(
            f"dòng / rows: {job.rows_total:,}  thêm / inserted: {job.inserted:,}  sửa / updated: "
            f"{job.updated:,}  không đổi / unchanged: {job.unchanged:,}  từ chối / rejected: "
            f"{job.rows_rejected:,}"
        )
        if job.no_changes and not job.rows_rejected:
            w("Không có thay đổi / no changes: the session already holds this file's data.")
        for cause in job.causes[:20]:
            w(f"  {cause['count']:>8,} × {cause['message_vi']} / {cause['message_en']}")
        if job.status == ExamImport.Status.FAILED:
            raise CommandError(job.error, returncode=2)
        if job.status == ExamImport.Status.REJECTED:
            raise CommandError(
                "Tệp có lỗi, không ghi gì (all-or-nothing) / the file has errors; nothing written",
                returncode=2,
            )
        if job.rows_rejected:
            raise CommandError(
                f"{job.rows_rejected:,} dòng bị từ chối / rows rejected", returncode=3
            )

    def _graduate(self, actor, session, opts):
        update, close = self._bar("xét tốt nghiệp / graduating")
        try:
            result = actions_results.session_graduate(actor=actor, session=session, progress=update)
        finally:
            close()
        r = result.results
        self.stdout.write(
            f"thí sinh / candidates: {result.candidates:,}  đỗ / passed: {r.get('passed', 0):,}  "
            f"không đỗ / failed: {r.get('failed', 0):,}  chưa đủ dữ liệu / incomplete: "
            f"{r.get('incomplete', 0):,}  thay đổi / changed: {result.changed:,}"
        )

    def _publish(self, actor, session, opts):
        written = actions_results.session_publish(actor=actor, session=session)
        at = timezone.localtime(session.results_publish_at).strftime("%d/%m/%Y %H:%M")
        self.stdout.write(
            f"Bảng tra cứu / look-up rows: {written:,}; hiển thị từ / visible from {at}"
        )

    def _appeal(self, actor, session, opts):
        candidate = (
            Candidate.objects.filter(session=session, candidate_number=opts["candidate"])
            .select_related("unit", "session")
            .first()
        )
        if candidate is None:
            raise CommandError(
                f"Không có thí sinh / no candidate {opts['candidate']}", returncode=2
            )
        from ...models import Appeal

        appeal = Appeal.objects.filter(
            candidate=candidate, subject__code=opts["subject"].upper(), status="pending"
        ).first() or actions_results.appeal_file(
            actor=actor, candidate=candidate, subject_code=opts["subject"], note=opts["note"]
        )
        if not opts.get("score"):
            self.stdout.write(f"Đã nhận đơn phúc khảo / appeal filed: {appeal.pk}")
            return
        decided = actions_results.appeal_decide(
            actor=actor, appeal=appeal, new_score=opts["score"], reason=opts["reason"]
        )
        candidate.refresh_from_db()
        self.stdout.write(
            f"{candidate.candidate_number} {decided.subject.code}: {decided.old_score} → "
            f"{decided.new_score}; điểm xét TN / graduation {candidate.graduation_score}, "
            f"{candidate.result}"
        )
