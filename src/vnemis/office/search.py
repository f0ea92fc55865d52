"""Full-text search over documents: metadata and the text of their current files.

Diacritics-insensitive: the text is folded by ``core.text.search_key`` (lower case, no marks,
đ → d) and cut into plain words before it is stored in ``DocumentSearch.body``, and the query
is folded the same way, so "quyet dinh" finds "Quyết định" and "QĐ-BGDĐT" finds "qd bgddt".
Every word of the query must occur (as a word prefix) in a matching document.

Two backends behind ``documents_search``:

- PostgreSQL: ``to_tsvector('simple', body) @@ to_tsquery('simple', 'quyet:* & dinh:*')``
  served by the GIN expression index ``office_docsearch_tsv`` (migration 0003). No unaccent
  extension is needed: the body is folded already.
- SQLite: the FTS5 table ``office_document_fts`` (external content over
  ``office_documentsearch``, kept in step by triggers; migration 0003), queried with
  ``MATCH '"quyet"* "dinh"*'``.

Results are scoped like every document read (``selectors.documents_visible``) inside the same
query, newest first, keyset-paged by id.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models.expressions import RawSQL

from vnemis.core.text import search_key

from .models import Attachment, Document, DocumentRecipient, DocumentSearch

_WORD = re.compile(r"\w+")
MAX_QUERY_WORDS = 12
PAGE_SIZE = 50
# A tsvector holds at most 1 MB: the body is bounded well below it.
MAX_BODY_CHARS = 600_000


def fold_words(text: str) -> list[str]:
    """The folded words of a text: 'Số 05/QĐ-BGDĐT' → ['so', '05', 'qd', 'bgddt']."""
    return _WORD.findall(search_key(text))


def document_body(document: Document, *, files=None) -> str:
    """The searchable text of a document: its metadata and its current files' text (``files``:
    their (name, text) pairs when the caller has them, for a document just created, which has
    no recipients yet)."""
    from .numbering import format_number

    parts = [
        document.number_notation,
        format_number(document.number),
        document.notation,
        document.doc_type.name,
        document.issuer_name,
        document.issuer_organ_id,
        document.subject,
        document.signer_name,
        document.signer_position,
        document.place,
        document.external_id,
    ]
    if files is None:
        parts += [r.name for r in DocumentRecipient.objects.filter(document=document)]
        latest = document.versions.order_by("-number").first()
        files = []
        if latest is not None:
            files = Attachment.objects.filter(version=latest).values_list("name", "blob__text")
    for name, text in files:
        parts += [name, text]
    body = " ".join(" ".join(fold_words(p)) for p in parts if p)
    return body[:MAX_BODY_CHARS]


def search_index_refresh(document: Document, *, new: bool = False, files=None) -> None:
    """Rewrite a document's search row (inside the caller's transaction); ``new``: the
    document was just created, so it has none yet (and ``files`` may give its files)."""
    body = document_body(document, files=files if new else None)
    if new:
        DocumentSearch.objects.create(document=document, body=body)
    else:
        DocumentSearch.objects.update_or_create(document=document, defaults={"body": body})


def search_text_add(*, blob_id: int, text: str) -> None:
    """Add a file's text, extracted after its documents were indexed without it (pending), to
    the search rows of the documents whose current version holds it: one statement, however
    many documents (inside the caller's transaction)."""
    words = " ".join(fold_words(text))
    if not words:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE office_documentsearch SET body = substr(body || ' ' || %s, 1, %s)"
            " WHERE document_id IN (SELECT v.document_id FROM office_attachment a"
            " JOIN office_documentversion v ON v.id = a.version_id WHERE a.blob_id = %s"
            " AND v.number = (SELECT MAX(w.number) FROM office_documentversion w"
            " WHERE w.document_id = v.document_id))",
            [words, MAX_BODY_CHARS, blob_id],
        )


def _query_words(q: str) -> list[str]:
    words = fold_words(q)[:MAX_QUERY_WORDS]
    return [w for w in words if w]


def _match_ids_sql(words: list[str]) -> RawSQL:
    """A sub-query of the ids of documents whose text holds every word (as a word prefix)."""
    if connection.vendor == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        return RawSQL(
            "SELECT document_id FROM office_documentsearch "
            "WHERE to_tsvector('simple', body) @@ to_tsquery('simple', %s)",
            [tsquery],
        )
    match = " ".join(f'"{w}"*' for w in words)  # words are \w+ only: no FTS5 syntax inside
    return RawSQL(
        "SELECT rowid FROM office_document_fts WHERE office_document_fts MATCH %s", [match]
    )


def documents_search(
    *, viewer, q: str, direction: str = "", year: int | None = None, before: int | None = None
) -> tuple[list[Document], int | None, list[str]]:
    """One page of the viewer's documents matching ``q``: (documents, id to continue before,
    the folded words searched for). No words: no results."""
    from .selectors import documents_visible

    words = _query_words(q)
    if not words:
        return [], None, []
    found = documents_visible(viewer).filter(id__in=_match_ids_sql(words))
    if direction in Document.Direction.values:
        found = found.filter(direction=direction)
    if year:
        found = found.filter(issued_year=year)
    if before:
        found = found.filter(id__lt=before)
    rows = list(found.select_related("doc_type", "organisation").order_by("-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].pk if more else None), words
