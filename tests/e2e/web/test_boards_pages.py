"""Leaderboards, badges and the TV board without a browser: what each role sees on each board
(the same values the API shows, never another rep's pay), bad input as a clear page, and the
display key: boards on the TV and refused everywhere else."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import api.web
from api.app import create_app
from api.auth import Role, issue_display_key, issue_token
from incentive_engine.cli.main import app as main_app
from incentive_engine.settings import Settings
from projections.runner import make_engine
from projections.tokens import revoke_subject
from tests.conftest import sqlite_settings
from tests.e2e.web.boards_seed import seed_boards

METRICS = ("points", "revenue", "attainment", "deals_won", "new_customers")
PEOPLE = (
    (Role.REP, "an"),
    (Role.REP, "chau"),
    (Role.MANAGER, "mgr"),
    (Role.FINANCE, "fin"),
    (Role.PLAN_ADMIN, "admin"),
)
ROW = re.compile(r'<tr data-rep="([^"]+)"[^>]*>.*?data-test="value">(.*?)</td>', re.S)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return seed_boards(sqlite_settings(tmp_path_factory.mktemp("boards-pages")))


@pytest.fixture(scope="module")
def app_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), raise_server_exceptions=False)


def as_user(settings: Settings, role: Role, subject: str) -> TestClient:
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.cookies.set("ie_session", issue_token(settings, role, subject))
    return client


def shown_values(html: str) -> dict[str, str | None]:
    """Rep -> the value cell's text on the page (None where the board hides it)."""
    return {rep: None if "not shown" in cell or "không hiển thị" in cell else cell.strip()
            for rep, cell in ROW.findall(html)}  # fmt: skip


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("role", "subject"), PEOPLE)
def test_each_role_sees_on_each_board_what_the_api_shows(
    settings: Settings, role: Role, subject: str, metric: str
) -> None:
    client = as_user(settings, role, subject)
    page = client.get("/leaderboards", params={"metric": metric, "period": "2026-Q1"})
    assert page.status_code == 200, page.text
    api = client.get(
        f"/v1/leaderboards/{metric}",
        params={"period": "2026-Q1"},
        headers={"Authorization": f"Bearer {issue_token(settings, role, subject)}"},
    ).json()
    values = shown_values(page.text)
    assert list(values) == [r["rep_id"] for r in api["items"]]
    assert {k: v is None for k, v in values.items()} == {
        r["rep_id"]: r["value"] is None for r in api["items"]
    }
    hidden = {k for k, v in values.items() if v is None}
    if metric != "points":  # never another rep's revenue, attainment, deals or customers
        allowed = {Role.REP: {subject}, Role.MANAGER: {"mgr", "an", "binh"}}.get(role)
        if role is Role.FINANCE:
            assert hidden == set()
        elif role is Role.PLAN_ADMIN:
            assert hidden == set(values)
        else:
            assert allowed is not None and set(values) - hidden <= allowed
    else:
        assert hidden == set()


def test_the_own_row_is_highlighted_with_its_movement(settings: Settings) -> None:
    html = as_user(settings, Role.REP, "an").get("/leaderboards?period=2026-Q1").text
    own = re.search(r'<tr data-rep="an" class="you" aria-current="true".*?</tr>', html, re.S)
    assert own is not None and 'data-test="rank">1<' in own.group(0)
    assert 'data-move="up"' in own.group(0)  # 2nd in 2025-Q4, 1st in 2026-Q1
    assert ">57<" in own.group(0)  # DESIGN §5: 12 + 0 + 6 + 5 + (10 + 4) + 20
    binh = re.search(r'<tr data-rep="binh">.*?</tr>', html, re.S)
    assert binh is not None and 'data-move="down"' in binh.group(0)
    assert html.count('class="you"') == 1


def test_the_picker_answers_htmx_with_the_board_alone(settings: Settings) -> None:
    client = as_user(settings, Role.REP, "an")
    answer = client.get(
        "/leaderboards",
        params={"metric": "deals_won", "period": "quarter", "scope": "team:TP.HCM 1"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith("{#") is False and "<html" not in answer.text
    assert 'id="board"' in answer.text and "2026-Q1" in answer.text  # the latest quarter
    assert set(shown_values(answer.text)) == {"an", "binh", "mgr"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"metric": "pay"}, "metric"),
        ({"period": "2026-Q7"}, "period"),
        ({"scope": "team:Nowhere"}, "scope"),
        ({"scope": "galaxy"}, "scope"),
        ({"metric": "attainment", "period": "week"}, "period"),
    ],
)
def test_bad_board_requests_get_a_clear_page(settings: Settings, query: dict, field: str) -> None:
    client = as_user(settings, Role.REP, "an")
    for headers in ({}, {"HX-Request": "true"}):
        answer = client.get("/leaderboards", params=query, headers=headers)
        assert answer.status_code == 422, answer.text
        assert "text/html" in answer.headers["content-type"]
        assert f"<code>{field}</code>" in answer.text


def test_who_may_read_boards_and_badges(settings: Settings, app_client: TestClient) -> None:
    signed_out = app_client.get("/leaderboards", follow_redirects=False)
    assert signed_out.status_code == 303 and "/sign-in" in signed_out.headers["location"]
    fragment = app_client.get("/leaderboards", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and "HX-Redirect" in fragment.headers
    assert app_client.get("/badges/an", follow_redirects=False).status_code == 303
    integration = as_user(settings, Role.INTEGRATION, "crm")
    assert integration.get("/leaderboards").status_code == 403
    an = as_user(settings, Role.REP, "an")
    own = an.get("/badges/an")
    assert own.status_code == 200 and "won-D-AN" in own.text and "10/02/2026" in own.text
    assert an.get("/badges/binh").status_code == 403
    assert an.get("/badges/binh", headers={"HX-Request": "true"}).status_code == 403
    mgr = as_user(settings, Role.MANAGER, "mgr")
    assert mgr.get("/badges/an").status_code == 200
    assert mgr.get("/badges/chau").status_code == 403
    assert as_user(settings, Role.FINANCE, "fin").get("/badges/chau").status_code == 200


def test_badges_list_the_day_and_the_events_like_the_api(settings: Settings) -> None:
    client = as_user(settings, Role.REP, "an")
    api = client.get(
        "/v1/reps/an/badges",
        headers={"Authorization": f"Bearer {issue_token(settings, Role.REP, 'an')}"},
    ).json()
    html = client.get("/leaderboards").text
    assert len(api["items"]) == 3
    for badge in api["items"]:
        assert f'datetime="{badge["earned_on"]}"' in html
        for event in badge["event_ids"]:
            assert f'data-test="badge-event">{event}<' in html


# ------------------------------------------------------------------- the TV


def screen(settings: Settings, name: str = "lobby") -> tuple[TestClient, str]:
    key = issue_display_key(settings, name).token
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    answer = client.get("/tv", params={"key": key}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/tv/points/quarter"
    assert "key=" not in answer.headers["location"]
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("ie_display=") and "httponly" in cookie and "samesite=strict" in cookie
    return client, key


def test_the_tv_shows_the_points_board_and_answers_204_while_the_log_stands(
    settings: Settings,
) -> None:
    client, _ = screen(settings)
    full = client.get("/tv/points/2026-Q1")
    assert full.status_code == 200 and 'class="tv"' in full.text and "<nav" not in full.text
    assert shown_values(full.text) == {"an": "57", "binh": "23", "chau": "5", "mgr": "0"}
    since = re.search(r'data-since="([^"]+)"', full.text)
    assert since is not None
    fragment = client.get(
        "/tv/points/2026-Q1/board", params={"since": since.group(1)}, headers={"HX-Request": "1"}
    )
    assert fragment.status_code == 204 and fragment.content == b""
    fresh = client.get("/tv/points/2026-Q1/board", headers={"HX-Request": "1"})
    assert fresh.status_code == 200 and "<html" not in fresh.text


@pytest.mark.parametrize("metric", METRICS)
def test_the_tv_never_shows_pay(settings: Settings, metric: str) -> None:
    client, _ = screen(settings)
    answer = client.get(f"/tv/{metric}/2026-Q1")
    if metric in ("revenue", "attainment"):
        assert answer.status_code == 403 and "reveals pay" in answer.text
        assert "data-rep" not in answer.text
    else:
        assert answer.status_code == 200
        values = shown_values(answer.text)
        assert len(values) == 4
        assert all(v is None for v in values.values()) == (metric != "points")


def test_the_tv_refuses_bad_boards_clearly(settings: Settings) -> None:
    client, _ = screen(settings)
    for path, field in (("/tv/pay/quarter", "metric"), ("/tv/points/2026-Q9", "period"),
                        ("/tv/points/quarter?scope=team:Nowhere", "scope")):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 422 and f"<code>{field}</code>" in answer.text, path


def test_the_tv_needs_a_display_key(settings: Settings, app_client: TestClient) -> None:
    assert app_client.get("/tv/points/quarter").status_code == 401
    assert app_client.get("/tv", params={"key": "nonsense"}).status_code == 401
    human = issue_token(settings, Role.FINANCE, "fin")
    assert app_client.get("/tv", params={"key": human}).status_code == 401
    polled = app_client.get("/tv/points/quarter/board", headers={"HX-Request": "true"})
    assert polled.status_code == 401 and polled.headers["HX-Redirect"] == "/tv"


def test_revoking_the_screen_sends_it_back_to_the_key_page(tmp_path: Path) -> None:
    settings = seed_boards(sqlite_settings(tmp_path)).model_copy(
        update={"api_revocation_refresh_seconds": 0}
    )
    client, _ = screen(settings, "hall")
    assert client.get("/tv/points/2026-Q1").status_code == 200
    engine = make_engine(settings.resolved_views_url())
    revoke_subject(engine, "display:hall", before=time.time())
    engine.dispose()
    polled = client.get("/tv/points/2026-Q1/board", headers={"HX-Request": "true"})
    assert polled.status_code == 401 and polled.headers["HX-Redirect"] == "/tv"
    time.sleep(1.0 - time.time() % 1.0)
    again, _ = screen(settings, "hall")  # a key issued after the revocation works
    assert again.get("/tv/points/2026-Q1").status_code == 200


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every API route (the OpenAPI document) and of every web page (each
    module of ``api.web`` with a router), but the TV's."""
    found = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    for info in pkgutil.iter_modules(api.web.__path__):
        module = importlib.import_module(f"api.web.{info.name}")
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and not route.path.startswith("/tv"):
                found |= {(m, route.path) for m in route.methods - {"HEAD"}}
    return sorted(found)


def test_the_display_key_is_refused_on_every_api_route_and_every_other_page(
    settings: Settings,
) -> None:
    key = issue_display_key(settings, "lobby").token
    # no bad-credential limit here: each route must refuse the key itself, not with a 429
    app = create_app(settings.model_copy(update={"api_auth_failures": 100_000}))
    bearer = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    cookies = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    cookies.cookies.set("ie_session", key)
    cookies.cookies.set("ie_display", key)
    routes = every_route(app)
    assert len(routes) > 40 and ("GET", "/leaderboards") in routes
    for method, template in routes:
        path = _filled(template)
        for answer in (
            bearer.request(method, path, headers={"Authorization": f"Bearer {key}"}),
            cookies.request(method, path, headers={"HX-Request": "true"}),
            cookies.request(method, path),
        ):
            assert answer.status_code not in range(200, 300) or template in PUBLIC, (
                method,
                template,
                answer.status_code,
            )
            assert answer.status_code < 500, (method, template, answer.text[:200])
    assert bearer.get("/sign-in").status_code == 200
    csrf = bearer.cookies.get("ie_csrf")
    signed_in = bearer.post("/sign-in", data={"token": key, "csrf": csrf or ""})
    assert signed_in.status_code == 401 and "ie_session=" not in signed_in.headers.get(
        "set-cookie", ""
    )


PUBLIC = {"/healthz", "/readyz", "/docs", "/openapi.json", "/sign-in", "/docs/oauth2-redirect"}
"""Routes anyone may read without credentials (no figure of anyone)."""


def test_the_cli_issues_rotates_and_revokes_display_keys(tmp_path: Path) -> None:
    settings = seed_boards(sqlite_settings(tmp_path)).model_copy(
        update={"api_revocation_refresh_seconds": 0}
    )
    cli = CliRunner()
    env = {"INCENTIVE_STORE_URL": settings.store_url, "INCENTIVE_API_SECRET": settings.api_secret}
    issued = cli.invoke(main_app, ["tv-key", "lobby", "--days", "30"], env=env)
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.strip().splitlines()[0]
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    assert client.get("/tv", params={"key": key}, follow_redirects=False).status_code == 303
    assert cli.invoke(main_app, ["tv-key", "Bad Name"], env=env).exit_code != 0
    rotated = cli.invoke(main_app, ["tv-key", "lobby", "--rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert client.get("/tv/points/2026-Q1").status_code == 401  # the old key is revoked
    fresh = rotated.stdout.strip().splitlines()[0]
    assert client.get("/tv", params={"key": fresh}, follow_redirects=False).status_code == 303
    assert client.get("/tv/points/2026-Q1").status_code == 200
    assert cli.invoke(main_app, ["tv-key", "revoke", "lobby"], env=env).exit_code == 0
    assert client.get("/tv/points/2026-Q1").status_code == 401


def test_my_team_is_the_readers_team_on_the_boards_day(settings: Settings) -> None:
    # the team page links "Team leaderboards" to scope=team: the reader's own team
    an = as_user(settings, Role.REP, "an")
    mine = an.get("/leaderboards", params={"period": "2026-Q1", "scope": "team"})
    assert mine.status_code == 200, mine.text
    assert set(shown_values(mine.text)) == {"mgr", "an", "binh"}
    chau = as_user(settings, Role.REP, "chau")
    theirs = chau.get("/leaderboards", params={"period": "2026-Q1", "scope": "team"})
    assert set(shown_values(theirs.text)) == {"chau"}
    finance = as_user(settings, Role.FINANCE, "fin")
    nobody = finance.get("/leaderboards", params={"period": "2026-Q1", "scope": "team"})
    assert nobody.status_code == 422 and "scope" in nobody.text
