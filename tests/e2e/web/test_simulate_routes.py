"""The plan simulation page, its fragment and its form post (TestClient): who may use them,
figures equal to ``POST /v1/simulations`` and to the CLI ``simulate`` for the same draft and
window, bad documents named at their path, bad windows, an oversize document, CSRF, and a
log left untouched."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.cli.main import app as cli
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed

WINDOW = {"start": "2026-Q1", "end": "2026-Q4"}
SUBJECTS = {Role.REP: "an", Role.MANAGER: "mgr", Role.FINANCE: "fin", Role.PLAN_ADMIN: "pa"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("simulate")))
    seed(found)
    return found


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Any]:
    yield create_app(settings)


def as_(app: Any, settings: Settings, role: Role | None) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    if role is not None:
        subject = SUBJECTS.get(role, "crm")
        client.cookies.set("ie_session", issue_token(settings, role, subject))
    return client


def csrf(client: TestClient) -> str:
    client.get("/sign-in")
    token = client.cookies.get("ie_csrf")
    assert token
    return token


def published_document(client: TestClient) -> str:
    """The textarea's text on the page of the published version example v1."""
    answer = client.get("/plans/simulate?plan=example&version=1")
    assert answer.status_code == 200, answer.text
    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", answer.text, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def richer(text: str) -> str:
    """The draft: the top tier pays 10 % instead of 8 %, as version 2."""
    assert "rate: 8" in text and "version: 1" in text
    return text.replace("rate: 8", "rate: 10").replace("version: 1", "version: 2")


def post(
    client: TestClient, document: str, htmx: bool = True, **fields: str
) -> Any:  # the response
    data = {"csrf": csrf(client), "document": document, **WINDOW, **fields}
    headers = {"hx-request": "true"} if htmx else {}
    return client.post("/plans/simulate", data=data, headers=headers)


def value(page: str, test: str) -> str:
    found = re.search(rf'data-test="{test}" data-value="([^"]*)"', page)
    assert found is not None, test
    return found.group(1)


def rows(page: str) -> dict[str, str]:
    """Rep id -> change (data-value) of the per-rep table."""
    table = page.split('data-test="sim-reps"', 1)[1].split("</table>", 1)[0]
    found = re.findall(r'<tr data-rep="([^"]+)">.*?data-test="rep-change"', table, re.S)
    changes = re.findall(r'data-value="([^"]*)" data-test="rep-change"', table)
    return dict(zip(found, changes, strict=True))


# --------------------------------------------------------------------------- who


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.INTEGRATION])
def test_reps_managers_and_integrations_are_refused_page_fragment_and_post(
    app: Any, settings: Settings, role: Role
) -> None:
    client = as_(app, settings, role)
    assert client.get("/plans/simulate").status_code == 403
    assert client.get("/plans/simulate?plan=example&version=1").status_code == 403
    token = csrf(client)
    body = {"csrf": token, "document": "plan_id: example", **WINDOW}
    full = client.post("/plans/simulate", data=body)
    fragment = client.post("/plans/simulate", data=body, headers={"hx-request": "true"})
    assert (full.status_code, fragment.status_code) == (403, 403)
    assert "Only plan admins and finance" in fragment.text
    assert 'data-test="refused"' in fragment.text and "<html" not in fragment.text
    assert "/plans/simulate" not in client.get("/").text  # not in their navigation


def test_signed_out_goes_to_sign_in(app: Any, settings: Settings) -> None:
    client = as_(app, settings, None)
    page = client.get("/plans/simulate")
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
    htmx = client.post("/plans/simulate", data={}, headers={"hx-request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")


@pytest.mark.parametrize("role", [Role.PLAN_ADMIN, Role.FINANCE])
def test_plan_admins_and_finance_open_the_page_prefilled_from_a_published_version(
    app: Any, settings: Settings, role: Role
) -> None:
    client = as_(app, settings, role)
    page = client.get("/plans/simulate?plan=example&version=1")
    assert page.status_code == 200
    assert 'href="/plans/simulate"' in page.text  # in the navigation
    text = published_document(client)
    assert "plan_id: example" in text and "rate: 8" in text
    assert 'value="2026-Q1"' in page.text  # the window starts at the plan's first period
    assert client.get("/plans/simulate?plan=nope&version=3").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.FINANCE)
    answer = client.post("/plans/simulate", data={"document": "x", **WINDOW})
    assert answer.status_code == 403


# ----------------------------------------------------------------------- figures


def test_finance_sees_every_rep_the_same_figures_as_the_api_and_the_cli(
    app: Any, settings: Settings, tmp_path: Path
) -> None:
    client = as_(app, settings, Role.FINANCE)
    with EventStore(settings) as store:
        before = store.max_position()
    draft = richer(published_document(client))
    answer = post(client, draft)
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert "<html" not in page  # an htmx fragment
    api = client.post(
        "/v1/simulations",
        headers={"Authorization": f"Bearer {issue_token(settings, Role.FINANCE, 'fin')}"},
        json={
            "plan": json.loads(json.dumps(_yaml(draft), default=str)),
            "baseline": "example@1",
            "from": "2026-Q1",
            "to": "2026-Q4",
        },
    ).json()
    assert value(page, "baseline-total") == api["baseline_total"]
    assert value(page, "draft-total") == api["simulated_total"]
    assert value(page, "cost-change") == api["cost_change"]
    assert rows(page) == {r["rep_id"]: r["difference"] for r in api["reps"]}
    # an: 390,000,000 on 300,000,000 -> the top slice of 90,000,000 at 10 % instead of 8 %
    assert Decimal(api["cost_change"]) == Decimal(1_800_000)
    assert "+1.800.000" in page and "+9,1" in page  # 1,800,000 / 19,700,000 (vi by default)
    gainers = page.split('data-test="gainers"', 1)[1].split("</table>", 1)[0]
    assert 'data-rep="an"' in gainers
    # the CLI on the same draft document and window
    path = tmp_path / "draft.yaml"
    path.write_text(draft, encoding="utf-8")
    args = ["--store", settings.store_url, "simulate", "--plan", str(path)]
    args += ["--baseline", "example@1", "--from", "2026-Q1", "--to", "2026-Q4"]
    ran = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert ran.exit_code == 0, ran.output
    [report] = json.loads(ran.stdout)
    assert report["cost_change"] == value(page, "cost-change")
    assert report["simulated_total"] == value(page, "draft-total")
    with EventStore(settings) as store:
        assert store.max_position() == before  # nothing written


def _yaml(text: str) -> Any:
    from plans.documents import parse_yaml

    return parse_yaml(text)


def test_a_plan_admin_sees_totals_and_the_spread_never_a_rep(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.PLAN_ADMIN)
    page = post(client, richer(published_document(client)), htmx=False)
    assert page.status_code == 200, page.text
    assert "<html" in page.text  # the whole page without JavaScript
    assert value(page.text, "cost-change") == "1800000"
    assert 'data-test="aggregated-note"' in page.text
    for rep_id in ("an", "binh", "chau", "Nguyễn Văn An"):
        assert f'data-rep="{rep_id}"' not in page.text and "Nguyễn Văn An" not in page.text
    assert 'data-test="sim-reps"' not in page.text and 'data-test="gainers"' not in page.text
    chart = re.search(r'id="change-histogram-data">(.*?)</script>', page.text, re.S)
    assert chart is not None
    bars = json.loads(html.unescape(chart.group(1)))["datasets"][0]["data"]
    # an gains 9.1 % (5-20 % band); binh's pay is unchanged; chau and mgr are paid nothing
    assert bars == [0, 0, 1, 1, 0, 0]


def test_points_ranks_are_shown_where_the_draft_changes_the_points_rules(
    app: Any, settings: Settings
) -> None:
    client = as_(app, settings, Role.FINANCE)
    draft = richer(published_document(client))
    draft += "points:\n  won_deal: 10\n  per_amount: {step: 10_000_000, points: 1}\n"
    page = post(client, draft).text
    ranks = page.split('data-test="ranks"', 1)[1].split("</table>", 1)[0]
    order = re.findall(r'data-rep="([^"]+)"', ranks)
    # an 10 + 39 = 49 points, binh 10 + 10 = 20; before, no one had points (ranks by id)
    assert order[:2] == ["an", "binh"]
    assert ">49<" in ranks and ">20<" in ranks
    plain = post(client, richer(published_document(client))).text
    assert 'data-test="ranks"' not in plain


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("plan_id: example\nversion: [", "line "),  # where libyaml (or PyYAML) stops
        ("- just\n- a list\n", "(document)"),
        ("", "(document)"),
    ],
)
def test_documents_that_do_not_parse_are_named(
    app: Any, settings: Settings, document: str, path: str
) -> None:
    answer = post(as_(app, settings, Role.PLAN_ADMIN), document)
    assert answer.status_code == 422
    assert 'data-field="document"' in answer.text and f'data-path="{path}' in answer.text


def test_each_problem_of_the_document_is_shown_at_its_path(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.PLAN_ADMIN)
    broken = richer(published_document(client)).replace("rate: 10", "rate: -3")
    broken = broken.replace("currency: VND", "currency: dong")
    answer = post(client, broken, htmx=False)
    assert answer.status_code == 422 and "<html" in answer.text
    paths = re.findall(r'<li data-path="([^"]+)">', answer.text)
    assert "currency" in paths and any(p.startswith("components.0.tiers.2") for p in paths)
    assert 'aria-invalid="true"' in answer.text and "rate: -3" in answer.text  # text kept


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-Q5", "2026-Q4", "start"),
        ("2026-Q1", "someday", "end"),
        ("2026-Q3", "2026-Q1", "start"),
        ("2026-01", "2026-03", "start"),  # months against a quarterly plan
        ("2026-Q1", "2200-Q1", "end"),
        ("", "2026-Q1", "start"),
    ],
)
def test_bad_windows_are_named(
    app: Any, settings: Settings, start: str, end: str, field: str
) -> None:
    client = as_(app, settings, Role.FINANCE)
    answer = post(client, richer(published_document(client)), start=start, end=end)
    assert answer.status_code == 422, answer.text
    assert f'data-field="{field}"' in answer.text


def test_a_window_of_days_reads_as_the_plans_periods(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.FINANCE)
    answer = post(client, richer(published_document(client)), start="2026-02-15", end="2026-03-31")
    assert answer.status_code == 200 and "2026-Q1 (1" in answer.text


def test_a_baseline_that_is_not_published_is_named(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.FINANCE)
    draft = richer(published_document(client))
    other = post(client, draft.replace("plan_id: example", "plan_id: other"))
    assert other.status_code == 422 and 'data-field="baseline"' in other.text
    assert post(client, draft, baseline="7").status_code == 422
    assert post(client, draft, baseline="x").status_code == 422
    assert post(client, draft, baseline="1").status_code == 200


def test_an_oversize_document_is_refused_with_a_page(app: Any, settings: Settings) -> None:
    client = as_(app, settings, Role.PLAN_ADMIN)
    huge = "# " + "x" * settings.max_record_bytes + "\n"
    answer = post(client, huge, htmx=False)
    assert answer.status_code == 413 and "<html" in answer.text
    assert 'data-field="document"' in answer.text and "larger than" in answer.text


def test_a_yaml_alias_bomb_is_refused_at_once(app: Any, settings: Settings) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    answer = post(as_(app, settings, Role.PLAN_ADMIN), "\n".join(lines))
    assert answer.status_code == 422 and "aliases" in answer.text
