"""``vnemis office dev-ca|sign|verify`` end to end: files, output, exit status, nothing written
on failure."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from .helpers import append_page_content, make_pdf

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("office", *[str(a) for a in args], stdout=out, stderr=err)
    return out.getvalue()


def refused(*args) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return caught.value


@pytest.fixture
def work(tmp_path):
    run("dev-ca", "--out", tmp_path / "ca")
    (tmp_path / "in.pdf").write_bytes(make_pdf(pages=2))
    return tmp_path


def sign_args(work, out="out.pdf", p12="user.p12", unlock_file="password.txt"):
    return ["sign", work / "in.pdf", work / out, "--p12", work / "ca" / p12,
            "--password-file", work / "ca" / unlock_file]  # fmt: skip


def test_dev_ca_sign_verify(work):
    output = run(*sign_args(work), "--position", "Phó Vụ trưởng", "--reason", "Phê duyệt",
                 "--page", "1", "--box", "330,96,560,168")  # fmt: skip
    assert "Nguyễn Văn An" in output and "Xong / Done" in output
    seal = run("sign", work / "out.pdf", work / "sealed.pdf", "--p12", work / "ca" / "seal.p12",
               "--password-file", work / "ca" / "seal-password.txt", "--kind", "seal")  # fmt: skip
    assert "Bộ Giáo dục và Đào tạo" in seal
    report = run("verify", work / "sealed.pdf", "--trust", work / "ca" / "ca.pem")
    assert report.count("Hợp lệ / Valid") == 2
    assert "2/2 chữ ký hợp lệ / 2 of 2 signature(s) valid" in report
    assert "signature-1" in report and "seal-2" in report
    assert "Người ký / Signer" in report and "Nguyễn Văn An" in report
    assert "(GMT+7)" in report


def test_verify_exits_1_for_an_unknown_signer_a_modified_file_and_no_signature(work, tmp_path):
    run(*sign_args(work))
    error = refused("verify", work / "out.pdf")  # no --trust: nobody is trusted
    assert error.returncode == 1 and "0/1" in str(error)
    (work / "forged.pdf").write_bytes(append_page_content((work / "out.pdf").read_bytes()))
    error = refused("verify", work / "forged.pdf", "--trust", work / "ca" / "ca.pem")
    assert error.returncode == 1
    error = refused("verify", work / "in.pdf", "--trust", work / "ca" / "ca.pem")
    assert error.returncode == 1


def test_refusals_exit_2_and_write_nothing(work):
    cases = [
        (sign_args(work, unlock_file="seal-password.txt"), "Mật khẩu"),  # the wrong password
        (sign_args(work, p12="ca.pem"), "PKCS#12"),  # not a PKCS#12
        (sign_args(work, p12="missing.p12"), "missing.p12"),
        ([*sign_args(work), "--box", "1,2,3"], "x1,y1,x2,y2"),
        ([*sign_args(work), "--page", "9"], "Page 9"),
        (sign_args(work, out="no-such-dir/out.pdf"), "does not exist"),
    ]
    for args, message in cases:
        error = refused(*args)
        assert error.returncode == 2, args
        assert message in str(error), (args, str(error))
        assert " / " in str(error)  # Vietnamese / English
    (work / "notpdf.pdf").write_text("xin chào", encoding="utf-8")
    error = refused("sign", work / "notpdf.pdf", work / "out.pdf", "--p12",
                    work / "ca" / "user.p12", "--password-file", work / "ca" / "password.txt")  # fmt: skip
    assert error.returncode == 2 and "not a PDF" in str(error)
    assert not (work / "out.pdf").exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no half-written files
    error = refused("verify", work / "notpdf.pdf")
    assert error.returncode == 2
    error = refused("verify", work / "in.pdf", "--trust", work / "in.pdf")
    assert error.returncode == 2 and "PEM" in str(error)
    error = refused("dev-ca", "--out", work / "ca")
    assert error.returncode == 2 and "--force" in str(error)


def test_a_failed_sign_leaves_an_existing_output_untouched(work):
    (work / "out.pdf").write_bytes(b"previous contents")
    refused(*sign_args(work, unlock_file="seal-password.txt"))
    assert (work / "out.pdf").read_bytes() == b"previous contents"


def test_the_vnemis_command(tmp_path):
    """The console script as an operator runs it: real exit statuses, messages on stderr."""
    vnemis = ROOT / ".venv" / "bin" / "vnemis"
    if not vnemis.exists():
        vnemis = Path(sys.executable).with_name("vnemis")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vnemis.config.settings.test"}

    def cli(*args):
        return subprocess.run([str(vnemis), "office", *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=120)  # fmt: skip

    made = cli("dev-ca", "--out", tmp_path / "ca")
    assert made.returncode == 0, made.stderr
    (tmp_path / "in.pdf").write_bytes(make_pdf())
    signed = cli("sign", tmp_path / "in.pdf", tmp_path / "out.pdf", "--p12",
                 tmp_path / "ca" / "user.p12", "--password-file", tmp_path / "ca" / "password.txt")  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    valid = cli("verify", tmp_path / "out.pdf", "--trust", tmp_path / "ca" / "ca.pem")
    assert valid.returncode == 0 and "Hợp lệ / Valid" in valid.stdout
    unknown = cli("verify", tmp_path / "out.pdf")
    assert unknown.returncode == 1 and "Unknown signer" in unknown.stdout
    wrong = cli("sign", tmp_path / "in.pdf", tmp_path / "x.pdf", "--p12",
                tmp_path / "ca" / "user.p12", "--password-file", tmp_path / "ca" / "seal-password.txt")  # fmt: skip
    assert wrong.returncode == 2 and "wrong" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (tmp_path / "x.pdf").exists()
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes((tmp_path / "out.pdf").read_bytes()[:500])
    broken = cli("verify", damaged, "--trust", tmp_path / "ca" / "ca.pem")
    assert broken.returncode in (1, 2) and "Traceback" not in broken.stderr
