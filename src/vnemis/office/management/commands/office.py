"""``vnemis office ACTION``: digital signatures on official documents from the terminal.

    dev-ca --out DIR [--name N --organisation O --email E --title T --key-type ec|rsa --force]
        a development CA: DIR/ca.pem, DIR/user.p12 (password in DIR/password.txt), DIR/seal.p12
        (password in DIR/seal-password.txt), the CA's key encrypted in DIR/ca-key.pem
    sign IN.pdf OUT.pdf --p12 FILE --password-file FILE [--kind initial|signature|seal]
        [--page N] [--box x1,y1,x2,y2] [--position "Chức vụ"] [--reason R] [--location L]
        [--invisible]   one PAdES signature, appended; OUT is written whole or not at all
    verify FILE.pdf [--trust CA.pem ...]
        each signature's outcome: valid, invalid, unknown signer, modified after signing
    demo --ministry-user U --department-user U --password P [--base-url URL]
        the demo e-office of the Ministry and a Department (``vnemis.office.demo``; run by
        ``vnemis demo``); a rerun changes nothing already set up

Exit status: 0 done (verify: every signature valid); 1 verify found a signature that is not
valid, or none; 2 refused (bad input, wrong password, damaged file, ...). Messages are
"Vietnamese / English".
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.office.signing.credentials import credential_load_file
from vnemis.office.signing.dev_ca import KEY_TYPES, dev_ca_write
from vnemis.office.signing.errors import SigningError
from vnemis.office.signing.sign import TIME_FORMAT, Kind, SignRequest, box_parse, pdf_sign
from vnemis.office.signing.verify import (
    OUTCOME_TEXT,
    pdf_verify,
    trust_roots_load_files,
)

MAX_INPUT_BYTES = 100 * 1024 * 1024


def _refuse(vi: str, en: str) -> CommandError:
    return CommandError(f"{vi} / {en}", returncode=2)


class Command(BaseCommand):
    help = (
        "Digital signatures: development CA, sign, verify; the demo e-office. / Chữ ký số: CA "
        "phát triển, ký, kiểm tra; văn phòng điện tử trình diễn."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        ca = actions.add_parser("dev-ca", help="make a development CA and PKCS#12 files")
        ca.add_argument("--out", required=True, type=Path, metavar="DIR")
        ca.add_argument("--name", default="Nguyễn Văn An", help="the person's full name")
        ca.add_argument("--organisation", default="Bộ Giáo dục và Đào tạo")
        ca.add_argument("--email", default="nvan@example.edu.vn")
        ca.add_argument("--title", default="Chuyên viên", help="position (chức vụ)")
        ca.add_argument("--key-type", choices=KEY_TYPES, default="ec")
        ca.add_argument("--force", action="store_true", help="replace an existing CA in DIR")

        sign = actions.add_parser("sign", help="add a PAdES signature to a PDF")
        sign.add_argument("input", type=Path, metavar="IN.pdf")
        sign.add_argument("output", type=Path, metavar="OUT.pdf")
        sign.add_argument("--p12", required=True, type=Path, metavar="FILE")
        sign.add_argument("--password-file", required=True, type=Path, metavar="FILE")
        sign.add_argument("--kind", choices=[k.value for k in Kind], default=Kind.SIGNATURE)
        sign.add_argument("--page", type=int, default=-1, help="1-based; -1 the last (default)")
        sign.add_argument("--box", help="x1,y1,x2,y2 in points from the lower-left corner")
        sign.add_argument("--position", default="", help="the signer's position (chức vụ)")
        sign.add_argument("--reason", default=None)
        sign.add_argument("--location", default=None)
        sign.add_argument("--invisible", action="store_true", help="no stamp on the page")

        verify = actions.add_parser("verify", help="check every signature in a PDF")
        verify.add_argument("file", type=Path, metavar="FILE.pdf")
        verify.add_argument(
            "--trust", action="append", type=Path, default=[], metavar="CA.pem",
            help="a trusted root certificate (PEM or DER); repeat for several",
        )  # fmt: skip

        demo = actions.add_parser("demo", help="seed the demo e-office / văn phòng trình diễn")
        demo.add_argument("--ministry-user", required=True, help="the Ministry's demo log-in")
        demo.add_argument("--department-user", required=True, help="a Department's demo log-in")
        demo.add_argument("--password", required=True, help="the demo users' password")
        demo.add_argument(
            "--base-url", default="http://127.0.0.1:8000",
            help="where this server is reached (the exchange partners' inbox)",
        )  # fmt: skip

    def handle(self, *args, action, **opts):
        try:
            if action == "dev-ca":
                return self._dev_ca(opts)
            if action == "sign":
                return self._sign(opts)
            if action == "demo":
                return self._demo(opts)
            return self._verify(opts)
        except SigningError as exc:
            raise CommandError(exc.bilingual(), returncode=2) from exc

    def _demo(self, opts):
        from vnemis.office.actions_errors import OfficeError
        from vnemis.office.demo import office_demo_seed

        try:
            summary = office_demo_seed(
                ministry_user=opts["ministry_user"], department_user=opts["department_user"],
                password=opts["password"], base_url=opts["base_url"],
            )  # fmt: skip
        except OfficeError as exc:
            raise CommandError(f"{exc.message_vi} / {exc.message_en}", returncode=2) from exc
        out = self.stdout.write
        for org in summary["organisations"]:
            out(
                f"{org['name']} ({org['abbreviation']}, {org['organ_id']}, {org['place']}): "
                f"units / đơn vị {', '.join(org['units'])}"
            )
        created = ", ".join(summary["users_created"]) or "—"
        out(f"New users / Tài khoản mới: {created}")
        imported = ", ".join(summary["credentials_imported"]) or "— (already there / đã có)"
        out(f"Certificates imported / Chứng thư số đã nhập: {imported}")
        out(f"Demo CA / CA trình diễn: {summary['ca_dir']}/ca.pem")
        if summary["documents"]:
            out(f"Documents / Văn bản: {len(summary['documents'])}")
            for doc in summary["documents"]:
                out(f"  #{doc['id']} {doc['direction']}/{doc['status']}: {doc['subject'][:70]}")
        else:
            out("Documents kept as they are / Văn bản đã có, giữ nguyên.")
        if summary["send_url"]:
            out(
                f"Try the exchange: open {summary['send_url']} as bo_vanthu and press “Gửi liên "
                "thông”; the Department receives it on this same server (so_vanthu). / Thử liên "
                "thông: mở văn bản trên bằng tài khoản bo_vanthu và bấm “Gửi liên thông”."
            )
        self.stdout.write(self.style.SUCCESS("Xong / Done"))

    def _dev_ca(self, opts):
        files = dev_ca_write(
            out=opts["out"], name=opts["name"], organisation=opts["organisation"],
            email=opts["email"], title=opts["title"], key_type=opts["key_type"],
            force=opts["force"],
        )  # fmt: skip
        out = self.stdout.write
        out(f"  {'CA gốc / Root CA':<36} {files.ca_pem}")
        out(f"  {'Khoá CA (mã hoá) / CA key':<36} {files.ca_key} ({files.ca_password.name})")
        out(f"  {'Người ký / Signer':<36} {files.user_p12} ({files.user_password.name})")
        out(f"  {'Con dấu / Seal':<36} {files.seal_p12} ({files.seal_password.name})")
        self.stdout.write(self.style.SUCCESS("Xong / Done"))

    def _sign(self, opts):
        source: Path = opts["input"]
        target: Path = opts["output"]
        pdf = _read(source)
        box = box_parse(opts["box"]) if opts["box"] else None
        if not target.parent.is_dir():
            raise _refuse(
                f"Thư mục đích không tồn tại: {target.parent}",
                f"The output directory does not exist: {target.parent}",
            )
        credential = credential_load_file(path=opts["p12"], password_file=opts["password_file"])
        signed = pdf_sign(
            pdf=pdf,
            request=SignRequest(
                credential=credential, kind=Kind(opts["kind"]), page=opts["page"], box=box,
                position=opts["position"], reason=opts["reason"], location=opts["location"],
                visible=not opts["invisible"],
            ),
        )  # fmt: skip
        _write_atomically(target, signed)
        self.stdout.write(
            f"  {'Đã ký / Signed':<20} {target} ({len(signed):,} bytes) — {credential.name}"
        )
        self.stdout.write(self.style.SUCCESS("Xong / Done"))

    def _verify(self, opts):
        pdf = _read(opts["file"])
        trust = trust_roots_load_files(opts["trust"])
        report = pdf_verify(pdf=pdf, trust=trust)
        out = self.stdout.write
        if not report.signatures:
            out("Văn bản không có chữ ký số nào / The document has no digital signature")
            raise CommandError("Không có chữ ký / No signature", returncode=1)
        for result in report.signatures:
            vi, en = OUTCOME_TEXT[result.outcome]
            out(f"Chữ ký {result.index} / Signature {result.index}: {result.field_name}")
            out(f"  {'Kết quả / Result':<34} {vi} / {en}")
            signer = result.signer_name or "?"
            if result.organisation and result.organisation != result.signer_name:
                signer += f" ({result.organisation})"
            out(f"  {'Người ký / Signer':<34} {signer}")
            when = result.signing_time.strftime(TIME_FORMAT) if result.signing_time else "—"
            out(f"  {'Thời gian ký / Signing time':<34} {when}")
            if result.timestamp:
                out(f"  {'Dấu thời gian / Timestamp':<34} {result.timestamp.strftime(TIME_FORMAT)}")
            whole = "có / yes" if result.covers_whole_document else "không / no"
            out(f"  {'Toàn văn bản / Whole document':<34} {whole}")
            out(f"  {'Chi tiết / Detail':<34} {result.detail_vi} / {result.detail_en}")
        valid = sum(1 for s in report.signatures if s.valid)
        total = len(report.signatures)
        summary = f"{valid}/{total} chữ ký hợp lệ / {valid} of {total} signature(s) valid"
        if not report.all_valid:
            raise CommandError(summary, returncode=1)
        out(self.style.SUCCESS(summary))


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise _refuse(
                f"Tệp quá lớn: {path} (tối đa {MAX_INPUT_BYTES // 1024 // 1024} MB)",
                f"The file is too large: {path} (at most {MAX_INPUT_BYTES // 1024 // 1024} MB)",
            )
        return path.read_bytes()
    except OSError as exc:
        raise _refuse(
            f"Không đọc được tệp {path}: {exc.strerror}",
            f"Cannot read the file {path}: {exc.strerror}",
        ) from exc


def _write_atomically(path: Path, data: bytes) -> None:
    """Written beside the target and renamed over it: OUT is complete or absent."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _refuse(
            f"Không ghi được tệp {path}: {exc.strerror}",
            f"Cannot write the file {path}: {exc.strerror}",
        ) from exc
