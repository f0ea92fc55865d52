"""Fixtures of the payment tests: one gateway simulator process for the session, and settings
that point our client at it. Notifications go nowhere unless a test asks for them
(``live_gateway`` sends them to the live server)."""

import pytest
from payment_sim_support import running_payment_simulator

MERCHANT_CODE, MERCHANT_SECRET = "VNEMIS01", "test-secret-123"
OTHER_CODE, OTHER_SECRET = "OTHER02", "other-secret-456"
NOWHERE = "http://127.0.0.1:9/payments/ipn/"  # the discard port: closed, and nobody's server


@pytest.fixture(scope="session")
def paysim(tmp_path_factory):
    log = tmp_path_factory.mktemp("paysim") / "sim.log"
    with running_payment_simulator(
        merchant=[f"{MERCHANT_CODE}:{MERCHANT_SECRET}", f"{OTHER_CODE}:{OTHER_SECRET}"],
        ipn_url=NOWHERE,
        ipn_never=True,
        ipn_attempts=3,
        ipn_retry_s=0.3,
        ipn_timeout_s=5,
        log=log,
    ) as sim:
        yield sim


def point_settings_at(settings, sim, return_url: str) -> None:
    settings.VNEMIS_PAYMENT_GATEWAY_URL = sim.url
    settings.VNEMIS_PAYMENT_TMN_CODE = MERCHANT_CODE
    settings.VNEMIS_PAYMENT_SECRET = MERCHANT_SECRET
    settings.VNEMIS_PAYMENT_RETURN_URL = return_url
    settings.VNEMIS_PAYMENT_RETRIES = 1
    settings.VNEMIS_PAYMENT_TIMEOUT = 3.0


@pytest.fixture
def gateway(paysim, settings):
    """The simulator, calm, notifying nobody; our settings point at it."""
    paysim.calm()
    paysim.configure(ipn_never=True, ipn_url=NOWHERE)
    point_settings_at(settings, paysim, "http://testserver/payments/return/")
    yield paysim
    paysim.calm()
    paysim.configure(ipn_never=True, ipn_url=NOWHERE)


@pytest.fixture
def live_gateway(paysim, settings, live_server):
    """The simulator notifying the live server, whose return page the payer lands on."""
    paysim.calm()
    paysim.configure(ipn_never=False, ipn_url=f"{live_server.url}/payments/ipn/")
    point_settings_at(settings, paysim, f"{live_server.url}/payments/return/")
    yield paysim
    paysim.calm()
    paysim.configure(ipn_never=True, ipn_url=NOWHERE)
