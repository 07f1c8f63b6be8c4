"""Holdbacks: a share of what a component earns is held back (a negative ``holdback`` line in
the period earned) and paid when its release condition holds (a ``holdback_release`` line in
that period), unless the deal is cancelled first (a ``holdback_forfeit`` line).

The rules, in the order they apply (the README shows them with an example):

* The component pays first, cap included; the holdback takes ``share`` % of what it pays
  net of the cap ("cap first, then hold").
* The held amount is per deal: each deal's part of the component's net earnings, in
  proportion to what its own lines paid (a line naming several deals, such as a flat rate or
  attainment tiers, is shared among them by credited amount). Earnings on no deal are held
  as one pooled amount of the component for the period. Each part is rounded on its own.
* Release day: ``after_days`` days after the deal's close date, or the last day of the plan
  year (the calendar year) the deal closed in; a pooled amount counts from the period's last
  day. Or (``fully_paid``) the first day the deal's payments net of refunds reach its amount
  for commission after amendments, waiting at most ``FULLY_PAID_WAIT_DAYS`` after the close
  (never released if not paid in full by then; pooled pay is released at its period's end).
  It is paid in the period that day falls in, even its own.
* A deal cancelled on or before its release day forfeits what is held on it: never
  released, a zero ``holdback_forfeit`` line in the period of the cancellation. If the
  cancellation also falls within the clawback window, the held share absorbs the clawback
  first: the holdback line of the deal's period becomes the share held before the
  cancellation less the clawback (never below zero), so the recomputed period claws back only
  what the clawback exceeds the held share by.

Everything here is computed from the facts each time: a period's releases re-evaluate the
earlier periods whose holds may still be pending (no further back than the longest release
condition reaches), without their own releases, so the work is bounded and nothing recurses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from incentive_engine.domain.facts import Deal, Facts
from incentive_engine.domain.periods import Period
from plans.evaluate.context import Context, Held
from plans.evaluate.credits import (
    Credited,
    amended_amount,
    clawed_by_cancellation,
    uncancelled,
)
from plans.evaluate.earning import paid_in_full_on
from plans.evaluate.statement import FORFEIT, HOLDBACK, HUNDRED, RELEASE, ZERO, Line
from plans.model import FULLY_PAID_WAIT_DAYS, Component, Holdback, Plan, Release

FULLY_PAID_WAIT = timedelta(days=FULLY_PAID_WAIT_DAYS)
"""How long ``fully_paid`` waits after the close: pay not released by then never is."""

# ----------------------------------------------------------------- release rules


def release_on(
    facts: Facts, plan: Plan, release: Release, deal: Deal | None, period: Period
) -> date | None:
    """The day held pay is released: the one place a release condition is decided (None
    while the day is not known yet). ``period`` is the period the pay was held in; a pooled
    amount (no deal) counts from its last day."""
    anchor = period.end
    if deal is not None and deal.won is not None:
        anchor = deal.won.close_date
    if release.after_days is not None:
        return anchor + timedelta(days=release.after_days)
    if release.plan_year_end:
        return date(anchor.year, 12, 31)
    if release.fully_paid:
        if deal is None or deal.won is None:
            return anchor  # pooled pay has no payments to wait for
        amount, _ = amended_amount(deal, plan)
        return paid_in_full_on(facts, deal, amount, anchor + FULLY_PAID_WAIT)
    return None  # pragma: no cover - a release has exactly one condition


def _reach(release: Release) -> timedelta:
    """The longest a release condition may wait after the close (or the period's end)."""
    if release.after_days is not None:
        return timedelta(days=release.after_days)
    return FULLY_PAID_WAIT


def looks_back_to(release: Release, period: Period) -> date:
    """The earliest day a period holding pay may end on and still release or forfeit it in
    ``period``: pay held earlier was released before ``period`` began."""
    if release.plan_year_end:
        return date(period.start.year, 1, 1)
    return period.start - _reach(release)


def forfeit_on(release_day: date | None, deal: Deal | None) -> date | None:
    """The deal's cancellation day if it comes on or before the release day."""
    cancel = deal.cancellation if deal is not None else None
    if cancel is None or (release_day is not None and cancel.cancelled_date > release_day):
        return None
    return cancel.cancelled_date


# ------------------------------------------------------------------ holding back


def _shares(credits: Sequence[Credited], lines: Sequence[Line]) -> dict[str | None, Decimal]:
    """Each deal's part of what the lines pay net (None: earnings on no deal), in proportion
    to what its own lines paid; empty when the lines pay nothing."""
    net = sum((ln.amount for ln in lines), ZERO)
    if net <= 0:
        return {}
    weights: dict[str, Decimal] = {}
    for c in credits:
        weights[c.deal_id] = weights.get(c.deal_id, ZERO) + c.amount
    gross: dict[str | None, Decimal] = {}
    for ln in lines:
        ids = [d for d in ln.deal_ids if weights.get(d, ZERO) > 0]
        if not ids:
            gross[None] = gross.get(None, ZERO) + ln.amount
            continue
        total = sum((weights[d] for d in ids), ZERO)
        for d in ids:
            gross[d] = gross.get(d, ZERO) + ln.amount * weights[d] / total
    positive = {k: v for k, v in gross.items() if v > 0}
    paid = sum(positive.values(), ZERO)
    return {k: net * v / paid for k, v in positive.items()}


def hold(ctx: Context, comp: Component, start: int, pay: Callable[[Context, Any], None]) -> None:
    """Holdback lines for what a component's lines from ``start`` on pay, one per deal."""
    rule: Holdback | None = getattr(comp, "holdback", None)
    if rule is None:
        return
    lines = ctx.drafts[start:]
    now = _shares(ctx.credits, lines)
    deals = {c.deal_id: c for c in ctx.credits}
    day = {
        d: release_on(ctx.facts, ctx.plan, rule.release, c.deal, ctx.period)
        for d, c in deals.items()
    }
    clawed = {
        d
        for d, c in deals.items()
        if forfeit_on(day[d], c.deal) is not None and clawed_by_cancellation(ctx.plan, c.deal)
    }
    before = now
    if clawed:  # what the component paid before the cancellations' clawback
        credits = [uncancelled(ctx.facts, ctx.plan, c) if c.deal_id in clawed else c
                   for c in ctx.credits]  # fmt: skip
        alt = replace(ctx, credits=credits, drafts=[], held=[])
        pay(alt, comp)
        before = _shares(alt.credits, alt.drafts)
    pooled = tuple(dict.fromkeys(e for ln in lines for e in ln.event_ids))
    for key in [*deals, None]:
        earned = now.get(key, ZERO)
        first_earned = before.get(key, ZERO) if key in clawed else earned
        if first_earned <= 0:
            continue
        c = deals.get(key) if key is not None else None
        _hold_one(ctx, comp, rule, c, earned, first_earned, pooled)


def _hold_one(
    ctx: Context,
    comp: Component,
    rule: Holdback,
    c: Credited | None,
    earned: Decimal,
    first_earned: Decimal,
    pooled: tuple[str, ...],
) -> None:
    """The holdback line of one deal (or of the pooled earnings) and what it holds."""
    deal = c.deal if c is not None else None
    release = release_on(ctx.facts, ctx.plan, rule.release, deal, ctx.period)
    forfeit = forfeit_on(release, deal)
    first = ctx.money(first_earned * rule.share / HUNDRED)
    absorbed = first_earned - earned
    amount = max(ZERO, ctx.money(first - absorbed)) if absorbed > 0 else first
    on = f"deal {c.deal_id}" if c is not None else f"{ctx.period} (no single deal)"
    if absorbed > 0:
        assert forfeit is not None
        description = (
            f"{comp.label}: {rule.share} % of {ctx.fmt(first_earned)} earned on {on} "
            f"before its cancellation on {forfeit} is {ctx.fmt(first)}; it absorbs the "
            f"clawback of {ctx.fmt(absorbed)} first: {ctx.fmt(amount)} stays held, forfeited"
        )
    else:
        until = f"until {release}" if release is not None else "until released"
        if rule.release.fully_paid and c is not None:  # the same words before and after
            until = "until the deal is paid in full"
        description = (
            f"{comp.label}: {rule.share} % of {ctx.fmt(earned)} earned on {on} held back {until}"
        )
    ctx.add(
        component=comp.id,
        kind=HOLDBACK,
        description=description,
        amount=-amount,
        base=ctx.money(first_earned),
        rate=rule.share,
        deal_ids=(c.deal_id,) if c is not None else (),
        event_ids=c.event_ids if c is not None else pooled,
    )
    ctx.held.append(
        Held(
            component=comp.id,
            label=comp.label,
            period=ctx.period,
            line=len(ctx.drafts),
            deal=deal,
            amount=amount,
            first=first,
            release_on=release,
            forfeit_on=forfeit,
            event_ids=c.event_ids if c is not None else pooled,
        )
    )


# ------------------------------------------------------------ release, forfeit


def releases(components: Iterable[Component]) -> list[Release]:
    """The release conditions of the components that hold pay back."""
    return [h.release for c in components if (h := getattr(c, "holdback", None)) is not None]


def settle(ctx: Context, earlier: Callable[[Period], list[Held]], rules: list[Release]) -> None:
    """Release and forfeit lines for what this and earlier periods hold, and the balance
    held at the period's end (nothing when no component holds pay back)."""
    if not rules:
        return
    holds: list[Held] = []
    current = Period.containing(min(looks_back_to(r, ctx.period) for r in rules), ctx.period.kind)
    while current < ctx.period:
        holds += earlier(current)
        current = current.next()
    holds += ctx.held
    for h in holds:
        if h.forfeit_on is not None and h.forfeit_on in ctx.period:
            _forfeit(ctx, h)
        elif h.forfeit_on is None and h.release_on in ctx.period and h.amount > 0:
            _release(ctx, h)
    ctx.held_balance = sum((h.amount for h in holds if h.still_held(ctx.period.end)), ZERO)


def _origin(h: Held) -> str:
    return f"held back in {h.period} (line {h.line})"


def _release(ctx: Context, h: Held) -> None:
    ctx.add(
        component=h.component,
        kind=RELEASE,
        description=(
            f"{h.label}: releases {ctx.fmt(h.amount)} "
            + (f"on deal {h.deal.deal_id} " if h.deal is not None else "of pooled earnings ")
            + f"{_origin(h)}, due {h.release_on}"
        ),
        amount=h.amount,
        base=h.amount,
        deal_ids=(h.deal.deal_id,) if h.deal is not None else (),
        event_ids=h.event_ids,
        origin_period=str(h.period),
        origin_line=h.line,
    )


def _forfeit(ctx: Context, h: Held) -> None:
    assert h.deal is not None and h.deal.cancellation is not None
    absorbed = h.first - h.amount
    ctx.add(
        component=h.component,
        kind=FORFEIT,
        description=(
            f"{h.label}: deal {h.deal.deal_id} cancelled on {h.forfeit_on} forfeits the "
            f"{ctx.fmt(h.first)} {_origin(h)}: never released"
            + (f" ({ctx.fmt(absorbed)} of it absorbed the clawback)" if absorbed > 0 else "")
        ),
        amount=ZERO,
        base=h.first,
        deal_ids=(h.deal.deal_id,),
        event_ids=(h.deal.cancellation.event_id,),
        origin_period=str(h.period),
        origin_line=h.line,
    )
