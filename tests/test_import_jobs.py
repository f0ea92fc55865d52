"""Import jobs end to end: create (scope, size), run (dry run, the two modes, re-import,
updates), resume after a lost worker, cancel, and the three doors: web page, API, CLI.

Real database, real files, the real intake and engine; the task backend in tests runs a job
as soon as its transaction commits (``django_capture_on_commit_callbacks``).
"""

import csv
import io
import zipfile
from datetime import timedelta

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from vnemis.exchange.imports import (
    ImportRefused,
    import_cancel,
    import_create,
    import_file,
    import_report,
    import_resume_stale,
    import_run,
)
from vnemis.exchange.models_imports import ImportJob
from vnemis.orgs.tokens import api_token_create
from vnemis.registry.models import Enrolment, Person

ROSTER_HEADER = [
    "school_code",
    "pupil_code",
    "full_name",
    "birth_date",
    "sex",
    "ethnicity_code",
    "nationality",
    "school_year",
    "class_name",
    "status",
    "started_on",
]
NAMES = ["Nguyễn Văn Hải", "Trần Thị Mai", "Lê Minh Khoa", "Phạm Thu Hà", "Vũ Đức Anh"]


def roster_rows(school="01000101", n=5, prefix="HS"):
    return [
        [
            school,
            f"{prefix}{i:04d}",
            NAMES[i % len(NAMES)],
            f"2017-0{1 + i % 9}-1{i % 10}",
            "M" if i % 2 else "F",
            "01",
            "VN",
            "2025-2026",
            "3A",
            "studying",
            "2025-09-05",
        ]
        for i in range(n)
    ]


def write_csv(path, rows, header=ROSTER_HEADER):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def school_user(users):
    return users["school"]


def counts():
    return Person.objects.count(), Enrolment.objects.count()


def error_frame(job):
    return pl.read_parquet(job.workdir / "errors.parquet")


# -- create: who, what, how big ----------------------------------------------------------------


def test_school_user_cannot_import_for_another_school(users, tmp_path):
    path = write_csv(tmp_path / "r.csv", roster_rows(school="48000101"))
    with pytest.raises(ImportRefused) as exc:
        import_file(path, actor=users["school"], school="48000101")
    assert exc.value.status == 403 and exc.value.code == "out_of_scope"
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("role", ["teacher", "citizen"])
def test_roles_without_write_access_are_refused(users, tmp_path, role):
    path = write_csv(tmp_path / "r.csv", roster_rows())
    with pytest.raises(ImportRefused) as exc:
        import_file(path, actor=users[role])
    assert exc.value.code == "forbidden"
    assert not ImportJob.objects.exists()


def test_size_limit_refuses_clearly_and_keeps_nothing(users, tmp_path, settings):
    settings.VNEMIS_IMPORT_MAX_BYTES = 200
    path = write_csv(tmp_path / "r.csv", roster_rows(n=20))
    with pytest.raises(ImportRefused) as exc:
        import_file(path, actor=users["school"])
    assert exc.value.status == 413 and exc.value.code == "file_too_large"
    assert "MB" in exc.value.message_vi
    assert not ImportJob.objects.exists()
    assert not list((settings.VAR_DIR / "imports").glob("*"))


def test_size_limit_holds_when_the_declared_size_lies(users, settings):
    settings.VNEMIS_IMPORT_MAX_BYTES = 1000

    class Lying(io.BytesIO):
        size = 10  # what a client claims; the stream is bigger

    with pytest.raises(ImportRefused) as exc:
        import_create(
            actor=users["school"],
            source=Lying(b"x" * 5000),
            source_name="big.csv",
            origin="api",
            enqueue=False,
        )
    assert exc.value.code == "file_too_large"


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.csv", b"", "empty_file"),
        ("data.exe", b"MZ....", "unsupported_format"),
        ("data.pdf", b"%PDF-1.4", "unsupported_format"),
    ],
)
def test_malformed_uploads_are_refused(users, name, content, code):
    with pytest.raises(ImportRefused) as exc:
        import_create(
            actor=users["school"],
            source=io.BytesIO(content),
            source_name=name,
            origin="web",
            enqueue=False,
        )
    assert exc.value.code == code


def test_a_refused_file_is_named_as_the_user_named_it(users, tmp_path):
    path = tmp_path / "danh sách lớp 6A.csv"
    path.write_bytes(b"Ma,HS\n" + b"\x00\x01\x02\x03" * 500)
    job = import_file(path, actor=users["school"], school="01000101")
    assert job.status == ImportJob.Status.REJECTED
    assert "'danh sách lớp 6A.csv'" in job.error and "source.csv" not in job.error


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"entity": "grades"}, "unknown_entity"), ({"mode": "sometimes"}, "unknown_mode")],
)
def test_unknown_entity_or_mode_is_refused(users, kwargs, code):
    with pytest.raises(ImportRefused) as exc:
        import_create(
            actor=users["school"],
            source=io.BytesIO(b"a,b\n1,2\n"),
            source_name="x.csv",
            origin="api",
            enqueue=False,
            **kwargs,
        )
    assert exc.value.code == code


def test_file_is_stored_with_its_digest_and_the_creation_audited(users, tmp_path):
    import hashlib

    from vnemis.core.models import AuditEntry

    path = write_csv(tmp_path / "r.csv", roster_rows())
    job = import_create(
        actor=users["school"], source=path, source_name="../../r.csv", origin="cli", enqueue=False
    )
    assert job.source_name == "r.csv"  # folders in a client's name are dropped
    assert job.school.code == "01000101"  # a school account defaults to its school
    stored = job.workdir / "source.csv"
    assert stored.read_bytes() == path.read_bytes()
    assert job.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert AuditEntry.objects.filter(object_type="import_job", object_id=str(job.pk)).exists()


# -- run: the two modes, dry run, re-import ----------------------------------------------------


def test_dry_run_writes_nothing_and_reports_counts(users, tmp_path):
    before = counts()
    path = write_csv(tmp_path / "r.csv", roster_rows())
    job = import_file(path, actor=users["school"], dry_run=True)
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert counts() == before
    assert job.inserted == 10  # 5 pupils + 5 enrolments would be inserted
    assert job.rows_rejected == 0


def test_apply_valid_applies_good_rows_and_reports_bad_ones(users, tmp_path):
    rows = roster_rows()
    rows[1][3] = "31/02/2017"  # row 3 of the file: no such date
    rows[3][4] = "X"  # row 5: not a sex code
    path = write_csv(tmp_path / "r.csv", rows)
    before = counts()
    job = import_file(path, actor=users["school"])
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert counts() == (before[0] + 3, before[1] + 3)
    assert job.rows_rejected == 2
    errors = error_frame(job)
    assert set(errors.filter(pl.col("severity") == "error")["row"].to_list()) == {3, 5}
    assert job.causes and sum(c["count"] for c in job.causes) >= 2
    assert all(c.get("message_vi") for c in job.causes)


def test_all_or_nothing_rejects_a_file_with_one_bad_row(users, tmp_path):
    rows = roster_rows()
    rows[2][3] = "not a date"
    path = write_csv(tmp_path / "r.csv", rows)
    before = counts()
    job = import_file(path, actor=users["school"], mode="all_or_nothing")
    assert job.status == ImportJob.Status.REJECTED
    assert counts() == before
    assert job.inserted == job.updated == 0
    assert 4 in error_frame(job)["row"].to_list()


def test_same_file_twice_says_no_changes_and_a_changed_row_updates_one(users, tmp_path):
    path = write_csv(tmp_path / "r.csv", roster_rows())
    first = import_file(path, actor=users["school"])
    assert first.status == ImportJob.Status.SUCCEEDED, first.error
    assert first.inserted == 10
    after_first = counts()

    again = import_file(path, actor=users["school"])
    assert again.status == ImportJob.Status.SUCCEEDED
    assert again.inserted == again.updated == 0
    assert again.no_changes
    assert counts() == after_first

    rows = roster_rows()
    rows[0][2] = "Nguyễn Văn Hải Đăng"
    changed = import_file(write_csv(tmp_path / "r2.csv", rows), actor=users["school"])
    assert changed.updated == 1 and changed.inserted == 0
    assert not changed.no_changes
    assert counts() == after_first


def test_rows_of_another_school_are_errors_for_a_school_user(users, tmp_path):
    rows = roster_rows() + roster_rows(school="48000101", n=2, prefix="X")
    path = write_csv(tmp_path / "r.csv", rows)
    job = import_file(path, actor=users["school"])
    bad = error_frame(job).filter(pl.col("severity") == "error")
    assert set(bad["row"].to_list()) == {7, 8}
    assert set(bad["code"].to_list()) & {"out_of_scope", "wrong_school"}
    assert not Enrolment.objects.filter(pupil_code__startswith="X").exists()
    assert Enrolment.objects.filter(pupil_code__startswith="HS").count() == 5


def test_department_imports_rows_of_its_schools_only(users, tmp_path):
    rows = roster_rows(n=3) + roster_rows(school="48000101", n=2, prefix="X")
    path = write_csv(tmp_path / "r.csv", rows)
    job = import_file(path, actor=users["department"])
    assert job.school is None
    bad = error_frame(job).filter(pl.col("severity") == "error")
    assert set(bad["row"].to_list()) == {5, 6}
    assert not Enrolment.objects.filter(pupil_code__startswith="X").exists()


def test_zip_of_standard_files_is_imported(users, tmp_path):
    rows = roster_rows()
    buf = io.StringIO()
    csv.writer(buf).writerows([ROSTER_HEADER, *rows])
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("export/roster.csv", buf.getvalue())
        z.writestr("__MACOSX/._roster.csv", "junk")
    job = import_file(archive, actor=users["school"])
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.inserted == 10


@pytest.mark.parametrize(
    ("member", "code"),
    [("../../etc/evil.csv", "zip_unsafe_path"), ("/abs/evil.csv", "zip_unsafe_path")],
)
def test_zip_with_unsafe_paths_is_rejected(users, tmp_path, member, code):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(member, "a,b\n1,2\n")
    job = import_file(archive, actor=users["school"])
    assert job.status == ImportJob.Status.REJECTED
    assert job.result.get("refused") == code
    assert not (tmp_path / "etc").exists()


def test_zip_bomb_is_rejected(users, tmp_path, settings):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("roster.csv", b"0" * (30 << 20))  # 30 MB of zeros in ~30 KB
    job = import_file(archive, actor=users["school"])
    assert job.status == ImportJob.Status.REJECTED
    assert job.result.get("refused") == "zip_bomb"
    assert "quá lớn" in job.error


def test_malformed_zip_is_rejected(users, tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    job = import_file(archive, actor=users["school"])
    assert job.status == ImportJob.Status.REJECTED
    assert job.result.get("refused") == "zip_malformed"


# -- claim, resume, attempts, cancel -------------------------------------------------------------


def _queued(users, tmp_path, rows=None, **kwargs):
    path = write_csv(tmp_path / "q.csv", rows or roster_rows())
    return import_create(
        actor=users["school"],
        source=path,
        source_name="q.csv",
        origin="cli",
        enqueue=False,
        **kwargs,
    )


def test_a_job_held_by_a_live_worker_is_not_run_twice(users, tmp_path):
    job = _queued(users, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.APPLYING, executor="other", heartbeat_at=timezone.now()
    )
    before = counts()
    job = import_run(job.pk)
    assert job.status == ImportJob.Status.APPLYING and job.executor == "other"
    assert counts() == before
    assert job.pk not in [j for j in import_resume_stale()]


def test_a_stale_job_is_claimed_again_and_finishes(users, tmp_path):
    job = _queued(users, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.VALIDATING,
        executor="dead",
        attempts=1,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    half = job.workdir / ".intake-dead"  # what the dead worker's intake left behind
    half.mkdir()
    (half / "manifest.json").write_text("{")
    assert str(job.pk) in import_resume_stale()  # immediate backend: ran it already
    assert not half.exists()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    assert job.attempts == 2
    assert job.inserted == 10


def test_after_max_attempts_a_job_fails_cleanly(users, tmp_path):
    job = _queued(users, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.APPLYING,
        executor="dead",
        attempts=3,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    before = counts()
    job = import_run(job.pk)
    assert job.status == ImportJob.Status.FAILED
    assert "3" in job.error and "Nguyễn" not in job.error
    assert counts() == before


def test_finished_job_is_left_alone(users, tmp_path):
    path = write_csv(tmp_path / "r.csv", roster_rows())
    job = import_file(path, actor=users["school"])
    again = import_run(job.pk)
    assert again.status == job.status and again.attempts == job.attempts


def test_cancel_a_queued_job_and_refuse_cancelling_a_finished_one(users, tmp_path):
    job = _queued(users, tmp_path)
    job = import_cancel(actor=users["school"], job=job)
    assert job.status == ImportJob.Status.CANCELLED
    before = counts()
    assert import_run(job.pk).status == ImportJob.Status.CANCELLED
    assert counts() == before
    with pytest.raises(ImportRefused) as exc:
        import_cancel(actor=users["school"], job=job)
    assert exc.value.status == 409


# -- the web pages -------------------------------------------------------------------------------


def test_web_upload_flow(client, users, tmp_path, django_capture_on_commit_callbacks):
    client.force_login(users["school"])
    assert client.get(reverse("import_new")).status_code == 200
    rows = roster_rows()
    rows[0][3] = "2017-13-45"
    path = write_csv(tmp_path / "r.csv", rows)
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as fh:
        response = client.post(
            reverse("import_new"),
            {"file": fh, "entity": "", "mode": "apply_valid"},
            HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        )
    assert response.status_code == 201
    url = response.json()["url"]
    job = ImportJob.objects.get()
    assert url == reverse("import_detail", args=[job.pk])
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "import-causes" in html and "import-errors" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    fragment = client.get(url, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith("<section")
    for fmt in ("csv", "xlsx"):
        report = client.get(reverse(f"import_errors_{fmt}", args=[job.pk]))
        assert report.status_code == 200
        assert "attachment" in report["Content-Disposition"]
        body = b"".join(report.streaming_content)
        assert body
    listing = client.get(reverse("import_list"))
    assert job.source_name in listing.content.decode()


def test_web_page_polls_while_the_job_runs(client, users, tmp_path):
    job = _queued(users, tmp_path)
    client.force_login(users["school"])
    html = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html


def test_web_upload_refusals(client, users, settings):
    client.force_login(users["school"])
    response = client.post(reverse("import_new"), {"mode": "apply_valid"})
    assert response.status_code == 422
    settings.VNEMIS_IMPORT_MAX_BYTES = 10
    upload = io.BytesIO(b"x" * 200_000)
    upload.name = "big.csv"
    response = client.post(
        reverse("import_new"), {"file": upload}, HTTP_X_REQUESTED_WITH="XMLHttpRequest"
    )
    assert response.status_code == 413
    assert "quá lớn" in response.json()["message"]
    assert not ImportJob.objects.exists()


def test_jobs_are_visible_by_scope_only(client, users, tmp_path):
    job = _queued(users, tmp_path)
    url = reverse("import_detail", args=[job.pk])
    for name, status in [
        ("school", 200),
        ("department", 200),
        ("ministry", 200),
        ("school_c", 404),
        ("department_dn", 404),
        ("teacher", 404),
    ]:
        client.force_login(users[name])
        assert client.get(url).status_code == status, name
        report = client.get(reverse("import_errors_csv", args=[job.pk]))
        assert report.status_code in (404, 409), name


# -- the API -------------------------------------------------------------------------------------


def _bearer(user):
    _token, raw = api_token_create(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_api_flow(client, users, tmp_path, django_capture_on_commit_callbacks):
    auth = _bearer(users["school"])
    rows = roster_rows()
    rows[4][4] = "Q"
    path = write_csv(tmp_path / "r.csv", rows)
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as fh:
        response = client.post(
            "/api/v1/imports", {"file": fh, "mode": "apply_valid", "dry_run": "false"}, **auth
        )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = client.get(f"/api/v1/imports/{job_id}", **auth).json()
    assert body["status"] == "succeeded"
    assert body["rows_rejected"] == 1 and body["inserted"] == 8
    assert body["causes"]
    page = client.get(f"/api/v1/imports/{job_id}/errors?format=json&limit=1", **auth).json()
    assert page["items"][0]["row"] == 6 and page["items"][0]["message_vi"]
    if page["next_cursor"]:
        nxt = client.get(
            f"/api/v1/imports/{job_id}/errors",
            {"format": "json", "limit": 1, "cursor": page["next_cursor"]},
            **auth,
        ).json()
        assert nxt["items"][0]["position"] == 2
    bad = client.get(f"/api/v1/imports/{job_id}/errors?format=json&cursor=abc", **auth)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
    xlsx = client.get(f"/api/v1/imports/{job_id}/errors?format=xlsx", **auth)
    assert xlsx.status_code == 200 and "attachment" in xlsx["Content-Disposition"]
    assert client.get(f"/api/v1/imports/{job_id}/errors?format=pdf", **auth).status_code == 422
    cancel = client.post(f"/api/v1/imports/{job_id}/cancel", **auth)
    assert cancel.status_code == 409 and cancel.json()["code"] == "already_finished"
    other = _bearer(users["school_c"])
    assert client.get(f"/api/v1/imports/{job_id}", **other).status_code == 404


def test_api_refusals(client, users, tmp_path):
    auth = _bearer(users["school"])
    path = write_csv(tmp_path / "r.csv", roster_rows())
    with open(path, "rb") as fh:
        response = client.post("/api/v1/imports", {"file": fh, "school": "48000101"}, **auth)
    assert response.status_code == 403 and response.json()["code"] == "out_of_scope"
    response = client.post("/api/v1/imports", {}, **auth)
    assert response.status_code == 422
    assert client.post("/api/v1/imports", {}).status_code == 401
    assert not ImportJob.objects.exists()


def test_api_cancel_queued_job(client, users, tmp_path):
    job = _queued(users, tmp_path)
    response = client.post(f"/api/v1/imports/{job.pk}/cancel", **_bearer(users["school"]))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_exit_codes(users, tmp_path, capsys):
    good = write_csv(tmp_path / "good.csv", roster_rows())
    call_command("import", str(good), "--school", "01000101", "--user", "truong_a")
    out = capsys.readouterr().out
    assert "succeeded" in out and "inserted / thêm: 10" in out
    call_command("import", str(good), "--school", "01000101")
    assert "Không có thay đổi" in capsys.readouterr().out

    rows = roster_rows(prefix="Z")
    rows[0][3] = "yesterday"
    bad = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(CommandError) as exc:
        call_command("import", str(bad), "--school", "01000101", "--all-or-nothing")
    assert exc.value.returncode == 2
    out = capsys.readouterr().out
    assert "rejected" in out and "errors.csv" in out
    assert not Enrolment.objects.filter(pupil_code__startswith="Z").exists()
    # Applying the valid rows and rejecting the bad one: a distinct status for scripts.
    with pytest.raises(CommandError) as exc:
        call_command("import", str(bad), "--school", "01000101")
    assert exc.value.returncode == 3
    assert Enrolment.objects.filter(pupil_code__startswith="Z").count() == len(rows) - 1

    with pytest.raises(CommandError):
        call_command("import", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError):
        call_command("import", str(good), "--school", "48000101", "--user", "truong_a")


def test_cancel_mid_apply_stops_after_the_current_chunk(users, tmp_path, settings):
    settings.VNEMIS_IMPORT_CHUNK_ROWS = 2
    job = _queued(users, tmp_path, rows=roster_rows(n=6))
    before = counts()
    asked = []

    def progress(phase, done, total):
        # The user presses "cancel" while the first chunk is being written.
        if phase == "applying" and not asked:
            asked.append(done)
            import_cancel(actor=users["school"], job=job)

    job = import_run(job.pk, progress=progress)
    assert asked == [2]
    assert job.status == ImportJob.Status.CANCELLED
    # The unit being written commits whole (the first 2 pupils, with their enrolments when
    # the engine loads a roster's two parts together), nothing after it.
    added = (counts()[0] - before[0], counts()[1] - before[1])
    assert added[0] == 2 and job.chunks_done["pupils"] == 1
    assert added[1] == 2 * job.chunks_done.get("enrolments", 0)
    assert job.done == sum(added)


def test_a_cancel_before_applying_writes_nothing(users, tmp_path):
    job = _queued(users, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.APPLYING,
        cancel_requested=True,
        executor="dead",
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    before = counts()
    job = import_run(job.pk)
    assert job.status == ImportJob.Status.CANCELLED
    assert counts() == before


def test_oneroster_bundle_zip_goes_through_the_same_job(users, tmp_path):
    from vnemis.exchange.oneroster import oneroster_export

    bundle = tmp_path / "oneroster.zip"
    oneroster_export(
        actor=users["school"], org_code="01000101", year_code="2025-2026", out=bundle,
        extensions=True,
    )  # fmt: skip
    job = import_file(bundle, actor=users["school"])
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    # The bundle was recognised and converted: its entities went through intake and the engine.
    assert {"staff", "classes", "pupils", "enrolments"} <= set(job.result["entities"])
    assert job.result["entities"]["classes"]["unchanged"] == 1  # class 3A, already there
    assert job.total > 0 and job.done == job.total


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("headers.csv", "colour,size\nred,2\n"),  # nothing of the standard
        ("broken.xlsx", "this is not a workbook"),
        ("rows.jsonl", '{"school_code": "01000101"\n{broken'),
    ],
)
def test_a_file_intake_refuses_is_rejected_with_its_reason(users, tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    before = counts()
    job = import_file(path, actor=users["school"])
    assert job.status == ImportJob.Status.REJECTED
    assert job.error and " / " in job.error  # Vietnamese / English
    assert job.result.get("refused")
    assert counts() == before


def test_pages_say_no_changes_for_the_same_file_again(client, users, tmp_path):
    path = write_csv(tmp_path / "r.csv", roster_rows())
    import_file(path, actor=users["school"])
    job = import_file(path, actor=users["school"])
    client.force_login(users["school"])
    html = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert 'id="no-changes"' in html
    body = client.get(f"/api/v1/imports/{job.pk}", **_bearer(users["school"])).json()
    assert body["no_changes"] is True


def test_department_upload_page_offers_its_schools_and_imports_for_one(
    client, users, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(users["department"])
    html = client.get(reverse("import_new")).content.decode()
    assert 'value="01000101"' in html and 'value="01000102"' in html
    assert "48000101" not in html  # another Department's school
    path = write_csv(tmp_path / "r.csv", roster_rows())
    with django_capture_on_commit_callbacks(execute=True), open(path, "rb") as fh:
        response = client.post(reverse("import_new"), {"file": fh, "school": "01000101"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"{job.pk}/")
    assert job.school.code == "01000101" and job.status == ImportJob.Status.SUCCEEDED
    with open(path, "rb") as fh:
        refused = client.post(reverse("import_new"), {"file": fh, "school": "48000101"})
    assert refused.status_code == 403
    assert "ngoài phạm vi" in refused.content.decode()
    assert ImportJob.objects.count() == 1


# -- the rows to fix ------------------------------------------------------------------------------


def test_rows_to_fix_hands_back_the_refused_rows_to_fix_and_send_again(users, tmp_path, client):
    """The school downloads only its refused rows, with the file's own headers, the faulty cells
    shaded and each row's errors; fixes the cells in that very file and imports it: the rows
    are applied and nothing warns about the two error columns."""
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    rows = roster_rows(n=6, prefix="FX")
    rows[1][3] = "31/02/2017"  # intake: no such date
    rows[4][8] = "3Z"  # the registry: no such class
    path = write_csv(tmp_path / "lop 3A.csv", rows, header=["Mã trường", *ROSTER_HEADER[1:]])
    job = import_file(path, actor=users["school"], school="01000101")
    assert job.status == ImportJob.Status.SUCCEEDED and job.rows_rejected == 2
    client.force_login(users["school"])
    page = client.get(f"/exchange/imports/{job.pk}/").content.decode()
    assert "rows-to-fix" in page
    response = client.get(f"/exchange/imports/{job.pk}/rows-to-fix.xlsx")
    assert response.status_code == 200
    fix = tmp_path / "fix.xlsx"
    fix.write_bytes(b"".join(response.streaming_content))
    sheet = CalamineWorkbook.from_path(str(fix)).get_sheet_by_index(0).to_python()
    header, *data = sheet
    assert header[0] == "Dòng gốc / Row" and header[1] == "Mã trường"
    assert header[-2:] == ["Lỗi cần sửa", "Error to fix"]
    assert [int(r[0]) for r in data] == [3, 6]  # row numbers as in the file
    assert data[0][header.index("birth_date")] == "31/02/2017"  # as the school wrote it
    assert "ngày" in data[0][-2].lower() and "class" in data[1][-1].lower()
    # Fixed in place and sent back.
    data[0][header.index("birth_date")] = "28/02/2017"
    data[1][header.index("class_name")] = "3A"
    book = xlsxwriter.Workbook(str(tmp_path / "fixed.xlsx"))
    out = book.add_worksheet()
    for r, values in enumerate([header, *data]):
        out.write_row(r, 0, [str(v) for v in values])
    book.close()
    again = import_file(tmp_path / "fixed.xlsx", actor=users["school"], school="01000101")
    assert again.status == ImportJob.Status.SUCCEEDED, again.error
    assert again.rows_rejected == 0 and again.result.get("warnings", 0) == 0
    assert Enrolment.objects.filter(pupil_code__startswith="FX").count() == 6


def test_rows_to_fix_is_refused_when_there_is_nothing_to_fix(users, tmp_path):
    job = import_file(write_csv(tmp_path / "ok.csv", roster_rows()), actor=users["school"],
                      school="01000101")  # fmt: skip
    with pytest.raises(ImportRefused) as exc:
        import_report(actor=users["school"], job=job, fmt="fix")
    assert exc.value.code == "no_rows_to_fix" and exc.value.status == 409
