"""``vnemis demo``: set up a working platform on the embedded database and run it.

Migrates, loads the administrative map and the organisation tree, generates and loads one demo
province (≥100 schools, ≥30,000 pupils) unless it is already loaded, creates one log-in per
role with known demo passwords, then runs the job worker and the web server until Ctrl-C.
Running it again reuses what is there; ``--reset`` starts from an empty embedded database.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from vnemis.orgs.models import ApiToken, Organisation, User
from vnemis.registry.loaders import dataset_load
from vnemis.registry.models import Enrolment, SchoolClass, StaffAssignment

DEMO_PASSWORD = "vnemis-demo"  # noqa: S105 - a published password for a local demo only
TOKEN_NAME = "demo"  # noqa: S105 - the label of the token, not a secret


class Command(BaseCommand):
    help = "Set up and run the demo platform. / Dựng và chạy bản trình diễn."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="set up only / chỉ dựng")
        parser.add_argument("--port", type=int, default=int(os.environ.get("VNEMIS_PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("VNEMIS_HOST", "127.0.0.1"))
        parser.add_argument(
            "--reset", action="store_true", help="start from an empty embedded database"
        )
        parser.add_argument("--province", default="01")
        parser.add_argument("--schools", type=int, default=120)
        parser.add_argument("--students", type=int, default=30_000)
        parser.add_argument("--seed", type=int, default=2025)

    def handle(self, *args, **opts):
        started = time.perf_counter()
        if opts["reset"]:
            self._reset()
        self._step("migrate / cập nhật cấu trúc CSDL")
        call_command("migrate", verbosity=0, interactive=False)
        self._reference_data()
        school = self._demo_data(opts)
        logins, raw_token = self._users(school)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {time.perf_counter() - started:.1f} s "
                f"/ Bản trình diễn sẵn sàng sau {time.perf_counter() - started:.1f} giây."
            )
        )
        url = f"http://{opts['host']}:{opts['port']}/"
        self._print_logins(logins, raw_token, url)
        if not opts["no_serve"]:
            self._serve(opts["host"], opts["port"])

    # -- steps ---------------------------------------------------------------------------------

    def _step(self, text: str) -> None:
        self.stdout.write(f"→ {text}")

    def _reset(self) -> None:
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError(
                "--reset chỉ xoá CSDL nhúng (SQLite) / --reset only clears the embedded SQLite "
                "database; drop a PostgreSQL database yourself."
            )
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db['NAME']}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(self._demo_dir(), ignore_errors=True)
        self._step("embedded database removed / đã xoá CSDL nhúng")

    def _reference_data(self) -> None:
        from vnemis.geo.models import Province

        if not Province.objects.exists():
            self._step("geo load / nạp bản đồ hành chính")
            call_command("geo", "load", verbosity=0, stdout=_Quiet())
        if not Organisation.objects.filter(kind=Organisation.Kind.MINISTRY).exists():
            self._step("orgs seed / tạo Bộ và các Sở")
            call_command("orgs", "seed", stdout=_Quiet())

    def _demo_dir(self) -> Path:
        return Path(settings.VAR_DIR) / "demo"

    def _demo_data(self, opts) -> Organisation:
        province = opts["province"]
        if not Enrolment.objects.filter(province_code=province).exists():
            directory = self._demo_dir() / f"dataset_{province}_{opts['students']}"
            if not (directory / "manifest.json").exists():
                if "generate" not in get_commands():
                    raise CommandError(
                        "Chưa có lệnh 'vnemis generate' / the 'vnemis generate' command is not "
                        "installed, so no demo data can be made."
                    )
                self._step(
                    f"generate province {province}: {opts['schools']} schools, "
                    f"{opts['students']:,} pupils / sinh dữ liệu mẫu"
                )
                shutil.rmtree(directory, ignore_errors=True)
                call_command(
                    "generate",
                    "--out",
                    str(directory),
                    "--provinces",
                    province,
                    "--schools",
                    str(opts["schools"]),
                    "--students",
                    str(opts["students"]),
                    "--seed",
                    str(opts["seed"]),
                    stdout=_Quiet(),
                )
            self._step("load / nạp dữ liệu")
            result = dataset_load(
                directory=directory, province=province, progress=sys.stderr.isatty()
            )
            for line in result.summary_lines():
                self.stdout.write(f"  {line}")
        else:
            self._step(f"province {province} already loaded / dữ liệu đã có, dùng lại")
        with_pupils = Organisation.objects.filter(
            kind=Organisation.Kind.SCHOOL,
            province__code=province,
            id__in=Enrolment.objects.values("school_id"),
        ).order_by("code")
        # A primary school shows the most to a visitor: grades, scores, ratings, health data.
        school = with_pupils.filter(level=Organisation.Level.PRIMARY).first() or with_pupils.first()
        if school is None:
            raise CommandError(
                "Không có trường nào có học sinh / no school with pupils was loaded."
            )
        return school

    @transaction.atomic
    def _users(self, school: Organisation) -> tuple[list[tuple[str, str, str]], str]:
        ministry = Organisation.objects.get(kind=Organisation.Kind.MINISTRY, parent=None)
        department = school.parent
        cls = (
            SchoolClass.objects.filter(school=school, enrolments__isnull=False)
            .order_by("-school_year__start_year", "grade", "name")
            .first()
        )
        teacher_person = cls.homeroom_teacher
        if teacher_person is None:
            assignment = (
                StaffAssignment.objects.filter(school=school, role="teacher")
                .order_by("staff_code")
                .first()
            )
            if assignment is None:
                raise CommandError(
                    "Trường mẫu không có giáo viên / the demo school has no teacher."
                )
            teacher_person = assignment.person
            cls.homeroom_teacher = teacher_person
            cls.save(update_fields=["homeroom_teacher"])
        pupil = cls.enrolments.order_by("pupil_code").first().pupil
        specs = [
            ("bo", User.Role.MINISTRY, ministry, None, ministry.name),
            ("so", User.Role.DEPARTMENT, department, None, department.name),
            ("truong", User.Role.SCHOOL, school, None, school.name),
            ("giaovien", User.Role.TEACHER, school, teacher_person, f"GVCN lớp {cls.name}"),
            ("hethong", User.Role.SYSTEM, school, None, "API: " + school.name),
            ("congdan", User.Role.CITIZEN, None, pupil, f"Học sinh lớp {cls.name}"),
        ]
        logins = []
        for username, role, scope, person, label in specs:
            user, _created = User.objects.update_or_create(
                username=username, defaults={"role": role, "scope": scope, "person": person}
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            logins.append((username, str(User.Role(role).label), label))
        system = User.objects.get(username="hethong")
        # Only a digest is stored, so a fresh token is issued (and the old one revoked) each run.
        from vnemis.orgs.tokens import api_token_create, api_token_revoke

        for old in ApiToken.objects.filter(user=system, name=TOKEN_NAME, revoked_at=None):
            api_token_revoke(token=old)
        _token, raw = api_token_create(user=system, name=TOKEN_NAME)
        return logins, raw

    def _print_logins(self, logins, raw_token: str, url: str) -> None:
        self.stdout.write("")
        self.stdout.write(f"  {url}")
        self.stdout.write(f"  {'user / tài khoản':<18}{'role / vai trò':<18}{'password':<14}scope")
        for username, role, label in logins:
            self.stdout.write(f"  {username:<18}{role:<18}{DEMO_PASSWORD:<14}{label}")
        self.stdout.write(
            f"  API token (hethong, shown once / chỉ hiện một lần): {raw_token}\n"
            f"  curl -H 'Authorization: Bearer {raw_token}' {url}api/v1/openapi.json"
        )
        self.stdout.write("")

    def _serve(self, host: str, port: int) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
        base = [sys.executable, "-m", "vnemis.cli"]
        worker = subprocess.Popen([*base, "worker"], env=env)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603
            [*base, "serve", "--host", host, "--port", str(port)], env=env
        )
        self.stdout.write("Ctrl-C to stop / Ctrl-C để dừng.")
        try:
            while worker.poll() is None and server.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for proc in (server, worker):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in (server, worker):
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.stdout.write("Stopped / Đã dừng.")


class _Quiet:
    """Swallows the chatty output of the sub-commands; the demo prints its own steps."""

    def write(self, *_args, **_kwargs) -> None:
        pass

    def flush(self) -> None:
        pass
