"""Who sees whose pay over HTTP (issue 13, part 2): no rep derives another's pay from the
boards, plan admins get aggregated simulations, managers see their reports only through
KPIs, quotas and boards, the board policy set by the plan, and the access log of reads."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.demo.generator import generate
from incentive_engine.domain.events import RepTransferred
from incentive_engine.services.plan_publishing import publish
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import PlanError, load_plan, plan_from_data, publication
from projections.runner import make_engine
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.examples.plans import plan, tiered

CATALOG_PLAN = "plans/catalog"


def seeded(settings: Settings) -> Settings:
    """The shared seed (mgr > an, binh; chau alone), plus ``left``: mgr's report until
    2026-02-01, then ``other``'s."""
    s = api_settings(settings)
    seed(s)
    from tests.examples.plans import rep

    with EventStore(s) as store:
        store.append(
            [
                rep("other", role="manager"),
                rep("left", manager_id="mgr"),
                RepTransferred(
                    event_id="move-left",
                    rep_id="left",
                    effective_date="2026-02-01",
                    team="Hà Nội 1",
                    manager_id="other",
                ),
            ]
        )
    return s


def _derivable(c: TestClient, s: Settings, reader: str, period: str) -> dict[str, Decimal]:
    """The quotas a rep derives from the revenue and attainment boards: revenue / attainment."""
    h = auth(s, Role.REP, reader)
    boards = {}
    for metric in ("revenue", "attainment"):
        got = c.get(f"/v1/leaderboards/{metric}", params={"period": period}, headers=h)
        assert got.status_code == 200, got.text
        boards[metric] = {r["rep_id"]: r["value"] for r in got.json()["items"]}
    found = {}
    for rep_id, revenue in boards["revenue"].items():
        attained = boards["attainment"].get(rep_id)
        if rep_id != reader and revenue is not None and attained not in (None, "0"):
            found[rep_id] = Decimal(revenue) * 100 / Decimal(attained)
    return found


def test_no_rep_derives_another_reps_quota_from_the_boards_on_both_stores(
    settings: Settings,
) -> None:
    s = seeded(settings)
    c = client(s)
    for reader in ("an", "binh", "chau", "left"):
        assert _derivable(c, s, reader, "2026-Q1") == {}, reader


def test_no_rep_of_the_demo_derives_another_reps_pay(tmp_path) -> None:
    """On the demo organisation (every rep): the boards give no other rep's revenue next to
    attainment, so neither quota nor, with the tiers of one's own statement, pay."""
    s = api_settings(sqlite_settings(tmp_path))
    with EventStore(s) as store:
        store.append(generate(reps=12, events=1500, seed=7))
        from pathlib import Path

        for path in sorted(Path(CATALOG_PLAN).glob("*.yaml")):
            publish(store, load_plan(path.read_text(encoding="utf-8"), str(path)))
    c = client(s)
    fin = auth(s, Role.FINANCE, "fin")
    reps = [
        r["subject_id"]
        for r in c.get("/v1/attainment/2026-Q1", params={"limit": 1000}, headers=fin).json()[
            "items"
        ]
    ]
    assert len(reps) >= 12
    for reader in reps:
        assert _derivable(c, s, reader, "2026-Q1") == {}, reader


def test_plan_admin_simulations_are_aggregated_finance_gets_reps_on_both_stores(
    settings: Settings,
) -> None:
    s = seeded(settings)
    with EventStore(s) as store:
        store.append([publication(plan(tiered(), version=2).plan)])
    c = client(s)
    body = {
        "plan_version": "example@2",
        "baseline": "example@1",
        "from": "2026-Q1",
        "to": "2026-Q1",
    }
    admin = c.post("/v1/simulations", json=body, headers=auth(s, Role.PLAN_ADMIN, "pa"))
    assert admin.status_code == 200, admin.text
    found = admin.json()
    assert found["reps"] == [] and found["aggregated"] is True
    assert '"an"' not in admin.text and '"binh"' not in admin.text
    assert len(found["changes_percent"]) <= found["distribution"]["unchanged"] + 99
    finance = c.post("/v1/simulations", json=body, headers=auth(s, Role.FINANCE, "fin")).json()
    assert {r["rep_id"] for r in finance["reps"]} >= {"an", "binh"}
    assert finance["simulated_total"] == found["simulated_total"]


def test_a_one_rep_simulation_is_refused_to_plan_admins(settings: Settings) -> None:
    s = seeded(settings)
    only_an = plan(tiered(), version=2, covers={"reps": ["an"]}).plan.document()
    body = {"plan": only_an, "baseline": "example@1", "from": "2026-Q1", "to": "2026-Q1"}
    c = client(s)
    admin = c.post("/v1/simulations", json=body, headers=auth(s, Role.PLAN_ADMIN, "pa"))
    # the baseline covers everyone: two or more reps are involved, so the answer is aggregated
    assert admin.status_code in (200, 403), admin.text
    assert '"binh"' not in admin.text


MANAGER_SEES = {"mgr", "an", "binh"}


@pytest.mark.parametrize(
    "name", ["pace", "behind_pace", "deal_size", "win_rate", "forecast", "outcomes"]
)
def test_managers_see_kpis_by_rep_of_their_reports_only(name: str, tmp_path) -> None:
    s = seeded(sqlite_settings(tmp_path))
    got = client(s).get(
        f"/v1/kpis/{name}",
        params={"period": "2026-Q1", "by": "rep", "on": "2026-03-31"},
        headers=auth(s, Role.MANAGER, "mgr"),
    )
    if got.status_code == 404:
        pytest.skip(f"no KPI {name}")
    assert got.status_code == 200, got.text
    groups = {r["group"] for r in got.json()["items"]} - {"(none)"}
    assert groups <= MANAGER_SEES, groups


def test_managers_see_quotas_and_board_values_of_their_reports_only_on_both_stores(
    settings: Settings,
) -> None:
    s = seeded(settings)
    c = client(s)
    h = auth(s, Role.MANAGER, "mgr")
    quotas = c.get("/v1/quotas", headers=h).json()["items"]
    assert {q["subject_id"] for q in quotas if q["subject"] == "rep"} <= MANAGER_SEES
    for metric in ("revenue", "attainment"):
        board = c.get(f"/v1/leaderboards/{metric}", params={"period": "2026-Q1"}, headers=h)
        shown = {r["rep_id"] for r in board.json()["items"] if r["value"] is not None}
        assert shown <= MANAGER_SEES and "an" in shown, (metric, shown)
    fin = c.get(
        "/v1/leaderboards/revenue", params={"period": "2026-Q1"}, headers=auth(s, Role.FINANCE, "f")
    )
    assert all(r["value"] is not None for r in fin.json()["items"])
    pa = c.get(
        "/v1/kpis/pace",
        params={"period": "2026-Q1", "by": "rep"},
        headers=auth(s, Role.PLAN_ADMIN, "pa"),
    )
    assert pa.status_code == 403


# ------------------------------------------------------------- board policy


def test_a_plan_opens_a_board_with_its_policy(tmp_path) -> None:
    s = seeded(sqlite_settings(tmp_path))
    open_board = plan(tiered(), version=2, leaderboards={"revenue": "ranks_and_values"})
    with EventStore(s) as store:
        store.append([publication(open_board.plan)])
    c = client(s)
    board = c.get(
        "/v1/leaderboards/revenue", params={"period": "2026-Q1"}, headers=auth(s, Role.REP, "chau")
    ).json()
    # the plan that sets the policy opens the board (one that sets none keeps no say)
    assert board["visibility"] == "ranks_and_values"
    assert all(r["value"] is not None for r in board["items"])
    closed = plan(tiered(), plan_id="other-plan", leaderboards={"revenue": "ranks"})
    with EventStore(s) as store:
        store.append([publication(closed.plan)])
    board = c.get(
        "/v1/leaderboards/revenue", params={"period": "2026-Q1"}, headers=auth(s, Role.REP, "chau")
    ).json()
    assert board["visibility"] == "ranks"  # two plans set it: the strictest wins
    assert all(r["value"] is None for r in board["items"] if r["rep_id"] != "chau")


def test_the_board_policy_is_validated_and_leaves_existing_hashes_alone() -> None:
    base = plan(tiered())
    assert "leaderboards" not in base.plan.document()  # unset: the document (and hash) as before
    with pytest.raises(PlanError, match="ranks_and_points applies to the points board only"):
        plan_from_data({**base.plan.document(), "leaderboards": {"revenue": "ranks_and_points"}})
    with pytest.raises(PlanError, match="leaderboards"):
        plan_from_data({**base.plan.document(), "leaderboards": {"revenue": "everything"}})
    opened = plan_from_data({**base.plan.document(), "leaderboards": {"points": "ranks"}})
    assert opened.document()["leaderboards"] == {"points": "ranks"}


# --------------------------------------------------------------- access log


def test_reads_of_pay_are_in_the_access_log_on_both_stores(settings: Settings) -> None:
    s = seeded(settings)
    c = client(s)
    fin = auth(s, Role.FINANCE, "fin")
    assert c.get("/v1/reps/an/statements/2026-Q1", headers=fin).status_code == 200
    assert c.get("/v1/reps/an/earnings", headers=auth(s, Role.MANAGER, "mgr")).status_code == 200
    for _ in range(3):  # a rep's own reads are summarised: one row a day per resource
        c.get("/v1/reps/an/statements/2026-Q1", headers=auth(s, Role.REP, "an"))
    assert c.get("/v1/payouts/2026-Q1", headers=fin).status_code == 200
    log = c.get("/v1/access-log", params={"rep": "an", "limit": 1000}, headers=fin)
    assert log.status_code == 200, log.text
    rows = [(r["actor_role"], r["actor"], r["resource"], r["rep_id"]) for r in log.json()["items"]]
    assert rows == [
        ("finance", "fin", "statement", "an"),
        ("manager", "mgr", "earnings", "an"),
        ("rep", "an", "statement", "an"),
        ("finance", "fin", "payouts", "an"),
    ]
    assert {r["origin"] for r in log.json()["items"]} == {"testclient"}
    csv = c.get("/v1/access-log", params={"format": "csv", "actor": "mgr"}, headers=fin)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("id,at,actor_role,actor,origin,resource,rep_id")
    assert len(csv.text.splitlines()) == 2
    for role in (Role.REP, Role.MANAGER, Role.PLAN_ADMIN, Role.INTEGRATION):
        assert c.get("/v1/access-log", headers=auth(s, role, "an")).status_code == 403
    views = make_engine(s.resolved_views_url())
    for statement in ("UPDATE access_log SET actor = 'nobody'", "DELETE FROM access_log"):
        with pytest.raises(sa.exc.DatabaseError), views.begin() as conn:
            conn.execute(sa.text(statement))
    views.dispose()


def test_cli_reads_of_pay_are_in_the_access_log_on_both_stores(settings: Settings) -> None:
    import json

    from typer.testing import CliRunner

    from incentive_engine.cli.main import app

    s = seeded(settings)
    run = CliRunner()
    store = ["--store", s.store_url]
    assert run.invoke(app, [*store, "statement", "an", "2026-Q1"]).exit_code == 0
    assert run.invoke(app, [*store, "payouts", "2026-Q1"]).exit_code == 0
    shown = run.invoke(app, [*store, "access-log", "--rep", "an", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert [(r["resource"], r["rep_id"], r["actor_role"]) for r in rows] == [
        ("statement", "an", "cli"),
        ("payouts", "an", "cli"),
    ]
    assert all(r["origin"].startswith("cli:") for r in rows)
