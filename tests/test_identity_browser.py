"""Identity in a real browser: a school officer finds a pupil whose name did not match the
population registry (the simulator, its own process), corrects it and sees it verified at once;
a Department officer reviews a candidate link side by side and rejects it.

Screenshots land in var/screenshots/ for a human to look at.
"""

from datetime import date

import pytest
from browser_support import SCREENSHOTS, log_in
from registry_sim_support import citizen, running_simulator, write_citizens

from vnemis.core.crypto import blind_index, encrypt_identifier
from vnemis.identity.models import ReviewItem, Verification
from vnemis.identity.verification import candidate_of, outcomes_save
from vnemis.registry.models import Person

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def registry(tmp_path, settings):
    path = write_citizens(
        tmp_path / "citizens.parquet",
        [citizen("001217001234", "Nguyễn Văn An", date(2017, 3, 14), "M")],
    )
    with running_simulator(path) as sim:
        settings.VNEMIS_REGISTRY_URL = sim.url
        settings.VNEMIS_REGISTRY_CLIENT_ID = sim.client_id
        settings.VNEMIS_REGISTRY_CLIENT_SECRET = sim.client_secret
        yield sim


def test_school_corrects_a_mismatch_and_it_verifies_at_once(
    page, live_server, users, pupils, registry
):
    from playwright.sync_api import expect

    an = pupils["an"]
    Person.objects.filter(pk=an.pk).update(full_name="Nguyễn Văn Ăn")
    an.refresh_from_db()
    outcomes_save([candidate_of(an, "mismatch", ["full_name"])], method="id_check", run_id=None)
    base = live_server.url
    log_in(page, base, "truong_a")
    page.get_by_role("link", name="Định danh").click()
    page.wait_for_url(f"{base}/identity/schools/01000101/")
    row = page.locator(f'tr[data-person="{an.pk}"]')
    expect(row).to_contain_text("Nguyễn Văn Ăn")
    expect(row).to_contain_text("kiểm tra dấu")
    page.screenshot(path=str(SCREENSHOTS / "identity_school_to_fix.png"), full_page=True)
    row.get_by_role("link", name="Sửa").click()
    page.get_by_label("Họ và tên").fill("Nguyễn Văn An")
    page.get_by_role("button", name="Lưu và xác thực").click()
    page.wait_for_url(f"{base}/identity/schools/01000101/")
    expect(page.locator(".alert-success")).to_contain_text("Đã xác thực")
    expect(page.locator(f'tr[data-person="{an.pk}"]')).to_have_count(0)
    assert Verification.objects.get(person=an).status == "verified"


def test_department_reviews_a_pair_side_by_side(page, live_server, users, pupils):
    from playwright.sync_api import expect

    binh = pupils["binh"]
    item = ReviewItem.objects.create(
        kind="registry_link",
        person=binh,
        citizen_id_ciphertext=encrypt_identifier("001313009999"),
        citizen_id_index=blind_index("001313009999"),
        candidate={"full_name": "Trần Thị Bính", "birth_date": "02/06/2013", "sex": "Nữ"},
        match_probability=0.81,
        match_weight=3.4,
        explanation=[
            {"field": "full_name", "level": "close", "weight": 2.1},
            {"field": "birth_date", "level": "exact", "weight": 6.3},
            {"field": "parents", "level": "else", "weight": -5.0},
        ],
        model_version="link-v1",
        province_code="01",
    )
    base = live_server.url
    log_in(page, base, "so_hn")
    page.goto(f"{base}/identity/review/registry_link/")
    page.get_by_role("link", name="Xem và quyết định").click()
    expect(page.locator("#sides")).to_contain_text("Trần Thị Bình")
    expect(page.locator("#sides")).to_contain_text("Trần Thị Bính")
    expect(page.locator("#explanation")).to_contain_text("Tên cha mẹ")
    page.screenshot(path=str(SCREENSHOTS / "identity_review_pair.png"), full_page=True)
    page.get_by_role("button", name="Không phải cùng một người").click()
    expect(page.locator(".alert-success")).to_contain_text("Đã ghi nhận")
    item.refresh_from_db()
    assert item.status == "rejected" and item.decided_by == users["department"]
