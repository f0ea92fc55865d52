"""``vnemis verify run|resume|rates``: registry verification from the terminal.

``run --scope CODE`` checks every unverified or changed person of the scope here, with a
progress bar (``--enqueue`` hands the run to the worker); ``resume --run ID`` continues a
paused or interrupted run; ``rates`` recomputes today's verification rates and prints the
provinces. Errors are "Vietnamese / English".
"""

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from vnemis.identity.actions import verification_start
from vnemis.identity.models import VerificationRate, VerificationRun
from vnemis.identity.rates import rates_refresh
from vnemis.identity.verification import RunBusy, run_execute
from vnemis.orgs.models import Organisation, User

COUNT_LABELS = [
    ("verified", "Đã xác thực / Verified"),
    ("mismatch", "Chưa khớp / Mismatch"),
    ("not_found", "Không tìm thấy / Not found"),
    ("no_id", "Chưa có số định danh / No ID"),
    ("skipped", "Không đổi, bỏ qua / Unchanged, skipped"),
]


class Command(BaseCommand):
    help = "Verify persons against the population registry. / Xác thực với CSDL dân cư."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["run", "resume", "rates"])
        parser.add_argument("--scope", help="Organisation code (school, Department, Ministry)")
        parser.add_argument("--run", type=int, help="Run id (resume)")
        parser.add_argument("--user", help="Act as this user (default: the operator)")
        parser.add_argument("--enqueue", action="store_true", help="Run on the worker")

    def handle(self, *args, action, **opts):
        if action == "rates":
            return self._rates()
        actor = None
        if opts["user"]:
            actor = User.objects.filter(username=opts["user"]).first()
            if actor is None:
                raise CommandError(f"Không có người dùng / No such user: {opts['user']}")
        if action == "resume":
            run = VerificationRun.objects.filter(pk=opts["run"]).first()
            if run is None:
                raise CommandError(f"Không có lượt xác thực / No such run: {opts['run']}")
        else:
            scope = Organisation.objects.filter(code=opts["scope"] or "").first()
            if scope is None:
                raise CommandError(f"Không có đơn vị / No such organisation: {opts['scope']}")
            try:
                run = verification_start(actor=actor, scope=scope, enqueue=opts["enqueue"])
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from None
            if opts["enqueue"]:
                self.stdout.write(f"Đã xếp hàng / Queued: run {run.pk}")
                return
        self._execute(run)

    def _execute(self, run):
        bar = None

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit=" người", file=self.stdout, dynamic_ncols=True)
            bar.update(done - bar.n)

        try:
            run = run_execute(run.pk, progress=progress)
        except RunBusy:
            raise CommandError(
                f"Lượt {run.pk} đang chạy ở nơi khác hoặc đã xong / "
                f"Run {run.pk} is running elsewhere or has finished"
            ) from None
        finally:
            if bar is not None:
                bar.close()
        for key, label in COUNT_LABELS:
            self.stdout.write(f"  {label:<40} {run.counts.get(key, 0):>12,}")
        if run.status == VerificationRun.Status.PAUSED:
            raise CommandError(
                "CSDL dân cư không phản hồi; lượt xác thực tạm dừng, chạy lại bằng "
                f"`vnemis verify resume --run {run.pk}` / The registry is not answering; "
                f"run {run.pk} is paused, resume it later"
            )
        self.stdout.write(self.style.SUCCESS(f"Xong / Done: run {run.pk}"))

    def _rates(self):
        written = rates_refresh()
        self.stdout.write(f"{written:,} đơn vị / organisations")
        rows = VerificationRate.objects.filter(organisation__kind="department").select_related(
            "organisation"
        )
        for rate in rows.order_by("organisation__code"):
            self.stdout.write(
                f"  {rate.organisation.code:<10} {rate.organisation.name:<40} "
                f"{rate.share_verified:>7.1%} of {rate.persons:,}"
            )
