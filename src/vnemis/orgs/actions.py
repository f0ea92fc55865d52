"""Writes to the organisation tree; each keeps the closure table in step in the same transaction."""

from datetime import date

from django.db import connection, transaction

from vnemis.core.audit import audit_record

from .models import Organisation, OrgClosure


def _insert_closure_rows(org: Organisation) -> None:
    rows = [OrgClosure(ancestor_id=org.pk, descendant_id=org.pk, depth=0)]
    if org.parent_id:
        rows += [
            OrgClosure(ancestor_id=a, descendant_id=org.pk, depth=d + 1)
            for a, d in OrgClosure.objects.filter(descendant_id=org.parent_id).values_list(
                "ancestor_id", "depth"
            )
        ]
    OrgClosure.objects.bulk_create(rows)


@transaction.atomic
def organisation_create(*, actor=None, **fields) -> Organisation:
    """Create an organisation under its parent and add its closure rows."""
    org = Organisation(**fields)
    org.full_clean(exclude=["name_search"])
    org.save()
    _insert_closure_rows(org)
    audit_record(actor=actor, action="create", object_type="organisation", object_id=org.pk)
    return org


@transaction.atomic
def organisation_move(*, actor=None, org: Organisation, new_parent: Organisation) -> Organisation:
    """Re-parent a subtree: drop its links to old ancestors and link it under the new parent."""
    if OrgClosure.objects.filter(ancestor=org, descendant=new_parent).exists():
        raise ValueError("An organisation cannot be moved under its own descendant.")
    subtree = list(OrgClosure.objects.filter(ancestor=org).values_list("descendant_id", "depth"))
    subtree_ids = [d for d, _ in subtree]
    OrgClosure.objects.filter(descendant_id__in=subtree_ids).exclude(
        ancestor_id__in=subtree_ids
    ).delete()
    new_ancestors = list(
        OrgClosure.objects.filter(descendant=new_parent).values_list("ancestor_id", "depth")
    )
    OrgClosure.objects.bulk_create(
        OrgClosure(ancestor_id=a, descendant_id=d, depth=ad + dd + 1)
        for a, ad in new_ancestors
        for d, dd in subtree
    )
    org.parent = new_parent
    org.save(update_fields=["parent", "updated_at"])
    audit_record(
        actor=actor,
        action="update",
        object_type="organisation",
        object_id=org.pk,
        detail={"fields": ["parent"]},
    )
    return org


@transaction.atomic
def organisation_close(
    *, actor=None, org: Organisation, closed_on: date, merged_into: Organisation | None = None
) -> Organisation:
    """Close a school, or record that it merged into another (status and date both kept)."""
    org.status = Organisation.Status.MERGED if merged_into else Organisation.Status.CLOSED
    org.closed_on = closed_on
    org.merged_into = merged_into
    org.full_clean(exclude=["name_search"])
    org.save()
    audit_record(
        actor=actor,
        action="update",
        object_type="organisation",
        object_id=org.pk,
        detail={"fields": ["status"]},
    )
    return org


@transaction.atomic
def closure_rebuild() -> int:
    """Recompute the whole closure table from parent links in SQL (after a bulk load)."""
    OrgClosure.objects.all().delete()
    table, orgs = OrgClosure._meta.db_table, Organisation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE walk(ancestor_id, descendant_id, depth) AS (
                SELECT id, id, 0 FROM {orgs}
                UNION ALL
                SELECT o.parent_id, w.descendant_id, w.depth + 1
                FROM walk w JOIN {orgs} o ON o.id = w.ancestor_id
                WHERE o.parent_id IS NOT NULL
            )
            INSERT INTO {table} (ancestor_id, descendant_id, depth)
            SELECT ancestor_id, descendant_id, depth FROM walk
            """  # noqa: S608 - table names come from model metadata, not input
        )
    return OrgClosure.objects.count()
