"""Pre-close checks and the close rule (pure: facts, plan book and statements in, checks out).

Before finance seals a period, ``pre_close_checks`` lists what is wrong with it, check by
check, each finding naming the rep, deal, territory, dispute or event at fault.  A check is
*blocking* (the close is refused while it fails) or a *warning* (shown, never in the way),
decided as a finance controller would:

- ``statement_errors`` (blocking, **no override**): a close seals every covered rep's pay;
  a statement that cannot be computed has nothing to seal.  Void or repair the event cited.
- ``deals_without_credit`` (blocking): a deal won in the period that nobody is credited for
  is revenue nobody is paid on; fix the crediting, or override (a house account).
- ``unowned_territories`` (blocking when a deal of the period fell in one, else warning):
  a territory without an owner on the period's close date is a coverage gap; once it took
  deals, pay depends on it.
- ``missing_fx`` (blocking): a credit or adjustment in a currency the plan cannot convert
  for its date cannot be paid right.
- ``adjustments_awaiting_approval`` (blocking): an adjustment proposed for the period but
  neither approved nor rejected; decide it first (finance's own queue), or override.
- ``open_disputes`` (warning): a rep's dispute never holds up everyone's pay; accepted
  after the close, it is paid as an adjustment in the first open period.
- ``changes_since_pay_run`` (warning): events about the period recorded since finance last
  viewed its pay run (or "never viewed"): look again before sealing.
- ``unaccepted_plans`` (warning, even with ``INCENTIVE_HOLD_UNACCEPTED`` on): reps paid under
  a plan version they have not accepted.  A close seals what they earned; with the hold on,
  their pay is held out of payouts and payroll until they accept, so one missing signature
  never holds up everyone's close (the finding says the pay is held).

``decide_close`` is the close rule every door applies: refused while a blocking check fails,
unless finance overrides with a written reason (never for ``statement_errors``); the reason
and the names of the checks overridden go on the ``PeriodClosed`` event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from incentive_engine.domain.acceptance import unaccepted
from incentive_engine.domain.adjustments import pending
from incentive_engine.domain.errors import Conflict, Invalid
from incentive_engine.domain.events import DisputeRaised, Event
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.periods import Period
from incentive_engine.domain.territories import unowned
from plans.evaluate import PlanBook

MAX_CHANGES = 50
"""The most changes since the pay-run view listed one by one (the rest are counted)."""


class Severity(StrEnum):
    """What a failing check means for the close."""

    BLOCKING = "blocking"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One thing wrong: what it concerns (``kind`` and ``subject``: a rep id, deal id,
    territory id, dispute id, event id...), a plain English ``detail`` for the CLI and the
    API, and the ``values`` a page words in the reader's language."""

    kind: str
    subject: str
    detail: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """A pre-close check: its name, severity, whether an override may lift it, and its
    findings (none: it passes). ``context`` holds what the page shows beside it."""

    name: str
    severity: Severity
    findings: tuple[Finding, ...] = ()
    overridable: bool = True
    context: Mapping[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether nothing was found."""
        return not self.findings

    @property
    def blocks(self) -> bool:
        """Whether this check, failing, refuses the close."""
        return self.severity is Severity.BLOCKING and not self.passed


class Failure(Protocol):
    """A covered rep's statement that cannot be computed (``StatementFailure``)."""

    rep_id: str
    plan_id: str
    plan_version: int
    error: str


@dataclass(frozen=True)
class PayRunView:
    """The last time finance viewed the pay run of the period: who, when, and the log
    position the page showed."""

    viewer: str
    at: datetime
    position: int


@dataclass(frozen=True)
class Recorded:
    """An event recorded after the pay-run view, with its position and recorded time."""

    position: int
    recorded_at: datetime
    event: Event


@dataclass(frozen=True)
class Since:
    """What was recorded since the last pay-run view: the events read (oldest first) and
    whether more were left unread."""

    events: Sequence[Recorded] = ()
    more: bool = False


# ------------------------------------------------------------------ the checks


def statement_errors(failures: Sequence[Failure]) -> Check:
    """Reps whose statement cannot be computed, each with the reason (blocking, no override:
    there is nothing to seal for them)."""
    findings = tuple(
        Finding(
            "rep",
            f.rep_id,
            f"{f.rep_id}: {f.error}",
            {"plan": f"{f.plan_id}@{f.plan_version}", "error": f.error},
        )
        for f in sorted(failures, key=lambda f: (f.rep_id, f.plan_id, f.plan_version))
    )
    return Check("statement_errors", Severity.BLOCKING, findings, overridable=False)


def deals_without_credit(facts: Facts, period: Period) -> Check:
    """Deals won in the period (not cancelled) that credit nobody: no split, no named rep,
    and no territory owner on the close date."""
    findings = []
    for deal in facts.won_deals(period):
        won = deal.won
        assert won is not None
        if deal.cancellation is not None or facts.credits(deal):
            continue
        placed = facts.territory_for(deal)
        territory = placed[0].territory_id if placed else None
        why = (
            f"territory {territory} has no owner on {won.close_date}"
            if territory
            else "it names no rep and matches no territory"
        )
        findings.append(
            Finding(
                "deal",
                deal.deal_id,
                f"deal {deal.deal_id} ({deal.amount} {won.currency}, won {won.close_date}) "
                f"credits nobody: {why}",
                {
                    "amount": deal.amount,
                    "currency": won.currency,
                    "close_date": won.close_date,
                    "territory": territory,
                },
            )
        )
    return Check("deals_without_credit", Severity.BLOCKING, tuple(findings))


def unowned_territories(facts: Facts, period: Period) -> Check:
    """Territories defined on the period's close date that nobody owns then, each with the
    number of deals of the period that fell in it (blocking once any did)."""
    day = period.end
    placed: dict[str, int] = {}
    for deal in facts.won_deals(period):
        found = facts.territory_for(deal)
        if found is not None:
            placed[found[0].territory_id] = placed.get(found[0].territory_id, 0) + 1
    findings = []
    for territory in unowned(facts, day):
        tid = territory.territory_id
        definition = territory.definition_on(day)
        name = definition.name if definition is not None else tid
        deals = placed.get(tid, 0)
        findings.append(
            Finding(
                "territory",
                tid,
                f"territory {tid} ({name}) has no owner on {day}"
                + (f"; {deals} deal(s) of {period} fell in it" if deals else ""),
                {"name": name, "day": day, "deals": deals},
            )
        )
    with_deals = any(f.values["deals"] for f in findings)
    severity = Severity.BLOCKING if with_deals else Severity.WARNING
    return Check("unowned_territories", severity, tuple(findings), context={"day": day})


def missing_fx(facts: Facts, book: PlanBook, period: Period) -> Check:
    """Credits and manual adjustments of covered reps in a currency their plan cannot
    convert, for want of an FX rate on the deal's close date (the adjustment's posting
    date)."""
    seen: set[tuple[str, str, str]] = set()
    findings = []

    def lacks(base: str, quote: str, day: date) -> bool:
        try:
            facts.fx_rate(base, quote, day)
        except LookupError:
            return True
        return False

    for rep_id in sorted(facts.reps):
        for version in book.for_rep(facts, rep_id, period):
            plan = version.plan
            into = plan.currency
            for deal, _credit in facts.credits_by_rep(period, by=plan.crediting).get(rep_id, []):
                won = deal.won
                assert won is not None
                key = (deal.deal_id, won.currency, into)
                if (
                    won.currency == into
                    or key in seen
                    or not lacks(won.currency, into, won.close_date)
                ):
                    continue
                seen.add(key)
                findings.append(
                    Finding(
                        "deal",
                        deal.deal_id,
                        f"deal {deal.deal_id} is in {won.currency}, plan {plan.plan_id} pays "
                        f"in {into}: no {won.currency}->{into} rate on or before "
                        f"{won.close_date}",
                        {"base": won.currency, "quote": into, "day": won.close_date,
                         "rep": rep_id, "plan": plan.plan_id},
                    )
                )  # fmt: skip
            for m in facts.manual_adjustments.get((rep_id, str(period)), []):
                key = (m.event_id, m.currency, into)
                if m.currency == into or key in seen or not lacks(m.currency, into, m.posted_date):
                    continue
                seen.add(key)
                findings.append(
                    Finding(
                        "adjustment",
                        m.event_id,
                        f"adjustment {m.event_id} for {rep_id} is in {m.currency}, plan "
                        f"{plan.plan_id} pays in {into}: no {m.currency}->{into} rate on or "
                        f"before {m.posted_date}",
                        {"base": m.currency, "quote": into, "day": m.posted_date,
                         "rep": rep_id, "plan": plan.plan_id},
                    )
                )  # fmt: skip
    return Check("missing_fx", Severity.BLOCKING, tuple(findings))


def _within(text: str, period: Period) -> bool:
    """Whether a period named in an event lies within the period closed."""
    try:
        other = Period.parse(text)
    except ValueError:
        return False
    return period.start <= other.start and other.end <= period.end


def open_disputes(disputes: Sequence[DisputeRaised], period: Period) -> Check:
    """Disputes still open on statements of the period (given the open ones): a warning."""
    findings = tuple(
        Finding(
            "dispute",
            d.dispute_id,
            f"dispute {d.dispute_id} of {d.rep_id} ({d.period}, line {d.line}) is open: {d.reason}",
            {
                "rep": d.rep_id,
                "period": d.period,
                "line": d.line,
                "reason": d.reason,
                "raised_at": d.raised_at,
            },
        )
        for d in sorted(disputes, key=lambda d: (d.raised_at, d.dispute_id))
        if _within(d.period, period)
    )
    return Check("open_disputes", Severity.WARNING, findings)


def adjustments_awaiting_approval(facts: Facts, period: Period) -> Check:
    """Adjustments proposed for the period, neither approved nor rejected (blocking: an
    unapproved adjustment is never paid, so decide it before sealing, or override)."""
    findings = tuple(
        Finding(
            "adjustment",
            a.proposal_id,
            f"adjustment {a.proposal_id} of {a.proposal.rep_id} ({a.proposal.amount} "
            f"{a.proposal.currency}) proposed by {a.proposal.proposed_by} awaits approval",
            {
                "rep": a.proposal.rep_id,
                "amount": a.proposal.amount,
                "currency": a.proposal.currency,
                "proposed_by": a.proposal.proposed_by,
                "reason": a.proposal.reason,
            },
        )
        for a in pending(facts, period)
    )
    return Check("adjustments_awaiting_approval", Severity.BLOCKING, findings)


def concerns(event: Event, period: Period) -> bool:
    """Whether an event is about the period: its effective day falls in it, or it names a
    period within it (an adjustment, a dispute, a close)."""
    named = getattr(event, "period", None)
    if isinstance(named, str):
        return _within(named, period)
    return event.effective_day in period


def changes_since_pay_run(view: PayRunView | None, since: Since, period: Period) -> Check:
    """Events about the period recorded since finance last viewed its pay run (a warning);
    a pay run never viewed is one finding."""
    if view is None:
        finding = Finding("pay-run", str(period), f"the pay run of {period} was never viewed")
        return Check("changes_since_pay_run", Severity.WARNING, (finding,), context={})
    relevant = [r for r in since.events if concerns(r.event, period)]
    findings = tuple(
        Finding(
            "event",
            r.event.event_id,
            f"{type(r.event).__name__} {r.event.event_id} recorded at {r.recorded_at.isoformat()}",
            {"type": type(r.event).__name__, "recorded_at": r.recorded_at},
        )
        for r in relevant[:MAX_CHANGES]
    )
    context = {
        "viewer": view.viewer,
        "viewed_at": view.at,
        "recorded": len(since.events),
        "more": since.more,
        "unlisted": max(0, len(relevant) - MAX_CHANGES),
    }
    return Check("changes_since_pay_run", Severity.WARNING, findings, context=context)


def unaccepted_plans(facts: Facts, paid: Iterable[tuple[str, str, int]], *, hold: bool) -> Check:
    """Reps paid (``paid``: rep, plan, version of each statement) under a plan version they
    have not accepted: a warning; with ``hold`` the finding says their pay is held."""
    findings = tuple(
        Finding(
            "rep",
            rep_id,
            f"{rep_id} is paid under plan {plan_id} v{version}, which they have not accepted"
            + ("; their pay is held until they accept" if hold else ""),
            {"plan": f"{plan_id}@{version}", "held": hold},
        )
        for rep_id, plan_id, version in unaccepted(facts, paid)
    )
    return Check("unaccepted_plans", Severity.WARNING, findings, context={"held": hold})


def pre_close_checks(
    facts: Facts,
    book: PlanBook,
    period: Period,
    failures: Sequence[Failure],
    *,
    disputes: Sequence[DisputeRaised] = (),
    view: PayRunView | None = None,
    since: Since = Since(),
    paid: Iterable[tuple[str, str, int]] = (),
    hold: bool = False,
) -> list[Check]:
    """Every pre-close check of a period, blocking ones first (``disputes``: the open
    disputes; ``view``: the last pay-run view, None if never; ``since``: what was recorded
    after it; ``paid``: the rep, plan and version of each statement; ``hold``: whether
    unaccepted plans' payouts are held)."""
    return [
        statement_errors(failures),
        deals_without_credit(facts, period),
        unowned_territories(facts, period),
        missing_fx(facts, book, period),
        adjustments_awaiting_approval(facts, period),
        open_disputes(disputes, period),
        changes_since_pay_run(view, since, period),
        unaccepted_plans(facts, paid, hold=hold),
    ]


# -------------------------------------------------------------------- the rule


class CloseBlocked(Conflict, ValueError):
    """A close refused because blocking checks fail (nothing was written)."""


class OverrideInvalid(Invalid, ValueError):
    """An override without a written reason."""


@dataclass(frozen=True)
class CloseDecision:
    """A close the rule allows: the blocking checks it overrides (empty when none failed)
    and the reason to record (None when nothing was overridden)."""

    overridden: tuple[str, ...]
    reason: str | None


def _summary(check: Check) -> str:
    first = check.findings[0].detail
    more = len(check.findings) - 1
    return f"{check.name} ({first}" + (f"; and {more} more)" if more else ")")


def decide_close(checks: Sequence[Check], override_reason: str | None) -> CloseDecision:
    """The close rule: allowed when no blocking check fails; while some fail, only with a
    written override reason, and never over ``statement_errors`` (a check that may not be
    overridden). An empty reason is refused; a reason given when nothing fails is not kept.
    Raises ``CloseBlocked`` or ``OverrideInvalid``."""
    reason = None
    if override_reason is not None:
        reason = " ".join(override_reason.split())
        if not reason:
            raise OverrideInvalid(
                "the override reason is empty: write why the period is closed although "
                "blocking checks fail",
                field="override_reason",
            )
    failing = [c for c in checks if c.blocks]
    hard = [c for c in failing if not c.overridable]
    if hard:
        count = sum(len(c.findings) for c in hard)
        raise CloseBlocked(
            f"{count} statement(s) cannot be computed, and a close seals every covered rep's "
            "pay (an override does not apply; void or repair the event cited): "
            + "; ".join(f.detail for c in hard for f in c.findings)
        )
    if failing and reason is None:
        raise CloseBlocked(
            "the close is refused while blocking checks fail: "
            + "; ".join(_summary(c) for c in failing)
            + " (fix them, or override with a written reason)"
        )
    if not failing:
        return CloseDecision((), None)
    return CloseDecision(tuple(c.name for c in failing), reason)
