"""Signing and validating many documents on every core: a process pool whose workers each load
the credential (or the trusted roots) once and then take documents in chunks.

Signing is CPU-bound Python (pyHanko writes the PDF, ``cryptography`` signs), so threads would
not help; processes do (DESIGN.md §8). One bad document does not stop a batch: its place in the
result holds the ``SigningError`` instead of the output.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from .credentials import Credential, credential_load
from .errors import SigningError
from .fonts import BASE_CHARACTERS, font_path, font_program
from .sign import Kind, SignRequest, pdf_sign, reserve_size
from .verify import Report, pdf_verify, trust_roots_load


@dataclass(frozen=True)
class SignOptions:
    """What every document in the batch gets: the same kind of signature, at the same place."""

    kind: Kind = Kind.SIGNATURE
    page: int = -1
    box: tuple[float, float, float, float] | None = None
    position: str = ""
    reason: str | None = None
    location: str | None = None


_credential: Credential | None = None
_options: SignOptions | None = None
_trust: list | None = None


def _sign_init(p12: bytes, password: str, options: SignOptions) -> None:
    global _credential, _options
    _credential, _options = credential_load(data=p12, password=password), options


def _sign_one(pdf: bytes) -> bytes | SigningError:
    assert _credential is not None and _options is not None
    request = SignRequest(credential=_credential, **_options.__dict__)
    try:
        return pdf_sign(pdf=pdf, request=request)
    except SigningError as exc:
        return exc


def _verify_init(trust_pem: bytes) -> None:
    global _trust
    _trust = trust_roots_load(trust_pem) if trust_pem else []


def _verify_one(pdf: bytes) -> Report | SigningError:
    try:
        return pdf_verify(pdf=pdf, trust=_trust or [])
    except SigningError as exc:
        return exc


def _pool(processes: int, initializer, initargs, start_method: str | None) -> ProcessPoolExecutor:
    context = multiprocessing.get_context(start_method or default_start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload([__name__])
    return ProcessPoolExecutor(
        max_workers=processes, mp_context=context, initializer=initializer, initargs=initargs
    )


def default_start_method() -> str:
    """``fork`` where there is one (Linux): the workers start at once, with pyHanko imported and
    the font subset and signature size already computed by the parent. Call a batch from a
    command or the job worker, not from a threaded web server; there, pass ``forkserver``."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _warm(credential: Credential) -> None:
    """What every worker would otherwise compute first: the font subset, the signature size."""
    font_program(str(font_path()), frozenset(BASE_CHARACTERS))
    reserve_size(credential, None)


def default_processes() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def pdf_sign_many(
    *,
    pdfs: Iterable[bytes],
    p12: bytes,
    password: str,
    options: SignOptions | None = None,
    processes: int | None = None,
    chunksize: int = 16,
    start_method: str | None = None,
) -> list[bytes | SigningError]:
    """Each PDF signed with the credential, in input order; errors in place of outputs.

    The credential is checked here first, so a wrong password fails once, not per document."""
    options = options or SignOptions()
    _warm(credential_load(data=p12, password=password))
    documents = list(pdfs)
    processes = processes or default_processes()
    if processes <= 1 or len(documents) <= 1:
        _sign_init(p12, password, options)
        return [_sign_one(pdf) for pdf in documents]
    with _pool(processes, _sign_init, (p12, password, replace(options)), start_method) as pool:
        return list(pool.map(_sign_one, documents, chunksize=chunksize))


def pdf_verify_many(
    *,
    pdfs: Iterable[bytes],
    trust_pem: bytes,
    processes: int | None = None,
    chunksize: int = 16,
    start_method: str | None = None,
) -> list[Report | SigningError]:
    """Each PDF's report, in input order; errors in place of reports."""
    if trust_pem:
        trust_roots_load(trust_pem)  # a bad file fails here once
    documents = list(pdfs)
    processes = processes or default_processes()
    if processes <= 1 or len(documents) <= 1:
        _verify_init(trust_pem)
        return [_verify_one(pdf) for pdf in documents]
    with _pool(processes, _verify_init, (trust_pem,), start_method) as pool:
        return list(pool.map(_verify_one, documents, chunksize=chunksize))
