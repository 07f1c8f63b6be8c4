"""The plan admin's pages without a browser: who may read and write them, the rules as
readable text and the payout curve (DESIGN §5's tiers), validation at the path, drafts that
never reach the event store, publishing with who and why, and the diff of two versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed

BAD_RATE = "        rate: -5\n"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    found = api_settings(sqlite_settings(tmp_path))
    seed(found)
    return found


def signed_in(settings: Settings, role: Role, subject: str) -> tuple[TestClient, str]:
    """A browser signed in with a token of the role, and its CSRF token."""
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    assert client.get("/sign-in").status_code == 200
    csrf = client.cookies.get("ie_csrf")
    assert csrf
    token = issue_token(settings, role, subject)
    answer = client.post("/sign-in", data={"csrf": csrf, "token": token}, follow_redirects=False)
    assert answer.status_code == 303
    return client, csrf


def admin(settings: Settings) -> tuple[TestClient, str]:
    return signed_in(settings, Role.PLAN_ADMIN, "pat")


def events(settings: Settings) -> int:
    with EventStore(settings) as store:
        return sum(1 for _ in store.read())


def new_draft(client: TestClient, csrf: str, source: str = "example@1") -> int:
    answer = client.post(
        "/plans/drafts", data={"csrf": csrf, "source": source}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def chart_data(html: str, chart: str) -> dict[str, object]:
    found = re.search(rf'<script type="application/json" id="{chart}-data">(.*?)</script>', html)
    assert found, chart
    data: dict[str, object] = json.loads(found.group(1))
    return data


def draft_text(client: TestClient, draft_id: int) -> str:
    html = client.get(f"/plans/drafts/{draft_id}").text
    found = re.search(r'<textarea id="document"[^>]*>(.*?)</textarea>', html, re.S)
    assert found
    return (
        found.group(1).replace("&#39;", "'").replace("&gt;", ">").replace("&lt;", "<")
        .replace("&#34;", '"').replace("&amp;", "&")
    )  # fmt: skip


def test_every_page_fragment_and_form_by_role(settings: Settings) -> None:
    writer, csrf = admin(settings)
    draft_id = new_draft(writer, csrf)
    text = draft_text(writer, draft_id)
    pages = [
        "/plans",
        "/plans/example/versions/1",
        "/plans/example/diff",
        f"/plans/drafts/{draft_id}",
    ]
    write_pages = ["/plans/drafts/new", f"/plans/drafts/{draft_id}/publish"]
    posts = {
        "/plans/drafts": {"source": "example@1"},
        f"/plans/drafts/{draft_id}": {"document": text},
        f"/plans/drafts/{draft_id}/publish": {"reason": "r", "confirm": "yes"},
    }
    check = ("/plans/drafts/check", {"document": text})
    for path in pages + write_pages:
        assert writer.get(path).status_code == 200, path
    finance, fcsrf = signed_in(settings, Role.FINANCE, "fin")
    for path in pages:
        assert finance.get(path).status_code == 200, path
    for path in write_pages:
        assert finance.get(path).status_code == 403, path
    for path, fields in posts.items():
        assert finance.post(path, data={**fields, "csrf": fcsrf}).status_code == 403, path
    assert finance.post(check[0], data={**check[1], "csrf": fcsrf}).status_code == 200
    html = finance.get(f"/plans/drafts/{draft_id}").text
    assert " readonly" in html and "save-draft" not in html
    for role, subject in ((Role.REP, "an"), (Role.MANAGER, "mgr")):
        other, ocsrf = signed_in(settings, role, subject)
        # the version covers them: they read what they are asked to accept, nothing else
        assert other.get("/plans/example/versions/1").status_code == 200
        for path in [p for p in pages if p != "/plans/example/versions/1"] + write_pages:
            answer = other.get(path)
            assert answer.status_code == 403 and "Chỉ quản trị kế hoạch" in answer.text, path
            assert other.get(path, headers={"HX-Request": "true"}).status_code == 403, path
        for path, fields in [*posts.items(), check]:
            answer = other.post(path, data={**fields, "csrf": ocsrf})
            assert answer.status_code == 403, (role, path)
    stranger, _ = signed_in(settings, Role.REP, "ghost")  # a rep the version does not cover
    answer = stranger.get("/plans/example/versions/1")
    assert answer.status_code == 403 and "Chỉ quản trị kế hoạch" in answer.text
    # an integration key has no session: the sign-in page; signed out, the same
    anonymous = TestClient(create_app(settings), raise_server_exceptions=False)
    for path in pages + write_pages:
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"], path
        htmx = anonymous.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert htmx.status_code == 401 and "HX-Redirect" in htmx.headers
    # a form without its CSRF token is refused for everyone
    assert writer.post("/plans/drafts", data={"source": "example@1"}).status_code == 403
    assert writer.post("/plans/drafts/check", data={"document": text}).status_code == 403
    assert events(settings) == 10  # none of it reached the log


def test_plans_appear_in_the_navigation_of_plan_admins_and_finance(settings: Settings) -> None:
    for role, subject, shown in (
        (Role.PLAN_ADMIN, "pat", True),
        (Role.FINANCE, "fin", True),
        (Role.REP, "an", False),
        (Role.MANAGER, "mgr", False),
    ):
        client, _ = signed_in(settings, role, subject)
        assert ('href="/plans"' in client.get("/").text) is shown, role


def test_the_rules_read_as_a_tier_table_and_the_curve_is_the_engines(settings: Settings) -> None:
    client, _ = admin(settings)
    client.cookies.set("ie_lang", "en")
    html = client.get("/plans/example/versions/1?quota=300000000").text
    tiers = re.search(r'<table class="data compact" data-test="tiers">(.*?)</table>', html, re.S)
    assert tiers
    cells = [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<td.*?</td>", tiers.group(1), re.S)]  # fmt: skip
    assert cells == [
        "0% of quota", "50% of quota", "2%",
        "50% of quota", "100% of quota", "5%",
        "100% of quota", "∞", "8%",
    ]  # fmt: skip
    assert "graduated" in html and "each slice of revenue is paid at its own tier" in html
    data = chart_data(html, "payout")
    labels = data["labels"]
    assert isinstance(labels, list) and len(labels) == 21 and labels[13] == "130.0%"
    values = data["datasets"][0]["data"]  # type: ignore[index]
    assert values[13] == 17_700_000 and values[10] == 10_500_000 and values[5] == 3_000_000
    assert values[20] == 3_000_000 + 7_500_000 + 24_000_000  # 200 %: 300,000,000 above at 8 %
    assert re.search(r'data-test="hash">[^<]{16,}<', html)
    assert "plan_id: example" in html
    client.cookies.set("ie_lang", "vi")
    vi = client.get("/plans/example/versions/1")
    assert "lũy tiến từng phần" in vi.text and "Đường cong chi trả" in vi.text
    bad = client.get("/plans/example/versions/1?quota=-3")
    assert bad.status_code == 422 and "quota" in bad.text
    assert client.get("/plans/example/versions/9").status_code == 422


def test_a_retroactive_version_its_curve_and_the_diff(settings: Settings) -> None:
    client, csrf = admin(settings)
    client.cookies.set("ie_lang", "en")
    draft_id = new_draft(client, csrf)
    text = draft_text(client, draft_id).replace("mode: graduated", "mode: retroactive")
    assert client.post(f"/plans/drafts/{draft_id}", data={"csrf": csrf, "document": text},
                       follow_redirects=False).status_code == 303  # fmt: skip
    answer = client.post(
        f"/plans/drafts/{draft_id}/publish",
        data={"csrf": csrf, "reason": "Retroactive tiers", "confirm": "yes"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    html = client.get("/plans/example/versions/2?quota=300000000").text
    values = chart_data(html, "payout")["datasets"][0]["data"]  # type: ignore[index]
    assert values[13] == 31_200_000 and values[5] == 7_500_000
    assert "all revenue is paid at the rate of the tier reached" in html
    diff = client.get("/plans/example/diff?from=1&to=2")
    assert diff.status_code == 200
    row = re.search(r'<tr class="change-changed" data-where="components.commission.mode">(.*?)</tr>', diff.text, re.S)  # fmt: skip
    assert row and "graduated" in row.group(1) and "retroactive" in row.group(1)
    assert "version" in diff.text
    assert client.get("/plans/example/diff?from=1&to=7").status_code == 422
    same = client.get("/plans/example/diff?from=2&to=2").text
    assert 'data-test="no-changes"' in same


def test_validation_errors_show_at_the_path_and_line(settings: Settings) -> None:
    client, csrf = admin(settings)
    client.cookies.set("ie_lang", "en")
    draft_id = new_draft(client, csrf)
    text = draft_text(client, draft_id)
    broken = text.replace("    rate: 5\n", "    rate: -5\n")
    assert broken != text
    line = broken.splitlines().index("    rate: -5") + 1
    answer = client.post("/plans/drafts/check", data={"csrf": csrf, "document": broken})
    assert answer.status_code == 200
    item = re.search(r'<li data-path="components.0.tiers.1.rate" data-line="(\d+)">(.*?)</li>', answer.text, re.S)  # fmt: skip
    assert item and int(item.group(1)) == line
    assert "greater than or equal to 0" in item.group(2)
    ok = client.post("/plans/drafts/check", data={"csrf": csrf, "document": text})
    assert 'data-test="draft-valid"' in ok.text and "example" in ok.text
    syntax = client.post("/plans/drafts/check", data={"csrf": csrf, "document": "a: [\n"})
    assert 'data-path="line 2, column 1"' in syntax.text


def test_drafts_never_reach_the_event_store(settings: Settings) -> None:
    client, csrf = admin(settings)
    before = events(settings)
    first = new_draft(client, csrf)
    second = new_draft(client, csrf, "template:field-sales-vn")
    text = draft_text(client, first)
    for body in (text, text.replace("rate: 8", "rate: 9"), "not: [valid"):
        saved = client.post(f"/plans/drafts/{first}", data={"csrf": csrf, "document": body},
                            follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303
    assert "not: [valid" in draft_text(client, first)  # a half-written draft is kept
    listed = client.get("/plans").text
    assert f'data-draft="{first}"' in listed and f'data-draft="{second}"' in listed
    assert "template:field-sales-vn" in listed
    assert events(settings) == before
    assert client.post("/plans/drafts", data={"csrf": csrf, "source": "template:nope"}).status_code == 422  # fmt: skip


def test_publishing_shows_the_impact_and_records_who_and_why(settings: Settings) -> None:
    client, csrf = admin(settings)
    client.cookies.set("ie_lang", "en")
    draft_id = new_draft(client, csrf)
    text = draft_text(client, draft_id).replace("rate: 8", "rate: 10")
    client.post(f"/plans/drafts/{draft_id}", data={"csrf": csrf, "document": text})
    impact = client.get(f"/plans/drafts/{draft_id}/publish")
    assert impact.status_code == 200
    # an (130 %): 90,000,000 above quota at 10 % instead of 8 %: +1,800,000; binh (33 %) same
    assert re.search(r'data-test="cost-change">[^<]*1,800,000', impact.text)
    assert re.search(r'data-test="baseline-total">[^<]*19,700,000', impact.text)
    assert 'value="2026-Q1"' in impact.text
    before = events(settings)
    for fields, field in (({"reason": "Why not"}, "confirm"), ({"confirm": "yes"}, "reason")):
        refused = client.post(f"/plans/drafts/{draft_id}/publish", data={"csrf": csrf, **fields})
        assert refused.status_code == 422 and f"<strong>{field}</strong>" in refused.text
    assert events(settings) == before
    done = client.post(
        f"/plans/drafts/{draft_id}/publish",
        data={"csrf": csrf, "reason": "Reward over-achievement", "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and events(settings) == before + 1
    with EventStore(settings) as store:
        last = list(store.read(types=["PlanVersionPublished"]))[-1].event
    assert (last.version, last.published_by, last.reason) == (2, "pat", "Reward over-achievement")  # type: ignore[attr-defined]  # fmt: skip
    page = client.get(f"/plans/drafts/{draft_id}").text
    assert 'data-test="draft-published"' in page and "Reward over-achievement" in page
    assert "save-draft" not in page
    listed = client.get("/plans").text
    assert "Reward over-achievement" in listed and ">pat<" in listed
    again = client.post(f"/plans/drafts/{draft_id}/publish",
                        data={"csrf": csrf, "reason": "twice", "confirm": "yes"})  # fmt: skip
    assert again.status_code == 422 and events(settings) == before + 1  # already published
    resave = client.post(f"/plans/drafts/{draft_id}", data={"csrf": csrf, "document": text})
    assert resave.status_code == 422


def test_a_version_that_may_not_be_published_is_refused_with_the_reason(
    settings: Settings,
) -> None:
    client, csrf = admin(settings)
    draft_id = new_draft(client, csrf)
    text = draft_text(client, draft_id).replace("version: 2", "version: 1").replace("rate: 8", "rate: 9")  # fmt: skip
    client.post(f"/plans/drafts/{draft_id}", data={"csrf": csrf, "document": text})
    before = events(settings)
    answer = client.post(f"/plans/drafts/{draft_id}/publish",
                         data={"csrf": csrf, "reason": "r", "confirm": "yes"})  # fmt: skip
    assert answer.status_code == 409 and "immutable" in answer.text
    assert events(settings) == before


def test_the_simulate_button_posts_the_document_and_the_window(settings: Settings) -> None:
    client, csrf = admin(settings)
    draft_id = new_draft(client, csrf)
    html = client.get(f"/plans/drafts/{draft_id}").text
    form = re.search(r'<form method="post" action="/plans/drafts/\d+" class="plan-editor".*?</form>', html, re.S)  # fmt: skip
    assert form
    body = form.group(0)
    assert re.search(r'<button type="submit" formaction="/plans/simulate"', body)
    names = set(re.findall(r'name="([a-z_]+)"', body))
    assert {"csrf", "document", "start", "end"} <= names
    assert 'id="start" name="start" value="2026-Q1"' in body
