"""A store of its own for the quota and territory pages.

Teams: HCM 1 (manager ``mgr`` with reports ``an`` and ``binh``) and HN 1 (``chau`` and
``dung``, no manager in the store). 2026-Q1 quotas: an, binh, chau 300,000,000, dung
200,000,000; team quotas HCM 1 500,000,000 (the reps' 600,000,000 are **over** it) and HN 1
600,000,000 (the reps' 500,000,000 are **under** it).

Territories: T-HCM (region TP.HCM) owned by an from 2025-01-01; T-HN (region Hà Nội) defined
2025-01-01 but owned by chau only from 2026-02-01: a **gap** 2025-01-01 – 2026-01-31, and the
Hà Nội deal D-HN won on 2026-01-15 with no rep named has **no owner** on its close date.

2025-Q1 sales (the base of an uplift allocation for 2026-Q1... and 2027-Q1 from 2026-Q1):
an 250,000,000, binh 200,000,000, chau 300,000,000.
"""

from __future__ import annotations

from incentive_engine.domain.events import QuotaSet
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import assigned, customer, territory, won

PERIOD = "2026-Q1"


def team_quota(team: str, amount: int) -> QuotaSet:
    """A top-down team quota for 2026-Q1."""
    return QuotaSet(event_id=f"quota-team-{team.replace(' ', '-')}", subject="team", subject_id=team,
                    period=PERIOD, amount=amount, currency="VND")  # fmt: skip


def seed_quotas(settings: Settings) -> None:
    """Append the store described above."""
    hn = customer(region="Hà Nội", customer_id="C-HN")
    events = [
        publication(plan(tiered()).plan),
        rep("mgr", role="manager", name="Trần Thị Quản Lý", team="HCM 1"),
        rep("an", manager_id="mgr", name="Nguyễn Văn An", team="HCM 1"),
        rep("binh", manager_id="mgr", name="Lê Bình", team="HCM 1"),
        rep("chau", name="Phạm Châu", team="HN 1"),
        rep("dung", name="Đỗ Dũng", team="HN 1"),
        quota("an", 300_000_000),
        quota("binh", 300_000_000),
        quota("chau", 300_000_000),
        quota("dung", 200_000_000),
        team_quota("HCM 1", 500_000_000),
        team_quota("HN 1", 600_000_000),
        territory("T-HCM", region="TP.HCM"),
        territory("T-HN", region="Hà Nội"),
        assigned("T-HCM", "an"),
        assigned("T-HN", "chau", "2026-02-01"),
        won("D0A", 250_000_000, rep_id="an", close_date="2025-02-10"),
        won("D0B", 200_000_000, rep_id="binh", close_date="2025-02-11"),
        won("D0C", 300_000_000, rep_id="chau", close_date="2025-03-01", customer=hn),
        won("D1", 390_000_000, rep_id="an", close_date="2026-02-10"),
        won("D2", 100_000_000, rep_id="binh", close_date="2026-02-11"),
        won("D4", 150_000_000, rep_id="chau", close_date="2026-02-15", customer=hn),
        won("D5", 120_000_000, rep_id="dung", close_date="2026-03-15", customer=hn),
        won("D-HN", 80_000_000, close_date="2026-01-15", customer=hn),
    ]
    with EventStore(settings) as store:
        store.append(events)
