"""Benchmark: PAdES signing and validation throughput of ``vnemis.office.signing``.

Builds (not timed) a development CA with an ECDSA P-256 signer and --documents one-page A4 PDFs
(fpdf2, each with its own text). Then, in one run:

(a) **signatures_per_s**: every document gets a visible signature (the Vietnamese stamp in
    DejaVu Sans) through ``batch.pdf_sign_many`` on --processes workers (default: every core);
    the pool's start-up is inside the time;
(b) **validations_per_s**: every signed document is validated against the CA through
    ``batch.pdf_verify_many`` (digest, signature, chain, coverage), and each must come out
    valid (``all_valid``);
(c) **reference_signatures_per_s**: pyHanko with its defaults on --reference documents in
    this process: ``SimpleSigner.load_pkcs12_data`` (its key re-parsed for every signature),
    pyHanko's own text stamp, no size reserved (so a dry-run signature before each real one);
    **reference_validations_per_s**: ``validate_pdf_signature`` with a fresh context per
    document. speedup = signatures_per_s / reference_signatures_per_s. For the single-core
    effect alone, **single_process_signatures_per_s** and
    **single_process_validations_per_s** run our code on the same sample in this process.

    .venv/bin/python bench/sign.py [--documents 1000] [--reference 100] [--processes N]
                                   [--key-type ec|rsa]

The last line is one JSON object: documents, signatures_per_s, validations_per_s, seconds,
peak_rss_mb, reference_signatures_per_s, reference_validations_per_s, speedup,
validation_speedup, single_process_*, all_valid, and the goals (≥ 40 signatures/s and
≥ 40 validations/s on this 2-core machine).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fpdf import FPDF  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.validation import validate_pdf_signature  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402

from vnemis.office.signing.batch import (  # noqa: E402
    SignOptions,
    default_processes,
    pdf_sign_many,
    pdf_verify_many,
)
from vnemis.office.signing.credentials import credential_load  # noqa: E402
from vnemis.office.signing.dev_ca import dev_ca_files, dev_ca_write  # noqa: E402
from vnemis.office.signing.errors import SigningError  # noqa: E402
from vnemis.office.signing.sign import SignRequest, pdf_sign  # noqa: E402
from vnemis.office.signing.verify import pdf_verify, trust_roots_load  # noqa: E402

GOALS = {"signatures_per_s": 40.0, "validations_per_s": 40.0}
BOX = (306.0, 96.0, 559.0, 168.0)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def make_documents(count: int) -> list[bytes]:
    documents = []
    for number in range(1, count + 1):
        pdf = FPDF(unit="pt", format="A4")
        pdf.set_font("helvetica", size=12)
        pdf.add_page()
        pdf.cell(0, 20, f"QUYET DINH so {number}/QD-BGDDT")
        pdf.ln(30)
        pdf.multi_cell(0, 16, "Noi dung van ban. " * 40)
        documents.append(bytes(pdf.output()))
    return documents


def reference_sign(documents: list[bytes], p12: bytes, password: bytes) -> list[bytes]:
    """pyHanko as its documentation shows it, with every default."""
    signer = signers.SimpleSigner.load_pkcs12_data(p12, other_certs=[], passphrase=password)
    out = []
    for number, document in enumerate(documents):
        writer = IncrementalPdfFileWriter(io.BytesIO(document), strict=False)
        name = f"Signature{number}"
        meta = signers.PdfSignatureMetadata(
            field_name=name, subfilter=fields.SigSeedSubFilter.PADES
        )
        pdf_signer = signers.PdfSigner(
            meta, signer=signer,
            new_field_spec=fields.SigFieldSpec(sig_field_name=name, on_page=-1, box=BOX),
        )  # fmt: skip
        output = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=output)
        out.append(output.getvalue())
    return out


def reference_validate(documents: list[bytes], root) -> int:
    valid = 0
    for document in documents:
        reader = PdfFileReader(io.BytesIO(document), strict=False)
        for embedded in reader.embedded_signatures:
            context = ValidationContext(trust_roots=[root], allow_fetching=False)
            status = validate_pdf_signature(embedded, context)
            valid += bool(status.bottom_line)
    return valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=100, help="sample for the reference")
    parser.add_argument("--processes", type=int, default=0, help="default: every core")
    parser.add_argument("--key-type", choices=("ec", "rsa"), default="ec")
    args = parser.parse_args()
    processes = args.processes or default_processes()

    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="vnemis-bench-sign-"))
    files = dev_ca_files(workdir)
    dev_ca_write(out=workdir, key_type=args.key_type)
    p12 = files.user_p12.read_bytes()
    password = files.user_password.read_text(encoding="utf-8").strip()
    trust_pem = files.ca_pem.read_bytes()
    documents = make_documents(args.documents)
    build_seconds = time.perf_counter() - started
    print(
        f"{args.documents:,} one-page PDFs ({sum(map(len, documents)) / len(documents) / 1024:.1f}"
        f" KB each), {args.key_type} key, {processes} process(es); built in {build_seconds:.1f} s"
    )

    options = SignOptions(position="Thứ trưởng", reason="Phê duyệt", box=BOX)
    started = time.perf_counter()
    signed = pdf_sign_many(
        pdfs=documents, p12=p12, password=password, options=options, processes=processes
    )
    sign_seconds = time.perf_counter() - started
    failures = [s for s in signed if isinstance(s, SigningError)]
    if failures:
        raise SystemExit(f"{len(failures)} documents failed to sign: {failures[0].bilingual()}")
    signatures_per_s = len(signed) / sign_seconds
    print(f"signed: {sign_seconds:.2f} s, {signatures_per_s:.1f} signatures/s")

    started = time.perf_counter()
    reports = pdf_verify_many(pdfs=signed, trust_pem=trust_pem, processes=processes)
    verify_seconds = time.perf_counter() - started
    all_valid = all(not isinstance(r, SigningError) and r.all_valid for r in reports)
    validations_per_s = len(reports) / verify_seconds
    print(
        f"validated: {verify_seconds:.2f} s, {validations_per_s:.1f} validations/s, "
        f"all valid: {all_valid}"
    )

    sample = documents[: args.reference]
    root = trust_roots_load(trust_pem)[0]
    started = time.perf_counter()
    reference_signed = reference_sign(sample, p12, password.encode())
    reference_sign_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reference_valid = reference_validate(reference_signed, root)
    reference_verify_seconds = time.perf_counter() - started
    reference_signatures_per_s = len(sample) / reference_sign_seconds
    reference_validations_per_s = len(sample) / reference_verify_seconds
    print(
        f"reference (pyHanko defaults, 1 process, {len(sample)} documents): "
        f"{reference_signatures_per_s:.1f} signatures/s, {reference_validations_per_s:.1f} "
        f"validations/s ({reference_valid} valid)"
    )

    credential = credential_load(data=p12, password=password)
    request = SignRequest(credential=credential, position="Thứ trưởng", reason="Phê duyệt", box=BOX)
    pdf_sign(pdf=sample[0], request=request)  # the one-off size measurement and font subset
    started = time.perf_counter()
    ours = [pdf_sign(pdf=document, request=request) for document in sample]
    single_sign_seconds = time.perf_counter() - started
    trust = trust_roots_load(trust_pem)
    started = time.perf_counter()
    single_valid = sum(pdf_verify(pdf=document, trust=trust).all_valid for document in ours)
    single_verify_seconds = time.perf_counter() - started
    single_signatures_per_s = len(sample) / single_sign_seconds
    single_validations_per_s = len(sample) / single_verify_seconds
    print(
        f"ours, 1 process, same sample: {single_signatures_per_s:.1f} signatures/s, "
        f"{single_validations_per_s:.1f} validations/s ({single_valid} valid)"
    )
    sizes = sum(map(len, signed)) / len(signed) - sum(map(len, documents)) / len(documents)
    print(f"a signature adds {sizes / 1024:.1f} KB (stamp font subset included)")

    shutil.rmtree(workdir, ignore_errors=True)  # the development CA's keys
    peak = peak_rss_mb()
    summary = {
        "documents": len(signed),
        "signatures_per_s": round(signatures_per_s, 1),
        "validations_per_s": round(validations_per_s, 1),
        "seconds": round(sign_seconds + verify_seconds, 2),
        "sign_seconds": round(sign_seconds, 2),
        "verify_seconds": round(verify_seconds, 2),
        "peak_rss_mb": round(peak),
        "processes": processes,
        "key_type": args.key_type,
        "all_valid": all_valid and single_valid == len(sample),
        "reference_documents": len(sample),
        "reference_signatures_per_s": round(reference_signatures_per_s, 1),
        "reference_validations_per_s": round(reference_validations_per_s, 1),
        "speedup": round(signatures_per_s / reference_signatures_per_s, 2),
        "validation_speedup": round(validations_per_s / reference_validations_per_s, 2),
        "single_process_signatures_per_s": round(single_signatures_per_s, 1),
        "single_process_validations_per_s": round(single_validations_per_s, 1),
        "bytes_added_per_signature": round(sizes),
        "goal_signatures_per_s>=40": signatures_per_s >= GOALS["signatures_per_s"],
        "goal_validations_per_s>=40": validations_per_s >= GOALS["validations_per_s"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
