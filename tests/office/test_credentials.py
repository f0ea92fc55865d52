"""Loading a PKCS#12: a usable signer, and a clear refusal for each way it can be unusable."""

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from vnemis.office.signing.credentials import credential_load, credential_load_file
from vnemis.office.signing.dev_ca import certificate_issue, pkcs12_bytes
from vnemis.office.signing.errors import CredentialError

from .helpers import expired_window

PASSWORD = "Mật khẩu đúng 1"


@pytest.fixture(scope="module")
def p12(ca):
    issued = certificate_issue(ca=ca, name="Đỗ Thị Hà", organisation="Trường THPT Chu Văn An",
                               email="ha@example.edu.vn", title="Hiệu trưởng")  # fmt: skip
    return pkcs12_bytes(issued=issued, ca=ca, password=PASSWORD)


def test_loads_the_signer_and_the_names_of_the_certificate(p12):
    credential = credential_load(data=p12, password=PASSWORD)
    assert credential.name == "Đỗ Thị Hà"
    assert credential.organisation == "Trường THPT Chu Văn An"
    assert credential.email == "ha@example.edu.vn"
    assert credential.title == "Hiệu trưởng"
    assert credential.not_before < datetime.now(UTC) < credential.not_after
    assert credential.signer.signing_cert.subject.native["common_name"] == "Đỗ Thị Hà"
    # the key is parsed once: the signer holds it and signs without the DER round trip
    signature = credential.signer.sign_raw(b"data", "sha256")
    assert 64 <= len(signature) <= 72


def test_wrong_password(p12):
    with pytest.raises(CredentialError) as refused:
        credential_load(data=p12, password="sai mật khẩu")
    assert refused.value.code == "p12_password"
    assert "Mật khẩu" in refused.value.message_vi
    assert "password" in refused.value.message_en
    with pytest.raises(CredentialError) as refused:
        credential_load(data=p12, password=None)
    assert refused.value.code == "p12_password"


@pytest.mark.parametrize(
    "damage",
    [lambda d: d[: len(d) // 2], lambda d: b"not a pkcs12 file at all", lambda d: b"",
     lambda d: b"\x30\x82\xff\xff" + d[4:]],
    ids=["truncated", "garbage", "empty", "bad-length"],
)  # fmt: skip
def test_a_corrupt_file_is_not_called_a_wrong_password(p12, damage):
    with pytest.raises(CredentialError) as refused:
        credential_load(data=damage(p12), password=PASSWORD)
    assert refused.value.code == "p12_corrupt"
    assert "PKCS#12" in refused.value.message_vi and "PKCS#12" in refused.value.message_en


def test_expired_and_not_yet_valid_certificates(ca):
    expired = certificate_issue(ca=ca, name="Hết Hạn", **expired_window())
    data = pkcs12_bytes(issued=expired, ca=ca, password=PASSWORD)
    with pytest.raises(CredentialError) as refused:
        credential_load(data=data, password=PASSWORD)
    assert refused.value.code == "certificate_expired"
    assert "hết hạn" in refused.value.message_vi and "expired" in refused.value.message_en
    now = datetime.now(UTC)
    future = certificate_issue(ca=ca, name="Chưa Tới", not_before=now + timedelta(days=3),
                               not_after=now + timedelta(days=300))  # fmt: skip
    data = pkcs12_bytes(issued=future, ca=ca, password=PASSWORD)
    with pytest.raises(CredentialError) as refused:
        credential_load(data=data, password=PASSWORD)
    assert refused.value.code == "certificate_not_yet_valid"


def test_a_certificate_without_signing_key_usage_is_refused(ca):
    issued = certificate_issue(ca=ca, name="Chỉ Mã Hoá", signing_usage=False)
    with pytest.raises(CredentialError) as refused:
        credential_load(data=pkcs12_bytes(issued=issued, ca=ca, password=PASSWORD),
                        password=PASSWORD)  # fmt: skip
    assert refused.value.code == "key_usage"
    assert "digitalSignature" in refused.value.message_en


def test_files_and_password_files(tmp_path, p12):
    (tmp_path / "a.p12").write_bytes(p12)
    (tmp_path / "pw.txt").write_text(PASSWORD + "\n", encoding="utf-8")
    credential = credential_load_file(path=tmp_path / "a.p12", password_file=tmp_path / "pw.txt")
    assert credential.name == "Đỗ Thị Hà"
    with pytest.raises(CredentialError) as refused:
        credential_load_file(path=tmp_path / "missing.p12", password_file=tmp_path / "pw.txt")
    assert refused.value.code == "p12_unreadable"
    with pytest.raises(CredentialError) as refused:
        credential_load_file(path=tmp_path / "a.p12", password_file=tmp_path / "missing.txt")
    assert refused.value.code == "password_unreadable"


def test_errors_survive_pickling_for_the_batch_workers():
    error = CredentialError("p12_password", "Sai mật khẩu.", "Wrong password.")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (again.code, again.message_vi, again.message_en) == (
        "p12_password",
        "Sai mật khẩu.",
        "Wrong password.",
    )
    assert again.bilingual() == "Sai mật khẩu. / Wrong password."
