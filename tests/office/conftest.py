"""Fixtures of the signing tests: one development CA for the session, its people and its seal."""

import pytest

from vnemis.office.signing.dev_ca import ca_create, dev_ca_write

from .helpers import issue, make_pdf


@pytest.fixture(autouse=True)
def _exchange_process_state():
    """No partner hold or backlog release of one test carries into the next (they live in the
    process, keyed by partner id, and ids repeat between tests)."""
    from vnemis.office import exchange

    exchange._unreachable.clear()
    exchange._released.clear()
    yield
    exchange._unreachable.clear()
    exchange._released.clear()


@pytest.fixture(scope="session")
def ca():
    return ca_create(organisation="Sở GD&ĐT Hà Nội")


@pytest.fixture(scope="session")
def other_ca():
    return ca_create(common_name="Some Other Root CA", organisation="Không phải của chúng ta")


@pytest.fixture(scope="session")
def drafter(ca):
    return issue(ca, name="Lê Văn Cường", title="Chuyên viên")[0]


@pytest.fixture(scope="session")
def leader(ca):
    return issue(ca, name="Trần Thị Bình", title="Giám đốc")[0]


@pytest.fixture(scope="session")
def seal(ca):
    return issue(ca, name="Sở GD&ĐT Hà Nội")[0]


@pytest.fixture(scope="session")
def stranger(other_ca):
    return issue(other_ca, name="Phạm Văn Giả")[0]


@pytest.fixture(scope="session")
def trust(ca):
    from vnemis.office.signing.verify import trust_roots_load

    return trust_roots_load(ca.certificate_pem())


@pytest.fixture
def pdf():
    return make_pdf()


@pytest.fixture(scope="session")
def dev_dir(tmp_path_factory):
    """A directory laid out by ``dev_ca_write`` (the CLI's files)."""
    out = tmp_path_factory.mktemp("devca") / "ca"
    dev_ca_write(out=out)
    return out


@pytest.fixture
def setup(tree, ca, other_ca):
    """The Ministry and the Hanoi Department as exchange partners (test_exchange.py)."""
    from .test_exchange import exchange_setup

    return exchange_setup(tree, ca, other_ca)


@pytest.fixture
def wire(monkeypatch, setup):
    """The outbox's HTTP client, wired to this process's inbox and status views (recall,
    update and replacement tests: ``test_exchange_recall.pump`` delivers what is queued)."""
    import httpx
    from django.test import Client

    from vnemis.office import exchange

    from .test_exchange import INBOX

    web = Client()

    def handler(request: httpx.Request) -> httpx.Response:
        answer = web.post(request.url.path, data=request.content, content_type="application/xml")
        return httpx.Response(answer.status_code, content=answer.content)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    monkeypatch.setattr(exchange, "_client", lambda: client)
    for partner in (setup["at_so"], setup["at_moet"]):
        partner.inbox_url = f"http://partner.test{INBOX}"
        partner.save()
    yield setup
    client.close()
