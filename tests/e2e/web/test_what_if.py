"""What if I close this deal? The estimator's page, fragment and API route: the extra pay
against a hand-computed figure, the visibility rule (own, a report's, another rep's, signed
out), bad input named by field, nothing stored; and in a real browser, in vi and en."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import Formatter
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.web.conftest import Server, shoot, sign_in, text

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
EN = Formatter("en", "Asia/Ho_Chi_Minh")
DEAL = {
    "amount": "60000000",
    "close_date": "2026-03-01",
    "product_group": "cloud",
    "region": "TP.HCM",
    "industry": "Bán lẻ",
}
"""The seed's rep an has 390,000,000 credited on a quota of 300,000,000 in 2026-Q1 under the
graduated tiers 2/5/8 %: 60,000,000 more all falls in the top tier, 60,000,000 x 8 %."""
EXTRA = "4800000"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("what-if")))
    seed(found)
    return found


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Any]:
    yield create_app(settings)


def as_(app: Any, settings: Settings, role: Role | None, subject: str = "") -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    if role is not None:
        client.cookies.set("ie_session", issue_token(settings, role, subject))
    return client


def bearer(settings: Settings, role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, role, subject)}"}


def events(settings: Settings) -> int:
    with EventStore(settings) as store:
        return store.max_position()


# ---------------------------------------------------------------------- the API


def test_the_api_estimates_and_stores_nothing(app: Any, settings: Settings) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    before = events(settings)
    answer = client.post("/v1/reps/an/what-if", json=DEAL, headers=bearer(settings, Role.REP, "an"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["difference"] == {"VND": EXTRA}
    (plan,) = found["plans"]
    assert (plan["total_before"], plan["total_after"]) == ("17700000", "22500000")
    assert (plan["attainment_before"], plan["attainment_after"]) == ("130", "150")
    assert [ln["difference"] for ln in plan["lines"]] == ["0", "0", EXTRA]
    assert events(settings) == before
    # and the statement the API serves is the one before the deal
    statement = client.get(
        "/v1/reps/an/statements/2026-Q1", headers=bearer(settings, Role.REP, "an")
    )
    assert statement.json()[0]["total"] == "17700000"


def test_the_api_applies_the_visibility_rule(app: Any, settings: Settings) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    post = client.post
    assert (
        post(
            "/v1/reps/an/what-if", json=DEAL, headers=bearer(settings, Role.REP, "binh")
        ).status_code
        == 403
    )
    assert (
        post(
            "/v1/reps/an/what-if", json=DEAL, headers=bearer(settings, Role.MANAGER, "mgr")
        ).status_code
        == 200
    )
    assert (
        post(
            "/v1/reps/chau/what-if", json=DEAL, headers=bearer(settings, Role.MANAGER, "mgr")
        ).status_code
        == 403
    )
    for role in (Role.FINANCE, Role.PLAN_ADMIN, Role.INTEGRATION):
        assert (
            post("/v1/reps/an/what-if", json=DEAL, headers=bearer(settings, role, "x")).status_code
            == 403
        )
    assert post("/v1/reps/an/what-if", json=DEAL).status_code == 401
    assert post("/v1/reps/nobody/what-if", json=DEAL, headers=bearer(settings, Role.REP, "an")).status_code == 403  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "10.5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"product_group": "cloudy"}, "product_group"),
        ({"region": "Mars"}, "customer.region"),
        ({"opportunity_id": "nope"}, "opportunity_id"),
        ({"close_date": "1999-01-01"}, "close_date"),
    ],
)
def test_the_api_names_the_bad_field(
    app: Any, settings: Settings, change: dict[str, str], field: str
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.post(
        "/v1/reps/an/what-if", json={**DEAL, **change}, headers=bearer(settings, Role.REP, "an")
    )
    assert answer.status_code in (409, 422), answer.text
    body = answer.json()["error"]
    assert field in str(body), body


def test_the_route_is_documented(app: Any) -> None:
    schema = TestClient(app).get("/openapi.json").json()
    route = schema["paths"]["/v1/reps/{rep}/what-if"]["post"]
    assert "EstimateView" in str(route["responses"]["200"])
    assert "WhatIfRequest" in str(route["requestBody"])


# -------------------------------------------------------------------- the page


def test_the_page_without_javascript_shows_the_extra_pay(app: Any, settings: Settings) -> None:
    before = events(settings)
    page = as_(app, settings, Role.REP, "an").get("/what-if", params=DEAL)
    assert page.status_code == 200
    assert text(VI.money(Decimal(EXTRA), "VND")) in text(page.text)
    assert 'data-test="extra-pay"' in page.text and "Nếu tôi chốt hợp đồng này" in page.text
    assert events(settings) == before


def test_the_fragment_and_the_page_apply_the_visibility_rule(app: Any, settings: Settings) -> None:
    hx = {"HX-Request": "true"}
    own = as_(app, settings, Role.REP, "an")
    assert own.get("/what-if").status_code == 200
    assert own.get("/what-if/result", params=DEAL, headers=hx).status_code == 200
    manager = as_(app, settings, Role.MANAGER, "mgr")
    assert manager.get("/what-if", params={**DEAL, "rep": "an"}).status_code == 200
    assert (
        manager.get("/what-if/result", params={**DEAL, "rep": "an"}, headers=hx).status_code == 200
    )
    assert manager.get("/what-if", params={"rep": "chau"}).status_code == 403
    other = as_(app, settings, Role.REP, "binh")
    assert other.get("/what-if", params={"rep": "an"}).status_code == 403
    assert other.get("/what-if", params={**DEAL, "rep": "an"}).status_code == 403
    refused = other.get("/what-if/result", params={**DEAL, "rep": "an"}, headers=hx)
    assert refused.status_code == 403 and "4.800.000" not in refused.text
    assert as_(app, settings, Role.FINANCE, "fin").get("/what-if").status_code == 403
    out = as_(app, settings, None)
    answer = out.get("/what-if", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    fragment = out.get("/what-if/result", params=DEAL, headers=hx)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/sign-in")


@pytest.mark.parametrize(
    ("change", "label"),
    [
        ({"amount": "sáu mươi"}, "Giá trị hợp đồng"),
        ({"amount": "0"}, "Giá trị hợp đồng"),
        ({"amount": "10,5"}, "Giá trị hợp đồng"),  # VND has no minor unit
        ({"amount": "9" * 30}, "Giá trị hợp đồng"),
        ({"close_date": "31/02/2026"}, "Ngày chốt"),
        ({"currency": "ZZZ"}, "Tiền tệ"),
        ({"product_group": "cloudy"}, "Nhóm sản phẩm"),
        ({"opportunity_id": "nope"}, "Cơ hội đang mở"),
    ],
)
def test_bad_input_is_named_on_the_form_never_a_500(
    app: Any, settings: Settings, change: dict[str, str], label: str
) -> None:
    client = as_(app, settings, Role.REP, "an")
    for path in ("/what-if", "/what-if/result"):
        answer = client.get(path, params={**DEAL, **change}, headers={"HX-Request": "true"})
        assert answer.status_code == 422, (path, answer.text[-500:])
        assert 'data-test="what-if-error"' in answer.text and label in answer.text


def test_amounts_read_in_the_pages_language(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.REP, "an")
    for typed in ("60.000.000", "60 000 000", "60000000"):
        answer = client.get("/what-if/result", params={**DEAL, "amount": typed})
        assert answer.status_code == 200 and "+4.800.000" in text(answer.text), typed


# ----------------------------------------------------------------- the browser


def test_a_rep_estimates_a_deal_in_the_browser(page: Page, server: Server, tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, server.token(Role.REP, "an"), "/what-if")
    assert page.url.endswith("/what-if")
    page.fill("#amount", "60.000.000")
    page.fill("#close_date", "2026-03-01")
    page.select_option("#product_group", "cloud")
    page.click("form[data-test=what-if-form] button[type=submit]")
    extra = page.locator("[data-test=extra-pay]")
    extra.wait_for()
    assert page.url.endswith("/what-if")  # htmx swapped the result in: no reload
    # hand-computed: 60,000,000 x 8 % (an is at 130 % of quota, in the top tier)
    assert text(extra.inner_text()) == "+" + text(VI.money(Decimal(EXTRA), "VND"))
    assert text(page.inner_text("[data-test=attainment-after]")) == "150,0 %"
    page.locator("[data-test=chart-what-if-chart] canvas").wait_for()
    shoot(page, tmp_path / "what-if-vi.png", full_page=True)
    page.click("button[lang=en]")
    page.wait_for_load_state()
    page.fill("#amount", "60,000,000")
    page.fill("#close_date", "2026-03-01")
    page.click("form[data-test=what-if-form] button[type=submit]")
    page.locator("[data-test=extra-pay]").wait_for()
    assert text(page.inner_text("[data-test=extra-pay]")) == "+" + text(
        EN.money(Decimal(EXTRA), "VND")
    )
    assert "Extra pay this period" in page.inner_text("main")
    shoot(page, tmp_path / "what-if-en.png", full_page=True)
    page.fill("#amount", "0")
    page.click("form[data-test=what-if-form] button[type=submit]")
    page.locator("[data-test=what-if-error]").wait_for()
    assert "Deal amount" in page.inner_text("[data-test=what-if-error]")
    shoot(page, tmp_path / "what-if-error.png", full_page=True)
    page.click("button[lang=vi]")
    # the browser logs the refused estimate's 422 (shown on the form); nothing else failed
    assert [e for e in errors if "status of 422" not in e] == []


def test_another_reps_estimate_is_refused_in_the_browser(page: Page, server: Server) -> None:
    sign_in(page, server.token(Role.REP, "binh"), "/what-if?rep=an&amount=60000000")
    assert "4.800.000" not in page.inner_text("main")
    assert page.locator("[data-test=extra-pay]").count() == 0
