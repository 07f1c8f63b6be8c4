"""Finance's disputes inbox and audit pages without a browser: finance only (every page,
fragment, download and form post refused to the other roles), the explanation's figures
equal to ``GET /v1/audit/{rep}/{period}``, the event search checked against the store, and
hostile values answered with a clear 4xx page, never a 500."""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from api.web.i18n import Formatter
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore, RecordedEvent
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings
from tests.e2e.web.audit_store import RAISED, seed_audit


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("audit-pages")))
    seed_audit(found)
    return found


@pytest.fixture(scope="module")
def app_of(settings: Settings) -> Iterator[object]:
    yield create_app(settings)


def signed_in(app: object, settings: Settings, role: Role, subject: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    assert client.get("/sign-in").status_code == 200
    csrf = client.cookies.get("ie_csrf")
    token = issue_token(settings, role, subject)
    answer = client.post("/sign-in", data={"csrf": csrf, "token": token, "next": "/"},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    client.csrf = csrf  # type: ignore[attr-defined]
    return client


def form(client: TestClient, **fields: str) -> dict[str, str]:
    return {"csrf": client.csrf, **fields}  # type: ignore[attr-defined]


def positions(body: str) -> list[int]:
    return [int(p) for p in re.findall(r'<tr data-position="(\d+)"', body)]


def every_event(settings: Settings) -> list[RecordedEvent]:
    with EventStore(settings) as store:
        return list(store.read())


PAGES = (
    "/disputes/inbox",
    "/disputes/inbox?period=2026-Q1&team=TP.HCM%201",
    "/audit",
    "/audit/events",
    "/audit/events?type=DealWon&rep=an",
    "/audit/events/1",
    "/audit/an/2026-Q1",
    "/audit/explain?rep=an&period=2026-Q1",
    "/audit/pack?period=2026-Q1",
)
POSTS = (
    ("/audit/verify", {}),
    ("/disputes/inbox/dsp-old/comment", {"comment": "looking"}),
    ("/disputes/inbox/dsp-old/resolve", {"outcome": "rejected", "reason": "no"}),
)


@pytest.mark.parametrize(
    ("role", "subject"),
    [(Role.REP, "an"), (Role.MANAGER, "mgr"), (Role.PLAN_ADMIN, "pa"), (Role.INTEGRATION, "crm")],
)
def test_only_finance_reads_or_writes_the_audit_and_inbox_pages(
    app_of: object, settings: Settings, role: Role, subject: str
) -> None:
    client = signed_in(app_of, settings, role, subject)
    for path in PAGES:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "application/zip" not in answer.headers["content-type"]
        fragment = client.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert fragment.status_code == 403, path
    for path, fields in POSTS:
        assert client.post(path, data=form(client, **fields)).status_code == 403, path
    nav = client.get("/").text
    assert 'href="/audit"' not in nav and 'href="/disputes/inbox"' not in nav


def test_signed_out_goes_to_sign_in(app_of: object) -> None:
    client = TestClient(app_of, raise_server_exceptions=False)  # type: ignore[arg-type]
    for path in PAGES:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"], path
        htmx = client.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")


def test_finance_opens_every_page(app_of: object, settings: Settings) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    for path in PAGES:
        answer = client.get(path, follow_redirects=True)
        assert answer.status_code == 200, (path, answer.text[:500])
    nav = client.get("/audit").text
    assert 'href="/audit"' in nav and 'href="/disputes/inbox"' in nav
    pack = client.get("/audit/pack?period=2026-Q1")
    assert pack.headers["content-type"] == "application/zip"
    assert 'filename="audit-pack-2026-Q1.zip"' in pack.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    assert "2026-Q1/manifest.json" in names and "2026-Q1/events.csv" in names


def test_verify_now_records_when_and_up_to_where(app_of: object, settings: Settings) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    assert client.post("/audit/verify", data={"csrf": "forged"}).status_code == 403
    answer = client.post("/audit/verify", data=form(client), follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/audit?verified=1"
    body = client.get("/audit?verified=1").text
    head = len(every_event(settings))
    assert 'data-test="verify-result">Nguyên vẹn' in body
    assert re.search(rf'data-test="verified-position">{head}<', body)
    api = client.get("/v1/audit/verify", headers=bearer(settings)).json()
    assert api["ok"] is True and api["events"] == head


def bearer(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, Role.FINANCE, 'fin')}"}


def test_the_explanation_shows_the_apis_figures(app_of: object, settings: Settings) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    api = client.get("/v1/audit/an/2026-Q1", headers=bearer(settings)).json()
    body = client.get("/audit/an/2026-Q1").text
    f = Formatter("vi", settings.time_zone)
    totals = re.findall(r'data-test="paid-total">([^<]+)<', body)
    assert totals == [f.money(Decimal(s["total"]), s["currency"]) for s in api["statements"]]
    amounts = re.findall(r'data-test="line-amount">([^<]+)<', body)
    currency = api["statements"][0]["currency"]
    assert amounts == [f.money(Decimal(c["line"]["amount"]), currency) for c in api["chains"]]
    assert len(api["chains"]) >= 2
    for chain in api["chains"]:
        assert f"<code>{chain['line']['component']}</code>" in body
        for event in chain["events"]:
            assert f"<code>{event['event_id']}</code>" in body
            assert f'href="/audit/events/{event["position"]}"' in body
            assert html.escape(event["source"] or "") in body
    as_of = client.get("/audit/an/2026-Q1?as_of=2026-03-01").text
    api_then = client.get(
        "/v1/audit/an/2026-Q1?as_of=2026-03-01T23:59:59%2B07:00", headers=bearer(settings)
    ).json()
    then = re.findall(r'data-test="paid-total">([^<]+)<', as_of)
    assert then == [f.money(Decimal(s["total"]), s["currency"]) for s in api_then["statements"]]
    assert then != totals  # D3 was recorded after that day


def test_event_search_matches_the_store(app_of: object, settings: Settings) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    events = every_event(settings)
    zone = ZoneInfo(settings.time_zone)

    def expect(keep: object) -> list[int]:
        return [r.position for r in events if keep(r)]  # type: ignore[operator]

    cases = {
        "type=DealWon": lambda r: r.event.type == "DealWon",
        "type=DealWon&type=RepHired": lambda r: r.event.type in ("DealWon", "RepHired"),
        "rep=an": lambda r: "an" in r.event.rep_ids(),
        "rep=an&type=DealWon": lambda r: "an" in r.event.rep_ids() and r.event.type == "DealWon",
        "deal=D3": lambda r: getattr(r.event, "deal_id", None) == "D3",
        "since=2026-02-15&until=2026-03-02": lambda r: (
            datetime(2026, 2, 15, tzinfo=zone)
            <= r.event.effective_at
            <= datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=zone)
        ),
        "on=recorded&since=2026-03-01&until=2026-03-06": lambda r: (
            datetime(2026, 3, 1, tzinfo=zone)
            <= r.recorded_at
            <= datetime(2026, 3, 6, 23, 59, 59, 999999, tzinfo=zone)
        ),
        "as_of=2026-03-01": lambda r: (
            r.recorded_at <= datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=zone)
        ),
        "as_of=2026-03-01&rep=an": lambda r: (
            "an" in r.event.rep_ids()
            and r.recorded_at <= datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=zone)
        ),
    }
    for query, keep in cases.items():
        wanted = expect(keep)
        assert wanted, query
        answer = client.get(f"/audit/events?{query}&limit=200")
        assert answer.status_code == 200, (query, answer.text[:300])
        assert positions(answer.text) == wanted, query
    # paging: stable, in log order, pages of the limit, nothing lost or repeated
    seen: list[int] = []
    url = "/audit/events?limit=4"
    while url:
        body = client.get(url).text
        seen += positions(body)
        found = re.search(r'href="([^"]+)" data-test="next-page"', body)
        url = html.unescape(found.group(1)) if found else ""
    assert seen == [r.position for r in events]
    # an event's JSON, escaped
    reason_event = next(r for r in events if r.event.type == "DisputeRaised")
    detail = client.get(f"/audit/events/{reason_event.position}", headers={"HX-Request": "true"})
    assert detail.status_code == 200
    assert reason_event.event.event_id in detail.text and "<html" not in detail.text
    hostile = next(r for r in events if "#42" in (getattr(r.event, "reason", None) or ""))
    shown = client.get(f"/audit/events/{hostile.position}").text
    assert "&lt;b&gt;#42&lt;/b&gt; &amp; more" in shown and "<b>#42</b>" not in shown


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/audit/events?after=10000000000000", "after"),
        ("/audit/events?after=-1", "after"),
        ("/audit/events?limit=0", "limit"),
        ("/audit/events?limit=100000", "limit"),
        ("/audit/events?since=yesterday", "since"),
        ("/audit/events?until=2026-02-30", "until"),
        ("/audit/events?as_of=" + "9" * 5000, "as_of"),
        ("/audit/events?since=2026-03-01&until=2026-02-01", "until"),
        ("/audit/events?rep=" + "x" * 5000, "rep"),
        ("/audit/events?deal=" + "d" * 200, "deal"),
        ("/audit/events?type=Nope", "type"),
        ("/audit/events?on=sideways", "on"),
        ("/audit/events/abc", "position"),
        ("/audit/events/" + "9" * 40, "position"),
        ("/audit/an/2026-Q9", "period"),
        ("/audit/an/2026-Q1?as_of=soon", "as_of"),
        ("/audit/pack?period=2026-Q5", "period"),
        ("/audit/explain?rep=&period=2026-Q1", "rep"),
        ("/disputes/inbox?period=" + "x" * 5000, "period"),
    ],
)
def test_hostile_values_get_a_clear_4xx_page(
    app_of: object, settings: Settings, path: str, field: str
) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    answer = client.get(path)
    assert answer.status_code == 422, (path, answer.status_code, answer.text[:300])
    assert "text/html" in answer.headers["content-type"]
    assert 'data-test="bad-input"' in answer.text or 'data-test="form-error"' in answer.text
    # the page names the field (a period's or a day's page says what it wants instead)
    named = {"period": "2026-Q1", "as_of": "2026-02-28"}.get(field, field)
    assert named in answer.text


def test_missing_things_are_404_pages(app_of: object, settings: Settings) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    assert client.get("/audit/events/999999").status_code == 404
    assert client.get("/audit/nobody/2026-Q1").status_code == 404
    assert client.get("/audit/events?rep=nobody").status_code == 200


def inbox_order(body: str) -> list[str]:
    return re.findall(r'<section class="card inbox-item" id="d-[^"]+" data-dispute="([^"]+)"', body)


def test_the_inbox_orders_by_age_and_filters(app_of: object, settings: Settings) -> None:
    client = signed_in(app_of, settings, Role.FINANCE, "fin")
    body = client.get("/disputes/inbox").text
    assert inbox_order(body)[:3] == ["dsp-old", "dsp-mid", "dsp-new"]
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.time_zone)).date()
    ages = re.findall(r'data-test="age">(\d+) ngày<', body)
    wanted = [(today - at.astimezone(ZoneInfo(settings.time_zone)).date()).days
              for _, at, _ in RAISED.values()]  # fmt: skip
    assert [int(a) for a in ages[:3]] == wanted
    assert "Tôi nghĩ tỷ lệ phải là 5 %" in body
    assert "&lt;b&gt;#42&lt;/b&gt; &amp; more" in body and "<b>#42</b>" not in body
    assert body.count('data-test="explanation"') >= 3  # the line explained beside each reason
    hanoi = client.get("/disputes/inbox?team=H%C3%A0%20N%E1%BB%99i%201").text
    assert inbox_order(hanoi) == ["dsp-mid"]
    assert inbox_order(client.get("/disputes/inbox?period=2026-Q2").text) == []


def test_rejecting_needs_a_reason_and_accepting_shows_the_result(
    tmp_path: Path,
) -> None:
    settings = api_settings(sqlite_settings(tmp_path))
    seed_audit(settings)
    client = signed_in(create_app(settings), settings, Role.FINANCE, "fin")
    refused = client.post("/disputes/inbox/dsp-new/resolve", data=form(client, outcome="rejected"))
    assert refused.status_code == 422 and "reason" in refused.text
    bad = client.post("/disputes/inbox/dsp-new/resolve", data=form(client, outcome="maybe"))
    assert bad.status_code == 422 and "outcome" in bad.text
    missing = client.post("/disputes/inbox/dsp-none/resolve", data=form(client, outcome="accepted"))
    assert missing.status_code == 404
    said = client.post("/disputes/inbox/dsp-new/comment", data=form(client, comment="Đang xem"))
    assert said.status_code == 200 and "Đang xem" in said.text
    done = client.post("/disputes/inbox/dsp-new/resolve",
                       data=form(client, outcome="rejected", reason="D5 is in Q1 already"),
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    shown = client.get(done.headers["location"]).text
    assert 'data-test="done"' in shown and "D5 is in Q1 already" in shown
    assert "dsp-new" not in inbox_order(shown)
    api = client.get("/v1/disputes/dsp-new", headers=bearer(settings)).json()
    assert api["status"] == "resolved-rejected"
    accepted = client.post("/disputes/inbox/dsp-old/resolve", data=form(client, outcome="accepted"))
    assert accepted.status_code == 200 and 'data-test="done"' in accepted.text
    api = client.get("/v1/disputes/dsp-old", headers=bearer(settings)).json()
    assert api["status"] != "open"  # whatever accepting does, the dispute left the inbox
    assert "dsp-old" not in inbox_order(accepted.text)
