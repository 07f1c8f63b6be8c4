"""Property-based tests of the pure core: crediting, statements, tiers, clawback, order, rounding.

Hypothesis generates plans (flat, graduated and retroactive rates, gates, caps, SPIFFs,
target incentives, overrides, team pools, draws), small sales organisations and deal
histories (named, split and territory deals, amendments, cancellations, reassignments, quota
changes, manual adjustments, a closed earlier quarter).  Each test states one invariant in its docstring and
checks it on the pure fold and evaluator only: no store, no clock, no I/O of its own (the
example database is off; Hypothesis still keeps its self-ignored ``.hypothesis/`` cache).
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentive_engine.domain.events import (
    DealAmended,
    DealCancelled,
    DealWon,
    Event,
    ManualAdjustment,
    PeriodClosed,
    QuotaChanged,
    RepTerminated,
    RepTransferred,
    TerritoryAssigned,
    TerritoryDefined,
    TerritoryReassigned,
)
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.money import MINOR_UNITS, round_money
from incentive_engine.domain.periods import Period
from plans.documents import PlanVersion
from plans.evaluate import Statement, credits_for, evaluate
from tests.examples.plans import GRADUATED_TIERS, plan, quota, rep
from tests.factories import customer, territory, won

Q1 = Period.parse("2026-Q1")
Q4 = Period.parse("2025-Q4")
REPS = ("an", "binh", "chau")
"""The organisation of the generated worlds: an manages binh and chau."""
FIVE_REPS = ("an", "binh", "chau", "dung", "em")
SCALE = {"VND": Decimal(1_000_000_000), "USD": Decimal(1_000_000)}
"""Largest generated deal amount per currency."""
DAYS = [date(2026, 1, 1), date(2026, 1, 15), date(2026, 2, 1), date(2026, 2, 15), date(2026, 3, 31)]
"""Few distinct effective days, so that same-day ties (the tie-break rules) are common."""

PROPERTY = settings(
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Shared settings: no example database on disk, no per-example deadline."""

# ------------------------------------------------------------------ strategies

currencies = st.sampled_from(["VND", "USD"])
q1_days = st.sampled_from(DAYS)
rates = st.decimals(min_value=0, max_value=30, places=2)


def amounts(currency: str, *, extra_places: int = 1, top: Decimal | None = None) -> Any:
    """Non-negative amounts with one more decimal than the currency has (to exercise rounding)."""
    top = SCALE[currency] if top is None else top
    return st.decimals(min_value=0, max_value=top, places=MINOR_UNITS[currency] + extra_places)


def positive_amounts(currency: str) -> Any:
    """Quota-like amounts: positive, in the currency's minor units."""
    return st.decimals(min_value=1, max_value=SCALE[currency], places=MINOR_UNITS[currency])


@st.composite
def percent_shares(draw: st.DrawFn, reps: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Shares for the given reps: integer or 2-decimal percents, each above 0, summing to 100."""
    unit = draw(st.sampled_from([Decimal(1), Decimal("0.01")]))
    steps = int(Decimal(100) / unit)
    cuts = draw(
        st.lists(
            st.integers(1, steps - 1), min_size=len(reps) - 1, max_size=len(reps) - 1, unique=True
        )
    )
    bounds = [0, *sorted(cuts), steps]
    return [
        {"rep_id": r, "share": (hi - lo) * unit}
        for r, lo, hi in zip(reps, bounds, bounds[1:], strict=False)
    ]


@st.composite
def shares_among(draw: st.DrawFn, pool: tuple[str, ...], max_reps: int = 5) -> list[dict[str, Any]]:
    """1..max_reps distinct reps of the pool with shares summing to exactly 100."""
    reps = draw(
        st.lists(st.sampled_from(pool), min_size=1, max_size=min(max_reps, len(pool)), unique=True)
    )
    return draw(percent_shares(reps))


@st.composite
def tier_ladders(draw: st.DrawFn, top: Decimal, *, max_tiers: int = 4) -> list[dict[str, Any]]:
    """Valid tiers: the first from 0, the others from top/1000..top rising strictly, each at
    any non-negative rate."""
    starts = draw(
        st.lists(
            st.decimals(min_value=top / 1000, max_value=top, places=2),
            max_size=max_tiers - 1,
            unique=True,
        )
    )
    return [{"from": s, "rate": draw(rates)} for s in [Decimal(0), *sorted(starts)]]


@st.composite
def band_ladders(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid attainment bands (percent) with multipliers 0..5."""
    starts = draw(
        st.lists(st.decimals(min_value=1, max_value=200, places=1), max_size=3, unique=True)
    )
    multipliers = st.decimals(min_value=0, max_value=5, places=2)
    return [{"from": s, "multiplier": draw(multipliers)} for s in [Decimal(0), *sorted(starts)]]


def optional(strategy: Any) -> Any:
    """None or a value of the strategy."""
    return st.none() | strategy


def _without_none(component: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in component.items() if v is not None}


@st.composite
def rate_components(draw: st.DrawFn, cid: str, currency: str) -> dict[str, Any]:
    """A flat, graduated or retroactive rate, on attainment or deal amount, maybe gated,
    capped (caps may carry sub-minor-unit decimals) and filtered."""
    mode = draw(st.sampled_from(["flat", "graduated", "retroactive"]))
    component: dict[str, Any] = {"id": cid, "kind": "rate", "mode": mode}
    if mode == "flat":
        component["rate"] = draw(rates)
    else:
        measure = draw(st.sampled_from(["attainment", "deal_amount"]))
        top = Decimal(200) if measure == "attainment" else SCALE[currency] / 2
        component |= {"measure": measure, "tiers": draw(tier_ladders(top))}
    component["gate"] = draw(optional(st.decimals(min_value=0, max_value=150, places=1)))
    component["cap"] = draw(optional(amounts(currency, top=SCALE[currency] / 20)))
    component["filter"] = draw(
        st.sampled_from(
            [
                None,
                [{"field": "product_group", "value": "cloud"}],
                [{"field": "amount", "op": "gte", "value": SCALE[currency] / 4}],
            ]
        )
    )
    return _without_none(component)


@st.composite
def target_incentives(draw: st.DrawFn, cid: str, currency: str) -> dict[str, Any]:
    """Target x attainment x multiplier across bands, maybe gated and capped."""
    return _without_none(
        {
            "id": cid,
            "kind": "target_incentive",
            "target": draw(amounts(currency, top=SCALE[currency] / 10)),
            "bands": draw(band_ladders()),
            "gate": draw(optional(st.decimals(min_value=0, max_value=150, places=1))),
            "cap": draw(optional(amounts(currency, top=SCALE[currency] / 10))),
        }
    )


@st.composite
def spiffs(draw: st.DrawFn, cid: str, currency: str) -> dict[str, Any]:
    """A per-deal bonus (fixed or percent), maybe filtered and limited to a window."""
    fixed = draw(st.booleans())
    window = draw(st.lists(q1_days, min_size=2, max_size=2).map(sorted))
    return _without_none(
        {
            "id": cid,
            "kind": "spiff",
            "amount_per_deal": draw(amounts(currency, top=SCALE[currency] / 100))
            if fixed
            else None,
            "percent": None if fixed else draw(rates),
            "filter": draw(st.sampled_from([None, [{"field": "product_group", "value": "cloud"}]])),
            "window": draw(st.sampled_from([None, {"from": window[0], "to": window[1]}])),
        }
    )


@st.composite
def overrides(draw: st.DrawFn, cid: str, currency: str) -> dict[str, Any]:
    """A manager's percentage of their reports' credited revenue."""
    depth = draw(st.sampled_from(["direct", "all"]))
    return {"id": cid, "kind": "override", "rate": draw(rates), "depth": depth}


@st.composite
def team_pools(draw: st.DrawFn, cid: str, currency: str) -> dict[str, Any]:
    """A team pool: a percentage of the team's credit or a fixed amount, by credit or equally."""
    fixed = draw(st.booleans())
    top = SCALE[currency] / 100
    return _without_none(
        {
            "id": cid,
            "kind": "team_pool",
            "amount": draw(amounts(currency, extra_places=0, top=top)) if fixed else None,
            "percent": None if fixed else draw(rates.filter(lambda r: r > 0)),
            "by": draw(st.sampled_from(["credit", "equal"])),
            "covered_only": draw(st.sampled_from([None, True])),
        }
    )


COMPONENTS = {
    "rate": rate_components,
    "target_incentive": target_incentives,
    "spiff": spiffs,
    "override": overrides,
    "team_pool": team_pools,
}


@st.composite
def plans(draw: st.DrawFn, currency: str, *, clawback_share: Decimal | None = None) -> PlanVersion:
    """A draft plan version mixing 1..4 components (plus maybe a draw), in a currency."""
    kinds = draw(st.lists(st.sampled_from(sorted(COMPONENTS)), min_size=1, max_size=4))
    components = [draw(COMPONENTS[k](f"{k}-{i}", currency)) for i, k in enumerate(kinds)]
    if draw(st.booleans()):
        draw_amount = draw(amounts(currency, top=SCALE[currency] / 100))
        recoverable = draw(st.booleans())
        components.append(
            {"id": "draw", "kind": "draw", "amount": draw_amount, "recoverable": recoverable}
        )
    share = clawback_share or draw(st.sampled_from([Decimal(100), Decimal(50), Decimal("33.33")]))
    return plan(
        *components,
        currency=currency,
        crediting=draw(st.sampled_from(["named", "territory"])),
        clawback={"window_days": draw(st.integers(0, 200)), "share": share},
    )


@st.composite
def won_deals(
    draw: st.DrawFn, deal_id: str, currency: str, *, credit: str | None = None
) -> DealWon:
    """A deal won in Q1: credited to a named rep, to splits, or (naming no one) to a territory."""
    credit = credit or draw(st.sampled_from(["rep", "splits", "territory"]))
    named: dict[str, Any] = {}
    if credit == "rep":
        named["rep_id"] = draw(st.sampled_from(REPS))
    elif credit == "splits":
        named["splits"] = draw(shares_among(REPS))
    where = customer(
        region=draw(st.sampled_from(["TP.HCM", "TP.HCM", "Hà Nội"])),
        size=draw(st.sampled_from(["sme", "corporation"])),
    )
    return won(
        deal_id,
        draw(amounts(currency)),
        currency=currency,
        close_date=draw(q1_days),
        product_group=draw(st.sampled_from(["cloud", "hardware"])),
        customer=where,
        **named,
    )


@st.composite
def deal_histories(
    draw: st.DrawFn,
    deal_id: str,
    currency: str,
    *,
    credit: str | None = None,
    amended: bool = False,
) -> list[Event]:
    """A won deal, then 0..2 amendments (maybe re-splitting it) and 0..2 cancellations."""
    deal = draw(won_deals(deal_id, currency, credit=credit))
    later = st.integers(0, 150).map(lambda n: deal.close_date + timedelta(days=n))
    history: list[Event] = [deal]
    for i in range(draw(st.integers(int(amended), 2))):
        history.append(
            DealAmended(
                event_id=f"amend-{deal_id}-{i}",
                deal_id=deal_id,
                amended_date=draw(later),
                amount=draw(amounts(currency)),
                currency=currency,
                splits=draw(optional(shares_among(REPS))),
                reason="re-priced",
            )
        )
    for i in range(draw(st.integers(0, 2))):
        history.append(
            DealCancelled(
                event_id=f"cancel-{deal_id}-{i}",
                deal_id=deal_id,
                cancelled_date=draw(later),
                reason="customer withdrew",
            )
        )
    return history


@st.composite
def worlds(draw: st.DrawFn, currency: str) -> list[Event]:
    """An organisation (an manages binh and chau), two nested territories with shared
    owners and at least one reassignment, Q1 quotas with at least one QuotaChanged, deals
    (at least one amended split deal), manual adjustments and maybe a closed 2025-Q4."""
    events: list[Event] = [
        rep("an", role="manager"),
        rep("binh", manager_id="an"),
        rep("chau", manager_id="an"),
        territory("T-HCM", region="TP.HCM"),
        territory("T-HCM-SME", region="TP.HCM", size="sme"),
    ]
    if draw(st.booleans()):
        events.append(
            RepTransferred(
                event_id="transfer-chau",
                rep_id="chau",
                effective_date=draw(q1_days),
                team="TP.HCM 2",
                manager_id="binh",
            )
        )
    for t in ("T-HCM", "T-HCM-SME"):
        events.append(
            TerritoryAssigned(
                event_id=f"assign-{t}",
                territory_id=t,
                owners=draw(shares_among(REPS)),
                effective_date="2025-01-01",
            )
        )
    for i in range(draw(st.integers(1, 3))):
        events.append(
            TerritoryReassigned(
                event_id=f"reassign-{i}",
                territory_id=draw(st.sampled_from(["T-HCM", "T-HCM-SME"])),
                owners=draw(shares_among(REPS)),
                effective_date=draw(q1_days),
            )
        )
    for r in REPS:
        events.append(quota(r, str(draw(positive_amounts(currency))), currency=currency))
    changed = draw(st.lists(st.sampled_from(REPS), unique=True)) or ["an"]
    for r in changed:
        events.append(
            QuotaChanged(
                event_id=f"quota-change-{r}",
                subject_id=r,
                period="2026-Q1",
                amount=draw(positive_amounts(currency)),
                currency=currency,
                effective_date=draw(optional(q1_days)),
                reason="territory changed",
            )
        )
    events += draw(deal_histories("S0", currency, credit="splits", amended=True))
    for i in range(draw(st.integers(0, 4))):
        events += draw(deal_histories(f"D{i}", currency))
    for i in range(draw(st.integers(0, 2))):
        events.append(
            ManualAdjustment(
                event_id=f"manual-{i}",
                rep_id=draw(st.sampled_from(REPS)),
                period="2026-Q1",
                amount=draw(st.decimals(min_value=-10_000, max_value=10_000, places=3)),
                currency=currency,
                reason="phone bill",
                posted_by="finance@vn",
                posted_date=draw(q1_days),
            )
        )
    if draw(st.booleans()):
        events += draw(closed_q4(currency))
    return events


@st.composite
def closed_q4(draw: st.DrawFn, currency: str) -> list[Event]:
    """A 2025-Q4 with quotas and a deal, closed with sealed payouts (so Q1 may carry
    adjustment lines for it)."""
    events: list[Event] = [
        quota(r, str(draw(positive_amounts(currency))), str(Q4), currency) for r in REPS
    ]
    events.append(
        won(
            "Q4-1",
            draw(amounts(currency)),
            currency=currency,
            rep_id=draw(st.sampled_from(REPS)),
            close_date="2025-11-20",
        )
    )
    earned = st.decimals(min_value=0, max_value=SCALE[currency] / 100, places=MINOR_UNITS[currency])
    payouts = []
    for r in REPS:
        paid = draw(earned)
        payouts.append(
            {
                "rep_id": r,
                "plan_id": "example",
                "version": 1,
                "earned": paid,
                "total": paid,
                "statement_hash": "sha256:" + "0" * 64,
            }
        )
    events.append(
        PeriodClosed(
            event_id=f"close-{Q4}",
            period=str(Q4),
            closed_at=datetime(2026, 1, 2, tzinfo=UTC),
            payouts=payouts,
        )
    )
    return events


@st.composite
def scenarios(
    draw: st.DrawFn, *, clawback_share: Decimal | None = None
) -> tuple[PlanVersion, list[Event]]:
    """A plan and a world in the same currency."""
    currency = draw(currencies)
    return draw(plans(currency, clawback_share=clawback_share)), draw(worlds(currency))


def statements_of(facts: Facts, version: PlanVersion) -> dict[str, Statement]:
    """Every rep's Q1 statement under a plan version."""
    return {r: evaluate(facts, version, r, Q1) for r in REPS}


# ------------------------------------------------------------------- 1. splits


@settings(PROPERTY, max_examples=120)
@given(amount=st.decimals(min_value=0, max_value=10**12, places=2), shares=shares_among(FIVE_REPS))
def test_split_credits_sum_exactly_to_the_deal_amount(
    amount: Decimal, shares: list[dict[str, Any]]
) -> None:
    """For a deal won with 1..5 splits (shares summing to exactly 100 %), the credits of
    its reps sum exactly to the deal amount, in the facts and in the evaluator."""
    reps = [s["rep_id"] for s in shares]
    deal = won("D1", amount, currency="USD", splits=shares)
    facts = fold([*(rep(r) for r in reps), deal])
    credits = facts.credits(facts.deals["D1"])
    assert [c.rep_id for c in credits] == reps
    assert sum(c.amount for c in credits) == amount
    version = plan({"id": "c", "kind": "rate", "mode": "flat", "rate": 1}, currency="USD")
    evaluated = [c for r in reps for c in credits_for(facts, version.plan, r, Q1)]
    assert sum(c.amount for c in evaluated) == amount
    assert sum(evaluate(facts, version, r, Q1).credited for r in reps) == amount


@settings(PROPERTY, max_examples=120)
@given(
    amount=st.decimals(min_value=0, max_value=10**12, places=2),
    owners=shares_among(FIVE_REPS),
    crediting=st.sampled_from(["named", "territory"]),
)
def test_territory_owner_credits_sum_exactly_to_the_deal_amount(
    amount: Decimal, owners: list[dict[str, Any]], crediting: str
) -> None:
    """For a deal naming no rep that falls in a territory owned by 1..5 reps with shares
    (summing to exactly 100 %), the owners' credits sum exactly to the deal amount."""
    reps = [s["rep_id"] for s in owners]
    events = [
        *(rep(r) for r in reps),
        territory("T-HCM", region="TP.HCM"),
        TerritoryAssigned(
            event_id="assign", territory_id="T-HCM", owners=owners, effective_date="2025-01-01"
        ),
        won("D1", amount, currency="USD"),
    ]
    facts = fold(events)
    credits = facts.credits(facts.deals["D1"], by=crediting)  # type: ignore[arg-type]
    assert {c.basis for c in credits} == {"territory"}
    assert [c.rep_id for c in credits] == reps
    assert sum(c.amount for c in credits) == amount
    version = plan(
        {"id": "c", "kind": "rate", "mode": "flat", "rate": 1}, currency="USD", crediting=crediting
    )
    assert sum(c.amount for r in reps for c in credits_for(facts, version.plan, r, Q1)) == amount


# ------------------------------------------------------------- 2. totals add up


@settings(PROPERTY, max_examples=60)
@given(scenarios())
def test_statement_total_is_the_sum_of_its_lines_and_of_its_subtotals(
    scenario: tuple[PlanVersion, list[Event]],
) -> None:
    """For any plan and any deals and quotas, a statement's total equals the sum of its
    lines, its per-component subtotals sum to the total, and so do earned + adjustments;
    the canonical document says the same."""
    version, events = scenario
    for s in statements_of(fold(events), version).values():
        assert s.total == sum((ln.amount for ln in s.lines), Decimal(0))
        assert sum(s.subtotals().values(), Decimal(0)) == s.total
        assert s.earned + sum(s.adjustments().values(), Decimal(0)) == s.total
        assert [ln.number for ln in s.lines] == list(range(1, len(s.lines) + 1))
        document = s.as_dict()
        assert Decimal(document["total"]) == s.total
        assert sum(Decimal(v) for v in document["subtotals"].values()) == s.total


# ------------------------------------------------------------ 3. monotone tiers


@st.composite
def graduated_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A graduated rate (2..4 tiers at any non-negative rates, on attainment or deal amount,
    maybe gated), a cap, a quota and two revenues r1 <= r2, r1 often just below a tier
    boundary and r2 often just above it."""
    currency = draw(currencies)
    places = MINOR_UNITS[currency] + 1
    measure = draw(st.sampled_from(["attainment", "deal_amount"]))
    top = Decimal(200) if measure == "attainment" else SCALE[currency] / 2
    tiers = draw(tier_ladders(top).filter(lambda t: len(t) > 1))
    component = {
        "id": "commission",
        "kind": "rate",
        "mode": "graduated",
        "measure": measure,
        "tiers": tiers,
    }
    gate = draw(optional(st.decimals(min_value=0, max_value=60, places=1)))
    if gate is not None:
        component["gate"] = gate
    quota_amount = draw(
        st.decimals(SCALE[currency] / 1000, SCALE[currency], places=MINOR_UNITS[currency])
    )
    scale = quota_amount / 100 if measure == "attainment" else Decimal(1)
    boundary = draw(st.sampled_from([t["from"] * scale for t in tiers[1:]]))
    fraction = st.decimals(min_value=0, max_value=Decimal("0.1"), places=4)
    unit = Decimal(1).scaleb(-places)
    r1 = (boundary * (1 - draw(fraction))).quantize(unit)
    r2 = (r1 + draw(st.builds(lambda f: boundary * f, fraction) | amounts(currency))).quantize(unit)
    return {
        "currency": currency,
        "component": component,
        "cap": draw(amounts(currency, top=SCALE[currency] / 20)),
        "quota": quota_amount,
        "revenues": (r1, r2),
    }


def _payout(version: PlanVersion, revenue: Decimal, quota_amount: Decimal) -> Decimal:
    currency = version.plan.currency
    events = [
        rep("an"),
        quota("an", str(quota_amount), currency=currency),
        won("D1", revenue, rep_id="an", currency=currency, close_date="2026-02-10"),
    ]
    return evaluate(fold(events), version, "an", Q1).total


@settings(PROPERTY, max_examples=100)
@given(graduated_cases())
def test_graduated_payout_is_monotone_in_revenue(case: dict[str, Any]) -> None:
    """Graduated tiers with non-negative rates never pay less for more revenue: r1 <= r2
    implies payout(r1) <= payout(r2), without a cap and with one (and capping never pays
    more).  Retroactive tiers are left out: with falling rates they are not monotone."""
    currency, component, cap, q = (case[k] for k in ("currency", "component", "cap", "quota"))
    r1, r2 = case["revenues"]
    uncapped = plan(component, currency=currency)
    capped = plan({**component, "cap": cap}, currency=currency)
    free = [_payout(uncapped, r, q) for r in (r1, r2)]
    limited = [_payout(capped, r, q) for r in (r1, r2)]
    assert free[0] <= free[1]
    assert limited[0] <= limited[1]
    assert limited[0] <= free[0] and limited[1] <= free[1]


# ------------------------------------------------------- 4. cancel and re-win


@settings(PROPERTY, max_examples=50)
@given(scenarios(clawback_share=Decimal(100)), st.data())
def test_cancel_within_the_window_then_rewin_nets_to_the_original_payout(
    scenario: tuple[PlanVersion, list[Event]], data: st.DataObject
) -> None:
    """Cancelling a deal inside the clawback window (full clawback) and winning it again
    as a new deal (new id; same amount, credit, customer and close date) leaves every
    rep's statement total and credited revenue unchanged."""
    version, events = scenario
    currency = version.plan.currency
    deal = data.draw(won_deals("X1", currency), label="deal")
    window = version.plan.clawback.window_days
    days = data.draw(st.integers(0, window), label="days after close")
    cancel = DealCancelled(
        event_id="cancel-X1",
        deal_id="X1",
        cancelled_date=deal.close_date + timedelta(days=days),
        reason="re-booked",
    )
    rewin = deal.model_copy(update={"event_id": "won-X1-again", "deal_id": "X1-again"})
    before = statements_of(fold([*events, deal]), version)
    after = statements_of(fold([*events, deal, cancel, rewin]), version)
    for r in REPS:
        assert after[r].credited == before[r].credited, r
        assert after[r].total == before[r].total, r


# ------------------------------------------------------ 5. order independence


@settings(PROPERTY, max_examples=40)
@given(scenarios(), st.data())
def test_statements_do_not_depend_on_ingestion_order(
    scenario: tuple[PlanVersion, list[Event]], data: st.DataObject
) -> None:
    """Folding the same events in any order (territory reassignments, amendments,
    QuotaSet + QuotaChanged of the same period, split deals, cancellations, same-day ties)
    gives byte-identical statements with the same hash."""
    version, events = scenario
    shuffled = data.draw(st.permutations(events), label="ingestion order")
    expected = statements_of(fold(events), version)
    actual = statements_of(fold(shuffled), version)
    for r in REPS:
        assert actual[r].canonical() == expected[r].canonical(), r
        assert actual[r].hash == expected[r].hash


RESTATEMENTS = {
    "territory redefined": [
        TerritoryDefined(
            event_id="def-T-1",
            territory_id="T",
            name="TP.HCM",
            criteria={"region": "TP.HCM"},
            effective_date="2025-01-01",
        ),
        TerritoryDefined(
            event_id="def-T-2",
            territory_id="T",
            name="TP.HCM SME",
            criteria={"region": "TP.HCM", "size": "sme"},
            effective_date="2026-03-01",
        ),
    ],
    "hire re-sent": [
        rep("an", event_id="hire-an-1", hire_date="2025-01-01"),
        rep("an", event_id="hire-an-2", hire_date="2026-02-01"),
    ],
    "termination re-sent": [
        RepTerminated(event_id="term-an-1", rep_id="an", termination_date="2026-02-15"),
        RepTerminated(event_id="term-an-2", rep_id="an", termination_date="2026-03-15"),
    ],
}
"""Pairs of events restating one rep or territory (they once made the fold keep whichever was
ingested last; the fold now orders them by effective date, then event id)."""


@pytest.mark.parametrize("pair", sorted(RESTATEMENTS))
def test_repeated_definitions_do_not_depend_on_ingestion_order(pair: str) -> None:
    """Invariant 5 for events that restate a rep or territory: two TerritoryDefined of one
    territory, two RepHired or two RepTerminated of one rep give the same statement in
    either ingestion order."""
    first, second = RESTATEMENTS[pair]
    world = [
        rep("an"),
        quota("an", 300_000_000),
        territory("T", region="TP.HCM"),
        TerritoryAssigned(
            event_id="assign-T", territory_id="T", rep_id="an", effective_date="2025-01-01"
        ),
        won("D1", 150_000_000, close_date="2026-02-10"),
    ]
    version = plan(
        {"id": "commission", "kind": "rate", "mode": "graduated", "tiers": GRADUATED_TIERS}
    )
    one = evaluate(fold([*world, first, second]), version, "an", Q1)
    other = evaluate(fold([*world, second, first]), version, "an", Q1)
    assert (one.total, one.hash) == (other.total, other.hash)


# ------------------------------------------------------------------ 6. rounding


@settings(PROPERTY, max_examples=60)
@given(scenarios())
def test_every_line_is_rounded_to_the_currency_minor_units(
    scenario: tuple[PlanVersion, list[Event]],
) -> None:
    """Every line amount (commission, gate, cap, SPIFF, target incentive, override, draw,
    manual and prior-period adjustment) has at most the currency's minor units (VND 0,
    USD 2), even when deal amounts, caps, draws and adjustments carry more decimals."""
    version, events = scenario
    currency = version.plan.currency
    places = MINOR_UNITS[currency]
    for s in statements_of(fold(events), version).values():
        for line in s.lines:
            assert isinstance(line.amount, Decimal)
            assert line.amount == round_money(line.amount, currency), line
            exponent = line.amount.as_tuple().exponent
            assert isinstance(exponent, int) and -exponent <= places, line


# ------------------------------------------------------------------- 7. purity


@settings(PROPERTY, max_examples=40)
@given(scenarios())
def test_evaluation_never_mutates_the_facts(scenario: tuple[PlanVersion, list[Event]]) -> None:
    """Evaluating statements leaves the facts as they were: a second evaluation gives the
    same hashes, and the facts (and their summary) are unchanged."""
    version, events = scenario
    facts = fold(events)
    pristine, summary = copy.deepcopy(facts), facts.summary()
    first = {r: s.hash for r, s in statements_of(facts, version).items()}
    second = {r: s.hash for r, s in statements_of(facts, version).items()}
    assert first == second
    assert facts.summary() == summary
    assert facts == pristine
