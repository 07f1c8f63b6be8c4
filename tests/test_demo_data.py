"""The demo data generator: reproducible, sized as asked, valid and referentially sound."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from incentive_engine.demo.generator import generate, iter_generate
from incentive_engine.domain.events import (
    EVENT_ADAPTER,
    ActivityLogged,
    CompanySize,
    DealAmended,
    DealCancelled,
    DealLost,
    DealWon,
    Event,
    LeadCreated,
    LeadQualified,
    OpportunityCreated,
    OpportunityStageChanged,
    Ownership,
    QuotaSet,
    RepHired,
    RepTerminated,
    RepTransferred,
    Role,
    Stage,
    TerritoryAssigned,
    TerritoryDefined,
    TerritoryReassigned,
)

FAMILY_NAMES = {
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
}  # fmt: skip
CITIES = {"Hà Nội", "Đà Nẵng", "TP.HCM"}
INDUSTRIES = {"Bán lẻ", "Sản xuất", "Tài chính", "Công nghệ", "Giáo dục", "Y tế", "Logistics"}
PRODUCT_GROUPS = {"cloud", "software", "hardware", "services"}
AMOUNT_RANGES = {
    None: (5_000_000, 50_000_000),
    "sme": (20_000_000, 500_000_000),
    "corporation": (200_000_000, 5_000_000_000),
}


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return generate(reps=30, events=20_000, seed=7, year=2026)


def digest(events: list[Event]) -> str:
    return hashlib.sha256(b"\n".join(e.model_dump_json().encode() for e in events)).hexdigest()


# ------------------------------------------------------------------ reproducibility


def test_same_seed_gives_identical_events(events: list[Event]) -> None:
    again = generate(reps=30, events=20_000, seed=7, year=2026)
    assert again == events
    assert digest(again) == digest(events)


def test_a_different_seed_gives_different_events(events: list[Event]) -> None:
    other = generate(reps=30, events=20_000, seed=8, year=2026)
    assert digest(other) != digest(events)


def test_iter_generate_streams_the_same_events() -> None:
    assert list(iter_generate(reps=6, events=1500, seed=3)) == generate(reps=6, events=1500, seed=3)


def test_output_does_not_depend_on_the_hash_seed() -> None:
    code = (
        "import hashlib; from incentive_engine.demo.generator import generate;"
        "print(hashlib.sha256(b'\\n'.join(e.model_dump_json().encode()"
        " for e in generate(reps=8, events=2000, seed=11))).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == digest(generate(reps=8, events=2000, seed=11))


def test_event_ids_are_unique_and_sequential(events: list[Event]) -> None:
    assert [e.event_id for e in events] == [f"evt-{i:07d}" for i in range(1, len(events) + 1)]


# ------------------------------------------------------------------------- size


@pytest.mark.parametrize(("reps", "wanted"), [(30, 20_000), (5, 3_000), (12, 7_777), (1, 400)])
def test_size_is_within_two_percent(reps: int, wanted: int) -> None:
    got = len(generate(reps=reps, events=wanted, seed=1))
    assert abs(got - wanted) <= wanted * 0.02


def test_never_fewer_than_the_set_up_events() -> None:
    got = generate(reps=20, events=10, seed=1)
    teams = sum(1 for e in got if isinstance(e, RepHired) and e.role is Role.MANAGER)
    assert len(got) == 1 + teams + 20 + 9 + 9 + 4 * 20
    assert {e.type for e in got} == {
        "RepHired",
        "TerritoryDefined",
        "TerritoryAssigned",
        "QuotaSet",
    }


def test_arguments_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="reps"):
        iter_generate(reps=0)
    with pytest.raises(ValueError, match="reps"):
        iter_generate(reps=10_001)
    with pytest.raises(ValueError, match="events"):
        iter_generate(events=-1)


def test_activities_are_the_bulk(events: list[Event]) -> None:
    counts = Counter(e.type for e in events)
    assert counts["ActivityLogged"] > len(events) / 2
    for kind in (
        "LeadCreated", "LeadQualified", "OpportunityCreated", "OpportunityStageChanged",
        "DealWon", "DealLost", "DealAmended", "DealCancelled", "RepTransferred",
        "RepTerminated", "TerritoryReassigned",
    ):  # fmt: skip
        assert counts[kind] > 0, kind
    assert 1 <= counts["TerritoryReassigned"] <= 2
    assert "PlanVersionPublished" not in counts
    assert "PeriodClosed" not in counts


# --------------------------------------------------------------------- validity


def test_every_event_validates(events: list[Event]) -> None:
    for e in events:
        assert EVENT_ADAPTER.validate_python(e.model_dump()) == e


def test_referential_integrity(events: list[Event]) -> None:
    hired: set[str] = set()
    terminated: dict[str, date] = {}
    territories: set[str] = set()
    leads: set[str] = set()
    opportunities: set[str] = set()
    won: set[str] = set()
    closed: set[str] = set()
    for e in events:
        if isinstance(e, RepHired):
            assert e.rep_id not in hired
            assert e.manager_id is None or e.manager_id in hired
            hired.add(e.rep_id)
            continue
        for rep in e.rep_ids():
            assert rep in hired, (e.event_id, rep)
            assert rep not in terminated or e.effective_day <= terminated[rep], e.event_id
        match e:
            case RepTerminated():
                terminated[e.rep_id] = e.termination_date
            case TerritoryDefined():
                territories.add(e.territory_id)
            case TerritoryAssigned() | TerritoryReassigned():
                assert e.territory_id in territories
            case LeadCreated():
                leads.add(e.lead_id)
            case LeadQualified():
                assert e.lead_id in leads
            case OpportunityCreated():
                assert e.deal_id not in opportunities
                assert e.lead_id is None or e.lead_id in leads
                opportunities.add(e.deal_id)
            case OpportunityStageChanged():
                assert e.deal_id in opportunities
            case DealWon():
                assert e.deal_id in opportunities and e.deal_id not in closed
                won.add(e.deal_id)
                closed.add(e.deal_id)
            case DealLost():
                assert e.deal_id in opportunities and e.deal_id not in closed
                closed.add(e.deal_id)
            case DealAmended() | DealCancelled():
                assert e.deal_id in won
            case ActivityLogged():
                assert e.deal_id is None or (e.deal_id in opportunities and e.deal_id not in closed)
            case _:
                pass
    assert terminated


def test_org_comes_first_in_hiring_order(events: list[Event]) -> None:
    hires = [e for e in events if isinstance(e, RepHired)]
    assert events[: len(hires)] == hires
    roles = [e.role for e in hires]
    assert roles == sorted(roles, key=[Role.DIRECTOR, Role.MANAGER, Role.REP].index)
    assert hires[0].rep_id == "dir-01"
    reps = [e for e in hires if e.role is Role.REP]
    assert len(reps) == 30
    assert [e.rep_id for e in reps] == [f"rep-{i:03d}" for i in range(1, 31)]
    teams = Counter(e.team for e in reps)
    assert all(5 <= size <= 8 for size in teams.values())
    managers = {e.rep_id: e.team for e in hires if e.role is Role.MANAGER}
    assert all(e.manager_id in managers and managers[e.manager_id] == e.team for e in reps)
    assert {team.rsplit(" ", 1)[0] for team in teams} == CITIES


def test_business_follows_in_effective_date_order(events: list[Event]) -> None:
    setup = ("RepHired", "TerritoryDefined", "TerritoryAssigned", "QuotaSet")
    end = max(i for i, e in enumerate(events) if e.type in setup) + 1
    assert [e.type for e in events[:end]] == sorted((e.type for e in events[:end]), key=setup.index)
    business = events[end:]
    assert all(e.type not in setup for e in business)
    days = [e.effective_day for e in business]
    assert days == sorted(days)
    assert days[-1] <= date(2026, 12, 31)
    assert all(e.effective_day.year == 2026 for e in business if isinstance(e, DealWon | DealLost))


def test_activities_happen_in_working_hours_on_weekdays(events: list[Event]) -> None:
    activities = [e for e in events if isinstance(e, ActivityLogged)]
    assert activities
    for e in activities:
        assert e.occurred_at.tzinfo is not None and e.occurred_at.utcoffset().total_seconds() == 0
        assert time(1) <= e.occurred_at.time() < time(11)
        assert e.occurred_at.weekday() < 5
        assert e.occurred_at.year == 2026
    kinds = Counter(e.kind.value for e in activities)
    assert set(kinds) == {"call_connected", "call_unanswered", "meeting", "email", "demo"}


def test_stages_follow_peak(events: list[Event]) -> None:
    order = [Stage.PROSPECT, Stage.ENGAGE, Stage.ACQUIRE, Stage.KEEP]
    stages: dict[str, list[Stage]] = {}
    for e in events:
        if isinstance(e, OpportunityCreated):
            stages[e.deal_id] = [e.stage]
        elif isinstance(e, OpportunityStageChanged):
            stages[e.deal_id].append(e.stage)
        elif isinstance(e, DealWon):
            assert stages[e.deal_id][-1] is Stage.ACQUIRE
    for path in stages.values():
        assert path == order[: len(path)]
    assert any(len(path) == 4 for path in stages.values())


# ------------------------------------------------------------------------ content


def test_vietnamese_names_with_diacritics(events: list[Event]) -> None:
    hires = [e for e in events if isinstance(e, RepHired)]
    for e in hires:
        family, *_ = e.name.split()
        assert family in FAMILY_NAMES
        assert len(e.name.split()) == 3
        assert e.name == unicodedata.normalize("NFC", e.name)
    with_marks = [e for e in hires if not e.name.isascii()]
    assert len(with_marks) > len(hires) / 2
    assert hires[0].rep_id == "dir-01" and hires[1].rep_id == "mgr-01"


def test_quotas_for_every_rep_and_quarter(events: list[Event]) -> None:
    reps = {e.rep_id for e in events if isinstance(e, RepHired) and e.role is Role.REP}
    quotas = [e for e in events if isinstance(e, QuotaSet)]
    assert {(e.subject_id, e.period) for e in quotas} == {
        (rep, f"2026-Q{q}") for rep in reps for q in range(1, 5)
    }
    assert len(quotas) == 4 * len(reps)
    for e in quotas:
        assert e.subject.value == "rep" and e.currency == "VND"
        assert Decimal(1_000_000_000) <= e.amount <= Decimal(3_000_000_000)
        assert e.amount % 10_000_000 == 0


def test_territories_cover_city_type_and_size(events: list[Event]) -> None:
    defined = {e.territory_id: e for e in events if isinstance(e, TerritoryDefined)}
    assert len(defined) == 9
    assert defined["T-HN-BUS-SME"].name == "Hà Nội · Doanh nghiệp · SME"
    for e in defined.values():
        c = e.criteria
        assert c.region in CITIES
        assert (c.size is None) == (c.customer_type.value == "individual")
    assigned = [e for e in events if isinstance(e, TerritoryAssigned)]
    assert {e.territory_id for e in assigned} == set(defined)
    assert all(len(e.owners) == 1 and e.effective_date == date(2026, 1, 1) for e in assigned)
    team_of = {e.rep_id: e.team for e in events if isinstance(e, RepHired)}
    for e in assigned:
        assert team_of[e.owners[0].rep_id].startswith(defined[e.territory_id].criteria.region)


def test_deals_look_real(events: list[Event]) -> None:
    won = [e for e in events if isinstance(e, DealWon)]
    opportunities = [e for e in events if isinstance(e, OpportunityCreated)]
    for e in [*won, *opportunities]:
        c = e.customer
        assert e.currency == "VND" and e.amount % 100_000 == 0
        assert e.product_group in PRODUCT_GROUPS
        assert c.region in CITIES and c.industry in INDUSTRIES and c.name
        assert (c.size is None) == (c.customer_type.value == "individual")
        assert (c.ownership is None) == (c.customer_type.value == "individual")
    for e in opportunities:
        low, high = AMOUNT_RANGES[e.customer.size.value if e.customer.size else None]
        assert low <= e.amount <= high
    sources = {e.lead_source.value for e in opportunities if e.lead_source}
    assert sources == {"web", "social", "sales_team", "referral", "other"}
    assert {e.customer.size for e in won} == {None, CompanySize.SME, CompanySize.CORPORATION}
    assert any(e.customer.ownership is Ownership.STATE for e in won)
    lost = [e for e in events if isinstance(e, DealLost)]
    assert len({e.reason for e in lost}) > 3


def test_split_shares_sum_to_100_and_some_deals_name_no_rep(events: list[Event]) -> None:
    won = [e for e in events if isinstance(e, DealWon)]
    split = [e for e in won if e.splits]
    no_rep = [e for e in won if e.rep_id is None and not e.splits]
    assert 0.02 * len(won) <= len(split) <= 0.1 * len(won)
    assert 0.02 * len(won) <= len(no_rep) <= 0.1 * len(won)
    for e in split:
        assert len(e.splits) == 2
        assert sum(s.share for s in e.splits) == 100
        assert e.splits[0].rep_id != e.splits[1].rep_id
    for e in events:
        if isinstance(e, DealAmended) and e.splits:
            assert sum(s.share for s in e.splits) == 100


def test_cancellations_come_after_the_close(events: list[Event]) -> None:
    closed = {e.deal_id: e.close_date for e in events if isinstance(e, DealWon)}
    cancelled = [e for e in events if isinstance(e, DealCancelled)]
    assert cancelled
    assert all(e.cancelled_date > closed[e.deal_id] for e in cancelled)
    amended = [e for e in events if isinstance(e, DealAmended)]
    assert all(e.amended_date > closed[e.deal_id] for e in amended)


def test_is_new_only_on_a_customers_first_won_deal(events: list[Event]) -> None:
    seen: set[str] = set()
    new = 0
    for e in events:
        if isinstance(e, DealWon):
            if e.customer.is_new:
                assert e.customer.customer_id not in seen
                new += 1
            seen.add(e.customer.customer_id)
    assert new > 0


def test_transfers_name_an_existing_manager(events: list[Event]) -> None:
    managers = {e.rep_id: e.team for e in events if isinstance(e, RepHired)}
    transfers = [e for e in events if isinstance(e, RepTransferred)]
    assert transfers
    for e in transfers:
        assert managers[e.manager_id] == e.team
        assert e.effective_date.year == 2026


def test_small_organisations_stay_sound() -> None:
    for reps, n in ((1, 2_000), (2, 800), (9, 4_000)):
        got = generate(reps=reps, events=n, seed=5)
        assert abs(len(got) - n) <= n * 0.02
        hired: set[str] = set()
        for e in got:
            if isinstance(e, RepHired):
                hired.add(e.rep_id)
            assert set(e.rep_ids()) <= hired, e.event_id
        assert sum(isinstance(e, QuotaSet) for e in got) == 4 * reps


def test_activity_timestamps_are_utc_datetimes(events: list[Event]) -> None:
    e = next(e for e in events if isinstance(e, ActivityLogged))
    assert isinstance(e.occurred_at, datetime) and e.occurred_at.tzinfo == UTC
