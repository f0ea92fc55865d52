"""The e-office of the demo platform (``vnemis office demo``, run by ``vnemis demo``).

Sets up, with the office's own actions, the Ministry's and the demo Department's e-offices: their
abbreviations, places and exchange OrganIds, units, members (the demo log-ins and five new
users), a development CA in the var directory with a seal per organisation and personal
certificates for two Ministry leaders (unlocked by the demo password, so "Ký số và phê duyệt"
works on the page), each organisation the other's exchange partner on this same server, and —
once, while the Ministry has no documents — a few documents at every stage: incoming ones
assigned and waiting, a draft waiting for the leader's signature, and a signed, numbered, sealed
letter to the Department ready for "Gửi liên thông".

Running it again changes nothing that is already right: organisations and members are set to
the same values, units and partners are kept, credentials are imported only when missing or
when the demo CA was made anew, documents only into an empty Ministry office. No HTTP call is
made: the exchange is tried from the page, once the server runs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from vnemis.orgs.models import Organisation, User

from . import actions, actions_signing, workflow
from .actions_errors import OfficeError
from .actions_files import pdf_check
from .models import Document, DocumentType, OfficeOrganisation, OfficeUnit
from .models_exchange import ExchangePartner
from .models_signing import SigningCredential
from .signing.credentials import credential_load
from .signing.dev_ca import (
    Issued,
    certificate_issue,
    dev_ca_load,
    dev_ca_write,
    file_write,
    pkcs12_bytes,
)
from .signing.errors import SigningError

CA_DIRECTORY = "office-demo-ca"
MINISTRY = {"abbreviation": "BGDĐT", "place": "Hà Nội", "organ_id": "000.00.00.G09"}
MINISTRY_UNITS = [
    ("Văn phòng", "VP"),
    ("Vụ Giáo dục Trung học", "GDTrH"),
    ("Vụ Giáo dục Tiểu học", "GDTH"),
]
DEPARTMENT_UNITS = [("Văn phòng", "VP"), ("Phòng Giáo dục Trung học", "GDTrH")]
# A Department's OrganId extends its province's People's Committee code (DOMAIN.md: 13
# characters, four groups). The level-3 group is our pick, not the national list's; Hà Nội's
# committee is H26 (as in the examples), others are shown as H + the province code.
DEPARTMENT_ORGAN_GROUP = "14"
PROVINCE_ORGAN = {"01": "H26"}

# (username, full name, "ministry" | "department", unit abbreviation, leader, clerk, position)
NEW_USERS = [
    ("bo_lanhdao", "Phạm Quốc Hùng", "ministry", None, True, False, "Thứ trưởng"),
    ("bo_vanthu", "Đỗ Thị Mai", "ministry", "VP", False, True, "Văn thư"),
    ("bo_chuyenvien", "Hoàng Minh Tuấn", "ministry", "GDTrH", False, False, "Chuyên viên"),
    ("so_vanthu", "Vũ Thị Hồng", "department", "VP", False, True, "Văn thư"),
    ("so_chuyenvien", "Bùi Văn Nam", "department", "GDTrH", False, False, "Chuyên viên"),
]


@dataclass
class _Side:
    organisation: Organisation
    office: OfficeOrganisation
    units: dict[str, OfficeUnit]


def _place(organisation: Organisation) -> str:
    """The place name of a document (Decree 30: the locality, without "Thành phố"/"Tỉnh")."""
    name = organisation.province.name if organisation.province_id else ""
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name or "Hà Nội"


def _department_organ_id(organisation: Organisation) -> str:
    code = organisation.province.code if organisation.province_id else "00"
    return f"000.00.{DEPARTMENT_ORGAN_GROUP}.{PROVINCE_ORGAN.get(code, f'H{code}')}"


def _office_set(organisation: Organisation, settings_: dict, units) -> _Side:
    office = actions.office_organisation_set(actor=None, organisation=organisation, **settings_)
    existing = {u.abbreviation: u for u in OfficeUnit.objects.filter(organisation=organisation)}
    for name, abbreviation in units:
        if abbreviation not in existing:  # kept as they are: a rerun never renames a unit
            existing[abbreviation] = actions.office_unit_create(
                actor=None, organisation=organisation, name=name, abbreviation=abbreviation
            )
    return _Side(organisation, office, existing)


def _user_ensure(username: str, full_name: str, like: User, password: str) -> tuple[User, bool]:
    user, created = User.objects.update_or_create(
        username=username,
        defaults={"role": like.role, "scope": like.scope, "first_name": full_name, "last_name": ""},
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created


# -- the development CA and its credentials ----------------------------------------------------


def ca_ensure(directory: Path) -> Issued:
    """The demo CA in ``directory``, made there (and its old PKCS#12 files removed) if it is
    missing or unreadable."""
    try:
        return dev_ca_load(directory)
    except (OSError, ValueError, TypeError):
        pass
    dev_ca_write(out=directory, organisation="vnemis (trình diễn / demo)", force=True)
    for stale in directory.glob("demo-*.p12"):  # issued by the CA just replaced
        stale.unlink()
    return dev_ca_load(directory)


def _p12_ensure(
    ca: Issued, path: Path, password: str, *, name: str, organisation: str, title: str = ""
) -> tuple[bytes, str]:
    """The PKCS#12 at ``path`` (and its certificate's fingerprint), issued anew by ``ca`` when
    it is missing, does not open with ``password``, or is no longer valid."""
    if path.exists():
        data = path.read_bytes()
        try:
            return data, credential_load(data=data, password=password).fingerprint
        except SigningError:
            pass
    issued = certificate_issue(ca=ca, name=name, organisation=organisation, title=title)
    data = pkcs12_bytes(issued=issued, ca=ca, password=password)
    file_write(path, data, secret=True)
    return data, credential_load(data=data, password=password).fingerprint


def _credential_ensure(holder: User, kind: str, data: bytes, fingerprint: str, password: str, ca):
    """Import the credential unless the holder's active one is it already. An active credential
    from elsewhere (one the user imported on the page) is kept; one of an earlier demo CA (same
    issuer name, another key) is replaced."""
    active = SigningCredential.objects.filter(kind=kind, active=True)
    if kind == SigningCredential.Kind.SEAL:
        active = active.filter(organisation_id=holder.scope_id)
    else:
        active = active.filter(user=holder)
    current = active.first()
    ours = ca.certificate.subject.rfc4514_string()
    if current is not None and (current.fingerprint == fingerprint or current.issuer != ours):
        return False
    actions_signing.credential_import(actor=holder, p12_bytes=data, password=password, kind=kind)
    return True


# -- documents ---------------------------------------------------------------------------------


def _font_paths() -> tuple[str, str]:
    from .signing.fonts import font_path

    regular = font_path()
    bold = regular.with_name("DejaVuSans-Bold.ttf")
    return str(regular), str(bold if bold.exists() else regular)


def letter_pdf(
    *,
    issuer: str,
    reference: str,
    place: str,
    day: date,
    title: str,
    subject: str,
    body: list[str],
    signer: str,
    position: str,
) -> bytes:
    """An A4 administrative document laid out as Decree 30's form: the issuer and the national
    motto side by side, number, place and date, title, body and signature block."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class _Page(FPDF):
        def multi_cell(self, *args, **kwargs):  # each block starts on a fresh line
            kwargs.setdefault("new_x", XPos.LMARGIN)
            kwargs.setdefault("new_y", YPos.NEXT)
            return super().multi_cell(*args, **kwargs)

    regular, bold = _font_paths()
    pdf = _Page(format="A4")
    pdf.add_font("DejaVu", "", regular)
    pdf.add_font("DejaVu", "B", bold)
    pdf.set_margins(20, 15, 15)
    pdf.add_page()
    left, right = 75, 100
    top = pdf.get_y()
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(left, 5, issuer.upper(), align="C")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(left, 6, f"Số: {reference}", align="C")
    bottom = pdf.get_y()
    pdf.set_xy(20 + left, top)
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(right, 5, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C")
    pdf.set_x(20 + left)
    pdf.multi_cell(right, 5, "Độc lập - Tự do - Hạnh phúc", align="C")
    pdf.set_x(20 + left)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(right, 7, f"{place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}", align="C")
    pdf.set_y(max(bottom, pdf.get_y()) + 6)
    pdf.set_font("DejaVu", "B", 13)
    if title:
        pdf.multi_cell(0, 7, title.upper(), align="C")
    pdf.set_font("DejaVu", "B" if title else "", 11)
    pdf.multi_cell(0, 6, subject, align="C")
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 12)
    for paragraph in body:
        pdf.multi_cell(0, 7, paragraph, align="J")
        pdf.ln(2)
    pdf.ln(6)
    pdf.set_x(20 + left)
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(right, 6, position.upper(), align="C")
    pdf.ln(22)
    pdf.set_x(20 + left)
    pdf.multi_cell(right, 6, signer, align="C")
    return bytes(pdf.output())


def _incoming(*, clerk: User, side: _Side, doc_type: str, number: int, notation: str,
              issuer: str, issuer_organ_id: str, signer: str, competence: str,
              signer_position: str, subject: str, body: list[str], issued_days_ago: int,
              arrived_days_ago: int, due_on: date, priority: int = 0,
              title: str = "") -> Document:  # fmt: skip
    today = timezone.localdate()
    issued_on = today - timedelta(days=issued_days_ago)
    arrival_day = today - timedelta(days=arrived_days_ago)
    # Arrived in the morning of that day, never later than now (today's letter came at 8:00
    # or, seeded before then, just now).
    arrived_at = min(
        timezone.now(),
        datetime.combine(arrival_day, time(8, 15), tzinfo=timezone.get_current_timezone()),
    )
    data = letter_pdf(
        issuer=issuer, reference=f"{number}/{notation}", place="Hà Nội", day=issued_on,
        title=title, subject=subject, body=body, signer=signer,
        position=f"{competence}\n{signer_position}",
    )  # fmt: skip
    return actions.incoming_register(
        actor=clerk,
        organisation=side.organisation,
        doc_type=DocumentType.objects.get(code=doc_type),
        subject=subject,
        issued_on=issued_on,
        issuer_name=issuer,
        issuer_organ_id=issuer_organ_id,
        number=number,
        notation=notation,
        place="Hà Nội",
        signer_name=signer,
        signer_position=signer_position,
        signer_competence=competence.upper(),
        priority=priority,
        due_on=due_on,
        arrived_at=arrived_at,
        main=pdf_check(name=f"{notation.lower()}-{number}.pdf", data=data),
    )


def _documents(*, ministry: _Side, department: _Side, people: dict[str, User], password: str):
    """Incoming documents at each stage, a draft awaiting signature, an issued letter."""
    today = timezone.localdate()
    clerk, leader, specialist = people["bo_vanthu"], people["bo_lanhdao"], people["bo_chuyenvien"]
    gdtrh = ministry.units["GDTrH"]
    made: list[Document] = []

    first = _incoming(
        clerk=clerk, side=ministry, doc_type="CV", number=4152, notation="UBND-KGVX",
        issuer="Ủy ban nhân dân Thành phố Hà Nội", issuer_organ_id="000.00.00.H26",
        signer="Nguyễn Mạnh Quyền", competence="KT. Chủ tịch", signer_position="Phó Chủ tịch",
        subject="V/v đề nghị hướng dẫn tổ chức kỳ thi tuyển sinh vào lớp 10 trung học phổ"
        " thông năm học tới",
        body=[
            "Thực hiện kế hoạch tuyển sinh của Thành phố, Ủy ban nhân dân Thành phố Hà Nội kính"
            " đề nghị Bộ Giáo dục và Đào tạo hướng dẫn việc tổ chức kỳ thi tuyển sinh vào lớp 10"
            " trung học phổ thông, trong đó có số môn thi, lịch thi và phương thức xét tuyển.",
            "Kính mong Bộ quan tâm, sớm có văn bản hướng dẫn để Thành phố triển khai.",
        ],
        issued_days_ago=8, arrived_days_ago=6, due_on=today + timedelta(days=5),
    )  # fmt: skip
    workflow.assignment_create(
        actor=leader, document=first, unit=gdtrh, deadline=today + timedelta(days=5),
        instruction="Vụ Giáo dục Trung học chủ trì, tham mưu văn bản trả lời Thành phố.",
    )  # fmt: skip
    made.append(first)

    # Due today: a deadline in the past is refused by the workflow, so this one turns overdue
    # from tomorrow (and is red on the dashboard if the demo is still running then).
    second = _incoming(
        clerk=clerk, side=ministry, doc_type="CV", number=11207, notation="BTC-HCSN",
        issuer="Bộ Tài chính", issuer_organ_id="",
        signer="Bùi Văn Khắng", competence="KT. Bộ trưởng", signer_position="Thứ trưởng",
        subject="V/v góp ý dự thảo Nghị định quy định cơ chế thu, quản lý học phí đối với cơ"
        " sở giáo dục thuộc hệ thống giáo dục quốc dân",
        body=[
            "Bộ Tài chính gửi kèm theo đây dự thảo Nghị định và đề nghị Bộ Giáo dục và Đào tạo"
            " có ý kiến góp ý bằng văn bản, gửi về Bộ Tài chính đúng hạn để tổng hợp.",
        ],
        issued_days_ago=5, arrived_days_ago=3, due_on=today, priority=1,
    )  # fmt: skip
    workflow.assignment_create(
        actor=leader, document=second, user=specialist, deadline=today,
        instruction="Đồng chí Tuấn tổng hợp ý kiến góp ý, trình lãnh đạo Bộ trong ngày.",
    )  # fmt: skip
    made.append(second)

    third = _incoming(
        clerk=clerk, side=ministry, doc_type="TB", number=312, notation="TB-VPCP",
        issuer="Văn phòng Chính phủ", issuer_organ_id="000.00.00.G22",
        signer="Trần Văn Sơn", competence="KT. Bộ trưởng, Chủ nhiệm",
        signer_position="Phó Chủ nhiệm",
        title="Thông báo", subject="Kết luận của Phó Thủ tướng Chính phủ về công tác chuẩn bị"
        " năm học mới",
        body=[
            "Văn phòng Chính phủ thông báo kết luận của Phó Thủ tướng Chính phủ tại cuộc họp về"
            " công tác chuẩn bị năm học mới: Bộ Giáo dục và Đào tạo chủ trì, phối hợp với các"
            " địa phương bảo đảm đủ giáo viên, trường lớp và sách giáo khoa trước ngày khai"
            " giảng.",
        ],
        issued_days_ago=1, arrived_days_ago=0, due_on=today + timedelta(days=14),
    )  # fmt: skip
    made.append(third)  # registered, waiting for a leader to assign it

    letter = DocumentType.objects.get(code="CV")
    signer = {
        "signer_name": leader.first_name,
        "signer_position": "Thứ trưởng",
        "signer_competence": "KT. BỘ TRƯỞNG",
    }
    to_department = actions.RecipientIn(
        name=department.organisation.name,
        organisation=department.organisation,
        organ_id=department.office.organ_id,
    )

    def draft(subject: str, body: list[str], recipients) -> Document:
        data = letter_pdf(
            issuer=f"{ministry.organisation.name}", reference=f"      /BGDĐT-{gdtrh.abbreviation}",
            place=ministry.office.place, day=today, title="", subject=subject, body=body,
            signer=leader.first_name, position="KT. Bộ trưởng\nThứ trưởng",
        )  # fmt: skip
        return actions.outgoing_draft_create(
            actor=specialist, doc_type=letter, subject=subject, recipients=recipients,
            drafting_unit=gdtrh, main=pdf_check(name="cong-van.pdf", data=data), **signer,
        )  # fmt: skip

    pending = draft(
        "V/v hướng dẫn thực hiện nhiệm vụ giáo dục trung học năm học mới",
        [
            "Căn cứ kế hoạch năm học, Bộ Giáo dục và Đào tạo hướng dẫn các Sở Giáo dục và Đào"
            " tạo thực hiện nhiệm vụ giáo dục trung học: thực hiện chương trình giáo dục phổ"
            " thông, đổi mới kiểm tra, đánh giá, và bảo đảm chất lượng giáo dục.",
            "Các Sở báo cáo kết quả thực hiện về Bộ (qua Vụ Giáo dục Trung học) trước ngày 15"
            " tháng 12.",
        ],
        [to_department, actions.RecipientIn(name="Các Sở Giáo dục và Đào tạo")],
    )
    workflow.submission_create(
        actor=specialist, document=pending, leader=leader,
        note="Kính trình Thứ trưởng xem xét, ký ban hành.",
    )  # fmt: skip
    made.append(pending)

    issued = draft(
        "V/v báo cáo số liệu học sinh trung học đầu năm học",
        [
            f"Bộ Giáo dục và Đào tạo đề nghị {department.organisation.name} tổng hợp, báo cáo"
            " số liệu học sinh, lớp học và giáo viên trung học đầu năm học của địa phương theo"
            " biểu mẫu kèm theo.",
            "Báo cáo gửi về Bộ qua hệ thống văn bản điện tử trong thời hạn 10 ngày kể từ ngày"
            " ký công văn này.",
        ],
        [to_department],
    )
    submission = workflow.submission_create(actor=specialist, document=issued, leader=leader)
    actions_signing.submission_sign_and_approve(
        actor=leader, submission=submission, password=password
    )
    issued = actions.outgoing_issue(actor=clerk, document=issued)
    actions_signing.document_seal(actor=clerk, document=issued)
    made.append(issued)
    return made


# -- the seed ----------------------------------------------------------------------------------


def _demo_error(vi: str, en: str) -> OfficeError:
    return OfficeError("demo_setup", vi, en)


def office_demo_seed(*, ministry_user: str, department_user: str, password: str, base_url: str):
    """Set up the demo e-office of the Ministry and the ``department_user``'s Department (see the
    module's docstring); returns what was set up and made, for printing."""
    if not password:
        raise _demo_error("Hãy cho mật khẩu trình diễn.", "Give the demo password.")
    base_url = base_url.rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise _demo_error(
            f"Địa chỉ máy chủ phải bắt đầu bằng http:// hoặc https:// ({base_url}).",
            f"The server address must start with http:// or https:// ({base_url}).",
        )
    ministry = Organisation.objects.filter(kind=Organisation.Kind.MINISTRY, parent=None).first()
    bo = User.objects.filter(username=ministry_user).select_related("scope").first()
    so = User.objects.filter(username=department_user).select_related("scope").first()
    if ministry is None:
        raise _demo_error("Chưa có Bộ trong cây tổ chức.", "There is no Ministry in the tree.")
    if bo is None or bo.scope_id != ministry.pk:
        raise _demo_error(
            f"Không có tài khoản {ministry_user} thuộc {ministry.name}.",
            f"There is no account {ministry_user} of {ministry.name}.",
        )
    if so is None or so.scope is None or so.scope.kind != Organisation.Kind.DEPARTMENT:
        raise _demo_error(
            f"Không có tài khoản {department_user} thuộc một Sở Giáo dục và Đào tạo.",
            f"There is no account {department_user} of a Department of Education.",
        )
    department = Organisation.objects.select_related("province").get(pk=so.scope_id)
    directory = Path(settings.VAR_DIR) / CA_DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca_ensure(directory)  # on disk first: the database's rows refer to its certificates

    with transaction.atomic():
        sides = {
            "ministry": _office_set(ministry, MINISTRY, MINISTRY_UNITS),
            "department": _office_set(
                department,
                {
                    "abbreviation": "SGDĐT",
                    "place": _place(department),
                    "organ_id": _department_organ_id(department),
                },
                DEPARTMENT_UNITS,
            ),
        }
        people = {ministry_user: bo, department_user: so}
        created = []
        for username, full_name, side_name, _unit, *_rest in NEW_USERS:
            like = bo if side_name == "ministry" else so
            people[username], made = _user_ensure(username, full_name, like, password)
            if made:
                created.append(username)
        members = [
            (ministry_user, "ministry", "VP", True, True, "Chánh Văn phòng Bộ"),
            (department_user, "department", "VP", True, True, "Chánh Văn phòng Sở"),
            *[
                (u, side, unit, lead, clerk, pos)
                for u, _n, side, unit, lead, clerk, pos in NEW_USERS
            ],
        ]
        for username, side_name, unit, is_leader, is_clerk, position in members:
            side = sides[side_name]
            actions.office_member_set(
                actor=None, user=people[username], organisation=side.organisation,
                unit=side.units.get(unit) if unit else None, is_leader=is_leader,
                is_clerk=is_clerk, position=position,
            )  # fmt: skip

        # The PKCS#12 files are named by organisation code and username, which outlive a
        # ``vnemis demo --reset`` of the database: a rebuilt demo imports the same certificates.
        imported = []
        clerks = {"ministry": people["bo_vanthu"], "department": people["so_vanthu"]}
        for side_name, side in sides.items():
            org = side.organisation
            seal_password_file = directory / f"demo-seal-{org.code}-password.txt"
            if not seal_password_file.exists():
                file_write(seal_password_file, secrets.token_urlsafe(18).encode(), secret=True)
            seal_password = seal_password_file.read_text(encoding="utf-8").strip()
            data, fingerprint = _p12_ensure(
                ca, directory / f"demo-seal-{org.code}.p12", seal_password,
                name=org.name, organisation=org.name,
            )  # fmt: skip
            if _credential_ensure(clerks[side_name], "seal", data, fingerprint, seal_password, ca):
                imported.append(f"seal:{side.office.abbreviation}")
        for username in (ministry_user, "bo_lanhdao"):
            user = people[username]
            member = user.office_member
            data, fingerprint = _p12_ensure(
                ca, directory / f"demo-personal-{user.username}.p12", password,
                name=user.first_name or username, organisation=ministry.name,
                title=member.position,
            )  # fmt: skip
            if _credential_ensure(user, "personal", data, fingerprint, password, ca):
                imported.append(f"personal:{username}")

        ca_pem = ca.certificate_pem().decode("ascii")
        for side_name, other_name in (("ministry", "department"), ("department", "ministry")):
            side, other = sides[side_name], sides[other_name]
            ExchangePartner.objects.update_or_create(
                organisation=side.organisation,
                organ_id=other.office.organ_id,
                defaults={
                    "name": other.organisation.name,
                    "inbox_url": f"{base_url}/office/edxml/inbox/",
                    "status_url": "",
                    "trusted_ca_pem": ca_pem,
                    "active": True,
                },
            )

        documents: list[Document] = []
        if not Document.objects.filter(organisation=ministry).exists():
            documents = _documents(
                ministry=sides["ministry"], department=sides["department"], people=people,
                password=password,
            )  # fmt: skip

    issued = next((d for d in documents if d.status == Document.Status.ISSUED), None)
    return {
        "organisations": [
            {
                "name": s.organisation.name,
                "abbreviation": s.office.abbreviation,
                "place": s.office.place,
                "organ_id": s.office.organ_id,
                "units": sorted(s.units),
            }
            for s in sides.values()
        ],
        "users_created": created,
        "members": [
            {"username": u, "leader": lead, "clerk": clerk, "unit": unit, "position": pos}
            for u, _side, unit, lead, clerk, pos in members
        ],
        "credentials_imported": imported,
        "ca_dir": str(directory),
        "documents": list(  # as they are now, after the workflow moved them on
            Document.objects.filter(pk__in=[d.pk for d in documents])
            .order_by("pk")
            .values("id", "direction", "status", "subject")
        ),
        "send_url": f"{base_url}/office/documents/{issued.pk}/" if issued else "",
    }
