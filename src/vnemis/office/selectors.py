"""Reads of the e-office, scoped to the viewer.

A user works in the e-office as a member of one organisation (``OfficeMember``). They see the
documents of that organisation and the issued documents addressed to it; nothing of any other
organisation, whatever their role elsewhere (a Ministry account does not read a Department's
documents). An operator account (superuser without a scope) sees everything. Scope is applied
in the queries here, so pages, exports, search and tasks cannot forget it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.orgs.scope import is_unrestricted

from .models import (
    HANDLING_STATUSES,
    Assignment,
    Document,
    DocumentRecipient,
    DocumentVersion,
    OfficeMember,
    OfficeUnit,
    Register,
    Submission,
    WorkflowStep,
)

PAGE_SIZE = 50
INBOX_LIMIT = 200
REGISTER_PAGE = 200


# -- membership --------------------------------------------------------------------------------


def member_get(user) -> OfficeMember | None:
    """The user's e-office membership, or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_office_member_cache", False)
    if cached is not False:
        return cached
    member = (
        OfficeMember.objects.select_related("organisation", "unit", "organisation__office")
        .filter(user_id=user.pk)
        .first()
    )
    user._office_member_cache = member
    return member


def member_ensure(user) -> OfficeMember | None:
    """The membership; PermissionDenied for a user outside the e-office (None for operators)."""
    member = member_get(user)
    if member is None and not is_unrestricted(user):
        raise PermissionDenied(
            _(
                "Bạn chưa là thành viên văn phòng điện tử của cơ quan nào. Hãy đề nghị quản trị"
                " hoặc lãnh đạo cơ quan thêm bạn."
            )
        )
    return member


def is_leader(user, organisation_id: int) -> bool:
    member = member_get(user)
    return member is not None and member.is_leader and member.organisation_id == organisation_id


def is_clerk(user, organisation_id: int) -> bool:
    member = member_get(user)
    return member is not None and member.is_clerk and member.organisation_id == organisation_id


def register_keeper(user, organisation_id: int) -> bool:
    """Clerks and leaders keep and read the registers."""
    return is_clerk(user, organisation_id) or is_leader(user, organisation_id)


def members_of(organisation_id: int) -> QuerySet[OfficeMember]:
    return (
        OfficeMember.objects.filter(organisation_id=organisation_id)
        .select_related("user", "unit")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def leaders_of(organisation_id: int) -> QuerySet[OfficeMember]:
    return members_of(organisation_id).filter(is_leader=True)


def units_of(organisation_id: int) -> QuerySet[OfficeUnit]:
    return OfficeUnit.objects.filter(organisation_id=organisation_id).order_by("name")


# -- documents ---------------------------------------------------------------------------------


def documents_visible(viewer) -> QuerySet[Document]:
    """Documents of the viewer's organisation, and issued ones addressed to it."""
    if is_unrestricted(viewer):
        return Document.objects.all()
    member = member_get(viewer)
    if member is None:
        return Document.objects.none()
    addressed = DocumentRecipient.objects.filter(
        document_id=OuterRef("pk"), organisation_id=member.organisation_id
    )
    return Document.objects.filter(
        Q(organisation_id=member.organisation_id) | (Q(status="issued") & Exists(addressed))
    )


def document_get(*, viewer, pk: int) -> Document | None:
    """One document the viewer may see (None otherwise: the page answers 404)."""
    return (
        documents_visible(viewer)
        .select_related(
            "doc_type",
            "organisation",
            "organisation__office",
            "issuer",
            "drafting_unit",
            "in_reply_to",
            "replaces",
            "register",
            "created_by",
        )
        .filter(pk=pk)
        .first()
    )


def document_owned(viewer, document: Document) -> bool:
    """Whether the viewer works on this document (its organisation's member), not only reads it."""
    if is_unrestricted(viewer):
        return True
    member = member_get(viewer)
    return member is not None and member.organisation_id == document.organisation_id


@dataclass
class DocumentFilters:
    direction: str = ""
    status: str = ""
    year: int | None = None


def documents_page(
    *, viewer, filters: DocumentFilters, before: int | None = None
) -> tuple[list[Document], int | None]:
    """One page of the viewer's documents, newest first, and the id to continue before."""
    found = documents_visible(viewer)
    if filters.direction in Document.Direction.values:
        found = found.filter(direction=filters.direction)
    if filters.status in Document.Status.values:
        found = found.filter(status=filters.status)
    if filters.year:
        found = found.filter(Q(issued_year=filters.year) | Q(register__year=filters.year))
    if before:
        found = found.filter(id__lt=before)
    rows = list(found.select_related("doc_type", "organisation").order_by("-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].pk if more else None)


@dataclass
class DocumentView:
    """Everything the detail page shows of one document."""

    document: Document
    versions: list[DocumentVersion]
    recipients: list[DocumentRecipient]
    assignments: list[Assignment]
    submissions: list[Submission]
    steps: list[WorkflowStep]
    replies: list[Document]
    replaced_by: list[Document]  # replacements (văn bản thay thế) the viewer may see
    owned: bool
    member: OfficeMember | None
    my_assignments: list[Assignment] = field(default_factory=list)


def document_view(*, viewer, document: Document) -> DocumentView:
    from .models import Attachment

    files = Prefetch(
        "files",
        queryset=Attachment.objects.select_related("blob").defer("blob__data", "blob__text"),
    )
    versions = list(
        document.versions.select_related("created_by")
        .prefetch_related(files)
        .order_by("-number")[:50]
    )
    owned = document_owned(viewer, document)
    assignments = (
        list(
            document.assignments.select_related(
                "assignee_user", "assignee_unit", "assigned_by"
            ).order_by("id")[:500]
        )
        if owned
        else []
    )
    member = member_get(viewer)
    mine = [a for a in assignments if a.status == "open" and assignment_is_mine(viewer, a)]
    return DocumentView(
        document=document,
        versions=versions,
        recipients=list(document.recipients.select_related("organisation")[:500]),
        assignments=assignments,
        submissions=(
            list(document.submissions.select_related("leader", "submitted_by").order_by("id")[:200])
            if owned
            else []
        ),
        steps=(list(document.steps.select_related("actor").order_by("id")[:1000]) if owned else []),
        replies=list(documents_visible(viewer).filter(in_reply_to=document).order_by("id")[:50]),
        replaced_by=list(documents_visible(viewer).filter(replaces=document).order_by("id")[:20]),
        owned=owned,
        member=member,
        my_assignments=mine,
    )


def attachment_get(*, viewer, pk: int):
    """An attachment of a document the viewer may see, with its bytes (None otherwise)."""
    from .models import Attachment

    return (
        Attachment.objects.select_related("blob", "version__document")
        .filter(pk=pk, version__document__in=documents_visible(viewer))
        .first()
    )


def latest_version(document: Document) -> DocumentVersion | None:
    return document.versions.order_by("-number").first()


# -- workflow ----------------------------------------------------------------------------------


def assignment_is_mine(viewer, assignment: Assignment) -> bool:
    """Assigned to the viewer, or to the viewer's unit."""
    if assignment.assignee_user_id is not None:
        return assignment.assignee_user_id == viewer.pk
    member = member_get(viewer)
    return (
        member is not None
        and member.unit_id is not None
        and member.unit_id == assignment.assignee_unit_id
    )


def _mine_q(viewer) -> Q:
    member = member_get(viewer)
    mine = Q(assignee_user_id=viewer.pk)
    if member is not None and member.unit_id is not None:
        mine |= Q(assignee_unit_id=member.unit_id)
    return mine


@dataclass
class Inbox:
    assignments: list[Assignment]
    overdue: int
    to_approve: list[Submission]
    returned: list[Document]
    drafts: list[Document]
    to_issue: list[Document]


def inbox(*, viewer, today: date | None = None) -> Inbox:
    """What waits for the viewer: open assignments to them or their unit (overdue first, then by
    deadline), submissions to approve, their returned and current drafts, and (clerks) approved
    documents to number and issue."""
    member = member_ensure(viewer)
    today = today or timezone.localdate()
    open_mine = Assignment.objects.filter(_mine_q(viewer), status="open")
    if member is not None:
        open_mine = open_mine.filter(organisation_id=member.organisation_id)
    rows = list(
        open_mine.select_related("document", "document__doc_type", "assignee_unit", "assigned_by")
        .annotate(
            late=Case(When(deadline__lt=today, then=Value(True)), default=Value(False)),
        )
        .order_by("-late", F("deadline").asc(nulls_last=True), "id")[:INBOX_LIMIT]
    )
    to_approve = list(
        Submission.objects.filter(leader_id=viewer.pk, status="pending")
        .select_related("document", "document__doc_type", "submitted_by")
        .order_by("submitted_at")[:INBOX_LIMIT]
    )
    own = Document.objects.filter(created_by_id=viewer.pk).select_related("doc_type")
    if member is not None:
        own = own.filter(organisation_id=member.organisation_id)
    to_issue: list[Document] = []
    if member is not None and member.is_clerk:
        to_issue = list(
            Document.objects.filter(organisation_id=member.organisation_id, status="approved")
            .select_related("doc_type")
            .order_by("id")[:INBOX_LIMIT]
        )
    return Inbox(
        assignments=rows,
        overdue=sum(1 for a in rows if a.late),
        to_approve=to_approve,
        returned=list(own.filter(status="returned").order_by("-id")[:INBOX_LIMIT]),
        drafts=list(own.filter(status="draft").order_by("-id")[:INBOX_LIMIT]),
        to_issue=to_issue,
    )


def overdue_assignments(*, organisation_id: int | None = None, today: date | None = None):
    """Open assignments past their deadline (of one organisation, or all: the daily task)."""
    today = today or timezone.localdate()
    found = Assignment.objects.filter(status="open", deadline__lt=today)
    if organisation_id is not None:
        found = found.filter(organisation_id=organisation_id)
    return found


@dataclass
class UnitLoad:
    unit_id: int | None
    unit_name: str
    open: int
    overdue: int


@dataclass
class Dashboard:
    by_status: list[tuple[str, str, str, int]]  # direction, status, label, count
    units: list[UnitLoad]
    overdue: list[Assignment]
    pending_submissions: int


def leader_dashboard(*, viewer, today: date | None = None) -> Dashboard:
    """The leader's view of their organisation: documents by status, open and overdue
    assignments per unit (a person's assignment counts for their unit), the overdue list."""
    member = member_ensure(viewer)
    if member is None or not member.is_leader:
        raise PermissionDenied(_("Trang này dành cho lãnh đạo cơ quan."))
    org = member.organisation_id
    today = today or timezone.localdate()
    counts = (
        Document.objects.filter(organisation_id=org)
        .values("direction", "status")
        .annotate(n=Count("id"))
        .order_by("direction", "status")
    )
    labels = dict(Document.Status.choices)
    by_status = [(c["direction"], c["status"], labels[c["status"]], c["n"]) for c in counts]
    unit_of = Coalesce(F("assignee_unit_id"), F("assignee_user__office_member__unit_id"))
    loads = (
        Assignment.objects.filter(organisation_id=org, status="open")
        .annotate(unit=unit_of)
        .values("unit")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(deadline__lt=today)),
        )
        .order_by("unit")
    )
    names = dict(OfficeUnit.objects.filter(organisation_id=org).values_list("id", "name"))
    units = [
        UnitLoad(
            unit_id=row["unit"],
            unit_name=names.get(row["unit"], "") if row["unit"] else _("(Chưa thuộc đơn vị nào)"),
            open=row["open"],
            overdue=row["overdue"],
        )
        for row in loads
    ]
    units.sort(key=lambda u: (-u.overdue, -u.open, u.unit_name))
    overdue = list(
        overdue_assignments(organisation_id=org, today=today)
        .select_related("document", "assignee_user", "assignee_unit")
        .order_by("deadline", "id")[:INBOX_LIMIT]
    )
    pending = Submission.objects.filter(document__organisation_id=org, status="pending").count()
    return Dashboard(by_status=by_status, units=units, overdue=overdue, pending_submissions=pending)


# -- registers ---------------------------------------------------------------------------------


def register_ensure(viewer) -> OfficeMember | None:
    member = member_ensure(viewer)
    if member is not None and not (member.is_clerk or member.is_leader):
        raise PermissionDenied(_("Sổ văn bản chỉ dành cho văn thư và lãnh đạo cơ quan."))
    return member


def register_years(*, organisation_id: int, kind: str) -> list[int]:
    return list(
        Register.objects.filter(organisation_id=organisation_id, kind=kind)
        .order_by("-year")
        .values_list("year", flat=True)[:50]
    )


def register_entries(
    *, organisation_id: int, kind: str, year: int, after: int = 0, limit=REGISTER_PAGE
):
    """Register entries in number order after ``after``, with what the columns need."""
    main_handler = Assignment.objects.filter(document_id=OuterRef("pk"), role="main").order_by("id")
    rows = (
        Document.objects.filter(
            organisation_id=organisation_id,
            register__kind=kind,
            register__year=year,
            register_number__gt=after,
        )
        .select_related("doc_type", "drafting_unit")
        .prefetch_related(
            Prefetch("recipients", queryset=DocumentRecipient.objects.order_by("position"))
        )
        .order_by("register_number")
    )
    if kind == Register.Kind.INCOMING:
        rows = rows.annotate(
            handler_unit=main_handler.values("assignee_unit__name")[:1],
            handler_first=main_handler.values("assignee_user__first_name")[:1],
            handler_last=main_handler.values("assignee_user__last_name")[:1],
            handler_login=main_handler.values("assignee_user__username")[:1],
        )
    return list(rows[:limit])


def register_all(*, organisation_id: int, kind: str, year: int):
    """Every entry of a register, read in pages (for the export): bounded memory per page."""
    after = 0
    while True:
        page = register_entries(
            organisation_id=organisation_id, kind=kind, year=year, after=after, limit=1000
        )
        if not page:
            return
        yield from page
        after = page[-1].register_number


def status_counts(documents) -> Counter:
    return Counter(d.status for d in documents)


@dataclass
class DocumentPermissions:
    """What the viewer may do on a document's page now (the actions check again)."""

    assign: bool = False
    comment: bool = False
    edit: bool = False
    upload: bool = False
    submit: bool = False
    issue: bool = False
    send_back: bool = False
    replace: bool = False  # draft a replacement of this issued document
    decide: Submission | None = None  # the pending submission this viewer decides


def document_permissions(*, viewer, view: DocumentView) -> DocumentPermissions:
    doc = view.document
    if not view.owned:
        return DocumentPermissions()
    member = view.member
    operator = is_unrestricted(viewer)
    leader = operator or (member is not None and member.is_leader)
    clerk = operator or (member is not None and member.is_clerk)
    drafter = doc.created_by_id == viewer.pk
    editable = doc.is_outgoing and doc.status in Document.EDITABLE_STATUSES and (drafter or leader)
    has_main = bool(view.versions) and any(f.is_main for f in view.versions[0].files.all())
    pending = next((s for s in view.submissions if s.status == "pending"), None)
    handling = doc.direction == "incoming" and doc.status in HANDLING_STATUSES
    return DocumentPermissions(
        assign=handling and leader,
        send_back=handling and (leader or clerk),
        comment=True,
        edit=editable,
        upload=not doc.is_secret
        and (editable or (handling and (leader or clerk or bool(view.my_assignments)))),
        submit=editable and has_main,
        issue=clerk and doc.status == "approved",
        replace=member is not None
        and doc.direction == "outgoing"
        and doc.status == "issued"
        and not any(r.status == "issued" for r in view.replaced_by),
        decide=pending if pending is not None and pending.leader_id == viewer.pk else None,
    )
