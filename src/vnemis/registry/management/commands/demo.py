"""``vnemis demo``: set up a working platform on the embedded database and run it.

Migrates, loads the administrative map and the organisation tree, generates and loads one demo
province (≥100 schools, ≥30,000 pupils) unless it is already loaded, creates one log-in per
role with known demo passwords, seeds the year's reporting periods with a few schools already
through the submission workflow, then runs the job worker and the web server until Ctrl-C.
Running it again reuses what is there; ``--reset`` starts from an empty embedded database.

The demo's school year is the one containing today (years start in September): the generator
writes that year, and the dataset is cut at today's date (``registry.demo``) so no enrolment,
result or measurement lies in the future (``--whole-year`` loads the whole generated year
instead, results of both terms included, to show the results pages before the year is over).
Periods and submissions are the exchange app's, made
through its ``vnemis periods`` command, and the e-office (its members, certificates, exchange
partners and first documents) is the office app's, made through ``vnemis office demo`` (the
registry does not import the apps above it).
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
from django.utils import timezone

from vnemis.orgs.models import ApiToken, Organisation, User
from vnemis.registry.demo import dataset_as_of, dataset_as_of_date, school_year_start
from vnemis.registry.loaders import dataset_load
from vnemis.registry.models import Enrolment, SchoolClass, SchoolYear, StaffAssignment

DEMO_PASSWORD = "vnemis-demo"  # noqa: S105 - a published password for a local demo only
TOKEN_NAME = "demo"  # noqa: S105 - the label of the token, not a secret
# People behind the demo log-ins, so histories name a person, not a log-in. Django's
# get_full_name() is "first last"; a Vietnamese name is written whole, family name first.
DEMO_NAMES = {"bo": "Lê Thu Hà", "so": "Nguyễn Thị Lan", "truong": "Trần Văn Minh"}
DEMO_EMAIL = "truong@example.invalid"  # shows a reminder e-mail on the console backend
# The e-office's own demo log-ins (made by ``vnemis office demo``), listed when they exist.
OFFICE_LOGINS = [
    ("bo_lanhdao", "Văn bản: lãnh đạo Bộ (Thứ trưởng), ký duyệt"),
    ("bo_vanthu", "Văn bản: văn thư Bộ"),
    ("bo_chuyenvien", "Văn bản: chuyên viên Vụ GDTrH"),
    ("so_vanthu", "Văn bản: văn thư Sở"),
    ("so_chuyenvien", "Văn bản: chuyên viên Phòng GDTrH"),
]


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
        parser.add_argument(
            "--whole-year",
            action="store_true",
            help="load the whole generated year, results included, not only what happened by "
            "today / nạp cả năm học, kể cả kết quả chưa đến kỳ",
        )

    def handle(self, *args, **opts):
        started = time.perf_counter()
        if opts["reset"]:
            self._reset()
        self._step("migrate / cập nhật cấu trúc CSDL")
        call_command("migrate", verbosity=0, interactive=False)
        self._reference_data()
        school = self._demo_data(opts)
        logins, raw_token = self._users(school)
        self._periods(school)
        logins += self._office(opts)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {time.perf_counter() - started:.1f} s "
                f"/ Bản trình diễn sẵn sàng sau {time.perf_counter() - started:.1f} giây."
            )
        )
        url = f"http://{opts['host']}:{opts['port']}/"
        self._print_logins(logins, raw_token, url)
        if not opts["no_serve"]:
            self._serve(opts["host"], opts["port"], department=school.parent)

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
        today = timezone.localdate()
        year = school_year_start(today)
        if not Enrolment.objects.filter(province_code=province).exists():
            cut = "whole" if opts["whole_year"] else "today"
            directory = self._demo_dir() / f"dataset_{province}_{opts['students']}_{year}_{cut}"
            if not opts["whole_year"] and dataset_as_of_date(directory) != today:
                # Cut at another date (or never): make it again, so nothing lies in the future.
                shutil.rmtree(directory, ignore_errors=True)
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
                    "--year",
                    str(year),
                    stdout=_Quiet(),
                )
                if not opts["whole_year"]:
                    self._step(
                        f"school year {year}-{year + 1} as of {today:%d/%m/%Y} "
                        f"/ năm học {year}-{year + 1}, số liệu đến ngày {today:%d/%m/%Y}"
                    )
                    dataset_as_of(directory, year=year, today=today)
            self._step("load / nạp dữ liệu")
            result = dataset_load(
                directory=directory, province=province, progress=sys.stderr.isatty()
            )
            for line in result.summary_lines():
                self.stdout.write(f"  {line}")
            if (directory / "population.csv").exists():
                from vnemis.stats.population import population_load

                population_load(directory / "population.csv")
        else:
            self._step(f"province {province} already loaded / dữ liệu đã có, dùng lại")
            current = SchoolYear.objects.filter(is_current=True).first()
            if current is not None and current.start_year != year:
                self.stdout.write(
                    self.style.WARNING(
                        f"  The loaded school year is {current.code}, not the one containing "
                        f"today ({year}-{year + 1}); run `vnemis demo --reset` to rebuild it. / "
                        f"Dữ liệu đã nạp là năm học {current.code}, không phải năm học hiện "
                        f"tại {year}-{year + 1}; chạy `vnemis demo --reset` để dựng lại."
                    )
                )
        self._step("analytics snapshot / ảnh chụp dữ liệu thống kê")
        from vnemis.stats.snapshot import snapshot_refresh

        snapshot_refresh()
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
                username=username,
                defaults={
                    "role": role,
                    "scope": scope,
                    "person": person,
                    "first_name": DEMO_NAMES.get(username, ""),
                    "last_name": "",
                },
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

    def _periods(self, school: Organisation) -> None:
        """The current year's reporting periods, a few schools already through the workflow."""
        if "periods" not in get_commands():
            return
        self._step("periods / kỳ báo cáo định kỳ")
        lines = _Lines()
        call_command(
            "periods",
            "demo",
            "--school",
            school.code,
            "--department-user",
            "so",
            "--school-user",
            "truong",
            stdout=lines,
        )
        for line in lines.text.splitlines():
            self.stdout.write(f"  {line}")
        # After the seeding (its reminder is in-app only), so that a reminder sent from the
        # Department's page shows its e-mail on the console.
        User.objects.filter(username="truong", email="").update(email=DEMO_EMAIL)

    def _office(self, opts) -> list[tuple[str, str, str]]:
        """The e-office of the Ministry and the demo Department; its log-ins for the table."""
        if "office" not in get_commands():
            return []
        self._step("office / văn phòng điện tử")
        host = opts["host"]
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - where to reach a server bound to all
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        lines = _Lines()
        call_command(
            "office",
            "demo",
            "--ministry-user",
            "bo",
            "--department-user",
            "so",
            "--password",
            DEMO_PASSWORD,
            "--base-url",
            f"http://{host}:{opts['port']}",
            stdout=lines,
        )
        for line in lines.text.splitlines():
            self.stdout.write(f"  {line}")
        users = {
            u.username: u
            for u in User.objects.filter(username__in=[name for name, _ in OFFICE_LOGINS])
        }
        return [
            (name, str(User.Role(users[name].role).label), label)
            for name, label in OFFICE_LOGINS
            if name in users
        ]

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

    def _registry_simulator(self, env: dict) -> subprocess.Popen | None:
        """The population-registry simulator over the demo's citizens, on a free port; the
        worker and server are pointed at it. None when no dataset carries citizens."""
        found = sorted(self._demo_dir().glob("dataset_*/registry/citizens.parquet"))
        if not found:
            self.stdout.write(
                self.style.WARNING(
                    "  No registry/citizens.parquet in the demo data (made before identity "
                    "existed): run `vnemis demo --reset` for identity verification. / Dữ liệu "
                    "mẫu chưa có CSDL dân cư mô phỏng: chạy `vnemis demo --reset`."
                )
            )
            return None
        sim = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "vnemis.identity.simulator", "--citizens", str(found[-1]),
             "--port", "0", "--quiet"],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        line = sim.stdout.readline()
        url = line.split("listening on ", 1)[-1].split(" ", 1)[0] if "listening on" in line else ""
        if not url:
            sim.kill()
            self.stdout.write(self.style.WARNING(f"  registry simulator did not start: {line!r}"))
            return None
        env["VNEMIS_REGISTRY_URL"] = url
        self.stdout.write(f"  registry simulator / CSDL dân cư mô phỏng: {url}")
        return sim

    def _serve(self, host: str, port: int, department: Organisation | None = None) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
        base = [sys.executable, "-m", "vnemis.cli"]
        sim = self._registry_simulator(env)
        if sim is not None and department is not None:
            from vnemis.identity.actions import verification_start

            with transaction.atomic():  # the worker verifies the province while you look
                verification_start(actor=None, scope=department)
        worker = subprocess.Popen([*base, "worker"], env=env)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603
            [*base, "serve", "--host", host, "--port", str(port)], env=env
        )
        self.stdout.write("Ctrl-C to stop / Ctrl-C để dừng.")

        def stop(signum, frame):
            raise KeyboardInterrupt

        # Stopped by Ctrl-C, `kill` or a closed terminal alike, and the children with it (a
        # shell's background job starts with SIGINT ignored: set it, do not inherit it).
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        try:
            while worker.poll() is None and server.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            children = [p for p in (server, worker, sim) if p is not None]
            for proc in children:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in children:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.stdout.write("Stopped / Đã dừng.")


class _Lines:
    """Collects a sub-command's output, to be printed indented under the demo's step."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str = "", *_args, **_kwargs) -> None:
        self.text += text

    def flush(self) -> None:
        pass


class _Quiet:
    """Swallows the chatty output of the sub-commands; the demo prints its own steps."""

    def write(self, *_args, **_kwargs) -> None:
        pass

    def flush(self) -> None:
        pass
