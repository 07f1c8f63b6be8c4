"""The quota and territory pages (/territories, /quotas, the allocation preview and publish
forms) through TestClient: each role on each page, fragment and form (as the API allows:
managers, finance and plan admins read, a manager only their team's; finance and plan admins
allocate and publish), figures equal to the API's, the preview equal to the API's dry run,
publishing storing the quota events, coverage gaps, and hostile values answered 4xx."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import Formatter
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth
from tests.e2e.web.quotas_store import seed_quotas

VI = Formatter("vi", "Asia/Ho_Chi_Minh")
UPLIFT = {"period": "2027-Q1", "method": "uplift", "rate": "10", "currency": "VND"}
READERS = [(Role.PLAN_ADMIN, "pa"), (Role.FINANCE, "fin"), (Role.MANAGER, "mgr")]
OTHERS = [(Role.REP, "an"), (Role.INTEGRATION, "crm")]


def store(path: Path) -> Settings:
    settings = api_settings(sqlite_settings(path))
    seed_quotas(settings)
    return settings


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return store(tmp_path_factory.mktemp("quota-pages"))


@pytest.fixture(scope="module")
def app(shared: Settings):  # type: ignore[no-untyped-def]
    return create_app(shared)


def browser_of(app, settings: Settings, role: Role | None, subject: str = "x") -> TestClient:  # type: ignore[no-untyped-def]
    """A client signed in as the role (None: signed out), with a CSRF cookie."""
    c = TestClient(app, raise_server_exceptions=True, follow_redirects=False)
    if role is not None:
        c.cookies.set("ie_session", issue_token(settings, role, subject))
    c.cookies.set("ie_csrf", "csrf-token-for-tests")
    return c


def post(c: TestClient, path: str, data: dict[str, str], **kw: object) -> object:
    return c.post(path, data={"csrf": "csrf-token-for-tests", **data}, **kw)  # type: ignore[arg-type]


def cells(html: str, test: str) -> list[str]:
    """The text of the elements marked ``data-test=test``, tags stripped."""
    found = re.findall(rf'data-test="{test}"[^>]*>(.*?)</t[dh]>', html, re.S)
    return [re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", f)).strip() for f in found]


def rows(html: str, attr: str) -> list[str]:
    return re.findall(rf'<tr {attr}="([^"]+)"', html)


# ------------------------------------------------------------- who may do what


@pytest.mark.parametrize(("role", "subject"), READERS)
@pytest.mark.parametrize("path", ["/territories", "/quotas", "/quotas?period=2026-Q1",
                                  "/territories?on=2026-01-20&region=H%C3%A0+N%E1%BB%99i"])  # fmt: skip
def test_readers_open_the_pages(app, shared: Settings, role: Role, subject: str, path: str) -> None:  # type: ignore[no-untyped-def]
    answer = browser_of(app, shared, role, subject).get(path)
    assert answer.status_code == 200, answer.text
    assert 'href="/quotas"' in answer.text and 'href="/territories"' in answer.text  # nav


@pytest.mark.parametrize(("role", "subject"), OTHERS)
def test_reps_and_integrations_are_refused_every_page_fragment_and_form(
    app, shared: Settings, role: Role, subject: str
) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, role, subject)
    for path in ("/territories", "/quotas", "/quotas?period=2026-Q1"):
        answer = c.get(path)
        assert answer.status_code == 403 and "Địa bàn" not in answer.text.split("<main>")[1]
        assert c.get(path, headers={"HX-Request": "true"}).status_code == 403
    for path in ("/quotas/allocate", "/quotas/publish"):
        assert post(c, path, UPLIFT).status_code == 403
        assert post(c, path, UPLIFT, headers={"HX-Request": "true"}).status_code == 403
    nav = c.get("/leaderboards").text if role is Role.REP else ""
    assert 'href="/quotas"' not in nav


def test_a_manager_reads_but_may_not_allocate_or_publish(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, Role.MANAGER, "mgr")
    before = _quota_events(shared)
    assert post(c, "/quotas/allocate", UPLIFT).status_code == 403
    assert post(c, "/quotas/allocate", UPLIFT, headers={"HX-Request": "true"}).status_code == 403
    assert post(c, "/quotas/publish", {**UPLIFT, "confirm": "yes"}).status_code == 403
    assert _quota_events(shared) == before
    assert 'data-test="allocate-form"' not in c.get("/quotas").text


def test_signed_out_goes_to_sign_in(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, None)
    for path in ("/territories", "/quotas"):
        answer = c.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
        htmx = c.get(path, headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")
    assert post(c, "/quotas/allocate", UPLIFT).status_code == 303


def test_a_form_without_the_csrf_token_is_refused(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, Role.PLAN_ADMIN, "pa")
    assert c.post("/quotas/allocate", data=UPLIFT).status_code == 403
    assert c.post("/quotas/publish", data={**UPLIFT, "confirm": "yes"}).status_code == 403


# ------------------------------------------------------------------- figures


@pytest.mark.parametrize(("role", "subject"), READERS)
def test_quotas_equal_the_apis_and_a_manager_sees_only_their_team(
    app, shared: Settings, role: Role, subject: str
) -> None:  # type: ignore[no-untyped-def]
    html = browser_of(app, shared, role, subject).get("/quotas?period=2026-Q1").text
    api = TestClient(app).get("/v1/quotas", params={"period": "2026-Q1"},
                              headers=auth(shared, role, subject)).json()  # fmt: skip
    assert rows(html, "data-quota") == [f"{q['subject']}:{q['subject_id']}" for q in api["items"]]
    assert cells(html, "amount") == [VI.money(q["amount"], q["currency"]) for q in api["items"]]
    reps = [r for r in rows(html, "data-quota") if r.startswith("rep:")]
    if role is Role.MANAGER:
        assert reps == ["rep:an", "rep:binh"]  # their reports; chau and dung are not
    else:
        assert reps == ["rep:an", "rep:binh", "rep:chau", "rep:dung"]


def test_roll_ups_flag_over_and_under_allocation_and_match_the_api(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    html = browser_of(app, shared, Role.FINANCE, "fin").get("/quotas?period=2026-Q1").text
    assert rows(html, "data-rollup") == [
        "team:HCM 1", "team:HN 1", "territory:T-HCM", "region:TP.HCM", "company:company"
    ]  # fmt: skip
    # HCM 1: target 500,000,000 < an + binh 600,000,000 (over); HN 1: 600 > 500 (under)
    assert cells(html, "target")[:2] == [VI.money(500_000_000, "VND"), VI.money(600_000_000, "VND")]
    assert cells(html, "reps-sum")[:2] == [
        VI.money(600_000_000, "VND"),
        VI.money(500_000_000, "VND"),
    ]
    status = cells(html, "status")
    assert status[:2] == [VI.gettext("over"), VI.gettext("under")]
    assert status[4] == VI.gettext("balanced")  # company: 1.1 bn target, 1.1 bn of rep quotas
    api = TestClient(app).get("/v1/attainment/2026-Q1", params={"by": "team"},
                              headers=auth(shared, Role.FINANCE, "fin")).json()  # fmt: skip
    by_team = {a["subject_id"]: a for a in api["items"]}
    credited = cells(html, "credited")
    assert credited[:2] == [VI.money(by_team[t]["credited"], "VND") for t in ("HCM 1", "HN 1")]
    assert by_team["HCM 1"]["credited"] == "490000000"  # D1 390 + D2 100
    attainment = cells(html, "attainment")
    assert VI.percent(98) in attainment[0] and VI.gettext("below 100 %") in attainment[0]
    assert credited[4] == VI.money(760_000_000, "VND")  # 490 + 270 (chau 150 + dung 120)


def test_a_manager_sees_the_roll_up_of_their_own_team_only(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    html = browser_of(app, shared, Role.MANAGER, "mgr").get("/quotas?period=2026-Q1").text
    assert rows(html, "data-rollup") == ["team:HCM 1", "territory:T-HCM", "region:TP.HCM"]
    # team quotas are shown to every reader (as GET /v1/quotas); other teams' reps are not
    assert "rep:dung" not in html and "Đỗ Dũng" not in html and "Phạm Châu" not in html


def test_a_plan_admin_sees_no_one_persons_credited_revenue(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    html = browser_of(app, shared, Role.PLAN_ADMIN, "pa").get("/quotas?period=2026-Q1").text
    credited = dict(zip(rows(html, "data-rollup"), cells(html, "credited"), strict=True))
    assert credited["team:HCM 1"] == VI.money(490_000_000, "VND")  # mgr, an, binh: 3 people
    assert credited["territory:T-HCM"] == "–"  # one owner: that is an's revenue
    assert credited["region:TP.HCM"] == "–"


def test_territories_show_owners_over_time_and_the_gap(app, shared: Settings) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, Role.PLAN_ADMIN, "pa")
    html = c.get("/territories?on=2026-03-31").text
    api = TestClient(app).get("/v1/territories", params={"on": "2026-03-31"},
                              headers=auth(shared, Role.PLAN_ADMIN, "pa")).json()  # fmt: skip
    assert rows(html, "data-territory") == [t["territory_id"] for t in api["items"]]
    hn = api["items"][1]
    assert hn["history"] == [{"start": "2026-02-01", "end": None,
                              "owners": [{"rep_id": "chau", "share": "100"}]}]  # fmt: skip
    assert hn["gaps"] == [{"start": "2025-01-01", "end": "2026-01-31", "reason": "unowned"}]
    gaps = cells(html, "gaps")
    assert VI.date("2025-01-01") in gaps[1] and VI.date("2026-01-31") in gaps[1]
    assert VI.gettext("unowned") in gaps[1] and gaps[0] == VI.gettext("none")
    assert (
        "Phạm Châu" in cells(html, "timeline")[1]
        if cells(html, "timeline")
        else "Phạm Châu" in html
    )
    # the Hà Nội deal won on 2026-01-15 had no owner; chau's own 2025 deal is hers: no amount
    assert rows(html, "data-deal") == ["D0C", "D-HN"]
    assert VI.money(80_000_000, "VND") in html
    only = c.get("/territories", params={"on": "2026-03-31", "region": "TP.HCM"}).text
    assert rows(only, "data-territory") == ["T-HCM"]
    before = c.get("/territories", params={"on": "2026-01-20"}).text
    assert "Phạm Châu" not in before.split('data-territory="T-HN"')[1].split("</tr>")[0]
    known = c.get("/territories", params={"on": "2026-03-31", "as_of": "2020-01-01"}).text
    assert rows(known, "data-territory") == []  # nothing was recorded by then


# ---------------------------------------------------------------- allocation


@pytest.mark.parametrize(("role", "subject"), [(Role.PLAN_ADMIN, "pa"), (Role.FINANCE, "fin")])
def test_the_preview_equals_the_apis_dry_run(
    app, shared: Settings, role: Role, subject: str
) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, role, subject)
    before = _quota_events(shared)
    html = post(c, "/quotas/allocate", UPLIFT, headers={"HX-Request": "true"}).text
    api = TestClient(app).post("/v1/quotas/allocate", json=UPLIFT,
                               headers=auth(shared, role, subject)).json()  # fmt: skip
    assert _quota_events(shared) == before  # a dry run
    assert rows(html, "data-subject") == [f"rep:{r['subject_id']}" for r in api["rows"]]
    assert cells(html, "proposed") == [VI.money(r["allocated"], "VND") for r in api["rows"]]
    assert [r["subject_id"] for r in api["rows"]] == ["an", "binh", "chau", "dung"]
    assert [r["allocated"] for r in api["rows"]] == [
        "429000000",
        "110000000",
        "165000000",
        "132000000",
    ]
    assert cells(html, "action") == [VI.gettext(r["action"]) for r in api["rows"]]
    if role is Role.PLAN_ADMIN:  # last year's revenue per rep is pay: neither door shows it
        assert all(r["last_year"] is None and r["raw"] is None for r in api["rows"])
        assert api["last_year_total"] == "760000000"  # four people: an aggregate may show
        assert 'data-test="last-year"' not in html and 'data-test="no-history"' in html
        assert VI.money(390_000_000, "VND") not in html
    else:
        assert cells(html, "last-year")[0] == VI.money(api["rows"][0]["last_year"], "VND")
    full = post(c, "/quotas/allocate", UPLIFT)
    assert full.status_code == 200 and 'data-test="preview-table"' in full.text


def test_publishing_stores_the_quota_events_once(tmp_path: Path) -> None:
    settings = store(tmp_path)
    app = create_app(settings)
    c = browser_of(app, settings, Role.PLAN_ADMIN, "pa")
    preview = post(c, "/quotas/allocate", UPLIFT).text
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', preview)
    assert fingerprint is not None
    before = _quota_events(settings)
    unconfirmed = post(c, "/quotas/publish", {**UPLIFT, "fingerprint": fingerprint[1]})
    assert unconfirmed.status_code == 422 and 'data-field="confirm"' in unconfirmed.text
    stale = post(c, "/quotas/publish", {**UPLIFT, "fingerprint": "0" * 16, "confirm": "yes"})
    assert stale.status_code == 409 and 'data-field="fingerprint"' in stale.text
    assert _quota_events(settings) == before
    done = post(c, "/quotas/publish", {**UPLIFT, "fingerprint": fingerprint[1], "confirm": "yes",
                                        "reason": "FY27 plan"})  # fmt: skip
    assert done.status_code == 200 and 'data-test="published"' in done.text
    assert _quota_events(settings) == before + 4  # an, binh, chau, dung for 2027-Q1
    api = TestClient(app).get("/v1/quotas", params={"period": "2027-Q1"},
                              headers=auth(settings, Role.FINANCE, "fin")).json()  # fmt: skip
    assert [(q["subject_id"], q["amount"]) for q in api["items"]] == [
        ("an", "429000000"), ("binh", "110000000"), ("chau", "165000000"), ("dung", "132000000")
    ]  # fmt: skip
    again = post(c, "/quotas/publish", {**UPLIFT, "fingerprint": fingerprint[1], "confirm": "yes"})
    assert again.status_code == 200 and _quota_events(settings) == before + 4  # idempotent
    # finance may publish too (as the API): a 20 % uplift changes the four quotas
    f = browser_of(app, settings, Role.FINANCE, "fin")
    more = {**UPLIFT, "rate": "20"}
    print_ = re.search(
        r'name="fingerprint" value="([0-9a-f]+)"', post(f, "/quotas/allocate", more).text
    )
    assert print_ is not None
    assert (
        post(f, "/quotas/publish", {**more, "fingerprint": print_[1], "confirm": "yes"}).status_code
        == 200
    )
    assert _quota_events(settings) == before + 8


def _quota_events(settings: Settings) -> int:
    with EventStore(settings) as s:
        return sum(1 for r in s.read(0) if r.event.type in ("QuotaSet", "QuotaChanged"))


# ----------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/territories?on=yesterday", "on"),
        ("/territories?on=2026-02-30", "on"),
        ("/territories?as_of=2026-13-45", "as_of"),
        ("/territories?region=" + "x" * 500, "region"),
        ("/quotas?period=%3Cscript%3E", "period"),
        ("/quotas?period=2026-Q9", "period"),
    ],
)
def test_hostile_query_values_give_a_4xx_page(app, shared: Settings, path: str, field: str) -> None:  # type: ignore[no-untyped-def]
    answer = browser_of(app, shared, Role.PLAN_ADMIN, "pa").get(path)
    assert answer.status_code == 422 and "<script>" not in answer.text
    assert 'data-test="bad-input"' in answer.text
    if field not in ("period", "as_of"):  # these two have a message of their own
        assert field in answer.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"period": "<script>alert(1)</script>"}, "period"),
        ({"period": ""}, "period"),
        ({"method": "evil"}, "method"),
        ({"rate": "abc"}, "rate"),
        ({"rate": "1e999999"}, "rate"),
        ({"rate": "-150"}, "rate"),
        ({"rate": "NaN"}, "rate"),
        ({"target": "-5"}, "target"),
        ({"target": "1.5"}, "target"),
        ({"currency": "XXX"}, "currency"),
        ({"method": "market", "rate": "0", "market": "no-equals-sign"}, "market"),
        ({"method": "market", "rate": "0", "market": "TP.HCM=5"}, "market"),
        ({"cascade": "on"}, "cascade"),
    ],
)
def test_hostile_form_values_name_the_field(
    app, shared: Settings, change: dict, field: str
) -> None:  # type: ignore[no-untyped-def]
    c = browser_of(app, shared, Role.PLAN_ADMIN, "pa")
    for path in ("/quotas/allocate", "/quotas/publish"):
        answer = post(c, path, {**UPLIFT, **change, "confirm": "yes", "fingerprint": "x"})
        assert answer.status_code == 422, (path, answer.text[-500:])
        assert f'data-field="{field}"' in answer.text and "<script>alert" not in answer.text
