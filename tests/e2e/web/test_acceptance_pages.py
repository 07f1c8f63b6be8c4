"""The acceptance pages without a browser: the Accept form needs the CSRF token, only the rep
accepts for themself (never for another rep, whatever the form says), finance records paper
signatures, other roles are refused, and the pay run lists held pay when the hold is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth import Role
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, seed
from tests.e2e.web.test_plan_pages import signed_in

ACCEPT = "/plans/example/versions/1/accept"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    found = api_settings(sqlite_settings(tmp_path))
    seed(found)
    return found


def acceptances(settings: Settings) -> dict[str, tuple[str, str | None]]:
    with EventStore(settings) as store:
        return {
            r.event.rep_id: (r.event.how, r.event.recorded_by)  # type: ignore[attr-defined]
            for r in store.read(types=["PlanAccepted"])
        }


def test_the_accept_form_needs_csrf_and_accepts_only_for_the_signed_in_rep(
    settings: Settings,
) -> None:
    client, csrf = signed_in(settings, Role.REP, "an")
    client.cookies.set("ie_lang", "en")
    home = client.get("/")
    assert (
        "You have not accepted plan example v1" in home.text and 'data-test="accept"' in home.text
    )
    for sent in ({}, {"csrf": "forged"}):
        assert client.post(ACCEPT, data=sent, follow_redirects=False).status_code == 403
    forged = client.post(ACCEPT, data={"csrf": csrf, "rep_id": "binh"}, follow_redirects=False)
    assert forged.status_code == 403 and acceptances(settings) == {}
    done = client.post(ACCEPT, data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert acceptances(settings) == {"an": ("web", "an")}
    assert 'data-accepted="yes"' in client.get("/").text
    missing = client.post("/plans/example/versions/7/accept", data={"csrf": csrf})
    assert missing.status_code == 422


def test_a_manager_sees_a_reports_status_read_only_and_cannot_accept_for_them(
    settings: Settings,
) -> None:
    client, csrf = signed_in(settings, Role.MANAGER, "mgr")
    client.cookies.set("ie_lang", "en")
    page = client.get("/reps/an")
    assert "Has not accepted plan example v1" in page.text
    assert 'data-test="accept"' not in page.text
    answer = client.post(ACCEPT, data={"csrf": csrf, "rep_id": "an"}, follow_redirects=False)
    assert answer.status_code == 403 and acceptances(settings) == {}


def test_finance_records_paper_and_other_roles_are_refused(settings: Settings) -> None:
    for role in (Role.PLAN_ADMIN, Role.INTEGRATION):
        client, csrf = signed_in(settings, role, "x")
        answer = client.post(ACCEPT, data={"csrf": csrf, "rep_id": "an"}, follow_redirects=False)
        assert answer.status_code == 403, role
    client, csrf = signed_in(settings, Role.FINANCE, "fin")
    client.cookies.set("ie_lang", "en")
    page = client.get("/plans/example/versions/1")
    assert "0 of 4 covered reps accepted this version." in page.text
    fields = {"csrf": csrf, "rep_id": "binh", "signed_on": "2026-01-02", "reference": "HĐ-1"}
    answer = client.post(ACCEPT, data=fields, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert acceptances(settings) == {"binh": ("paper", "fin")}
    bad = client.post(ACCEPT, data={**fields, "rep_id": "chau", "signed_on": "2026-13-40"})
    assert bad.status_code == 422
    unknown = client.post(ACCEPT, data={**fields, "rep_id": "nobody"})
    assert unknown.status_code == 422 and "rep_id" in unknown.text
    assert (
        "1 of 4 covered reps accepted this version." in client.get("/plans/example/versions/1").text
    )


def test_the_pay_run_lists_held_pay_when_the_hold_is_on(settings: Settings) -> None:
    held = settings.model_copy(update={"hold_unaccepted": True})
    client, _ = signed_in(held, Role.FINANCE, "fin")
    client.cookies.set("ie_lang", "en")
    page = client.get("/pay-run/2026-Q1")
    assert page.status_code == 200
    assert "Held until the plan is accepted" in page.text
    assert 'data-test="held-row" data-rep="an"' in page.text
    plain, _ = signed_in(settings, Role.FINANCE, "fin")
    assert 'data-test="held"' not in plain.get("/pay-run/2026-Q1").text


def test_a_covered_rep_reads_the_version_they_are_asked_to_accept(settings: Settings) -> None:
    """ "Read the plan, then accept it": the rep opens the version from the home page, reads its
    rules and accepts there; they see their own acceptance only, no link to the plan admins'
    pages; a rep the version does not cover, and roles that read no plans, are refused."""
    client, csrf = signed_in(settings, Role.REP, "an")
    client.cookies.set("ie_lang", "en")
    assert 'href="/plans/example/versions/1" data-test="read-plan"' in client.get("/").text
    page = client.get("/plans/example/versions/1")
    assert page.status_code == 200
    assert 'data-test="rules"' in page.text and 'data-test="accept"' in page.text
    assert 'href="/plans"' not in page.text and 'data-rep="binh"' not in page.text
    assert 'data-rep="an"' in page.text
    assert client.post(ACCEPT, data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert 'data-test="accept"' not in client.get("/plans/example/versions/1").text
    for role, subject in ((Role.REP, "ghost"), (Role.INTEGRATION, "crm")):
        other, _ = signed_in(settings, role, subject)
        assert other.get("/plans/example/versions/1").status_code == 403, role
    finance, _ = signed_in(settings, Role.FINANCE, "fin")
    finance.cookies.set("ie_lang", "en")
    shown = finance.get("/plans/example/versions/1").text
    assert 'href="/plans"' in shown and 'data-rep="binh"' in shown
