"""Referential checks: which reps, teams, deals, territories, leads and quotas an event may name.

Pure: the known identifiers are plain sets filled from events; no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from incentive_engine.domain.coverage import Coverage, Spot, coverage_of, covered
from incentive_engine.domain.events import (
    ActivityLogged,
    AdjustmentApproved,
    AdjustmentProposed,
    AdjustmentRejected,
    DealAmended,
    DealCancelled,
    DealLost,
    DealWon,
    Event,
    EventVoidApproved,
    EventVoidProposed,
    FxRateSet,
    InvoiceCancelled,
    InvoiceIssued,
    LeadCreated,
    LeadQualified,
    ManualAdjustment,
    OpportunityCreated,
    OpportunityStageChanged,
    PaymentReceived,
    PaymentRefunded,
    PlanAccepted,
    PlanVersionPublished,
    QuotaChanged,
    QuotaSet,
    QuotaSubject,
    RepHired,
    RepTerminated,
    RepTransferred,
    TerritoryAssigned,
    TerritoryDefined,
    TerritoryModelDefined,
    TerritoryReassigned,
)
from incentive_engine.domain.money import format_money, fx_rate_in

DEFINING_TYPES = (
    "RepHired",
    "RepTransferred",
    "OpportunityCreated",
    "DealWon",
    "TerritoryDefined",
    "LeadCreated",
    "QuotaSet",
    "TerritoryModelDefined",
    "EventVoidProposed",
    "EventVoidApproved",
    "AdjustmentProposed",
    "AdjustmentApproved",
    "AdjustmentRejected",
    "DealAmended",
    "FxRateSet",
    "InvoiceIssued",
    "InvoiceCancelled",
    "PaymentReceived",
    "PaymentRefunded",
    "PlanVersionPublished",
    "PlanAccepted",
)
"""Event types that introduce identifiers (or amounts) other events may refer to."""


@dataclass(frozen=True)
class Billed:
    """An invoice or payment as the checks know it: its deal, amount and currency, and its
    amount in the deal's currency (what counts against the deal and its invoice)."""

    event_id: str
    deal_id: str
    amount: Decimal
    currency: str
    in_deal: Decimal
    invoice_id: str | None = None
    day: date | None = None
    """The issue day of an invoice."""


Problem = tuple[str, str]
"""A (field, reason) pair."""


@dataclass
class References:
    """Identifiers known so far, and the checks of an event's references against them."""

    reps: set[str] = field(default_factory=set)
    teams: set[str] = field(default_factory=set)
    opportunities: set[str] = field(default_factory=set)
    won: dict[str, tuple[str, str]] = field(default_factory=dict)
    """deal id -> (event id of the win, currency)."""
    territories: set[str] = field(default_factory=set)
    leads: set[str] = field(default_factory=set)
    quotas: set[tuple[str, str, str]] = field(default_factory=set)
    model: TerritoryModelDefined | None = None
    """The latest territory model (by effective date, then event id)."""
    void_proposals: dict[str, EventVoidProposed] = field(default_factory=dict)
    """Void proposals by their event id."""
    void_approved: dict[str, str] = field(default_factory=dict)
    """Approved proposal id -> the approval's event id."""
    adjustment_proposals: dict[str, str] = field(default_factory=dict)
    """Adjustment proposal id -> who proposed it."""
    adjustment_decided: dict[str, str] = field(default_factory=dict)
    """Decided adjustment proposal id -> the decision's event id."""
    deal_amounts: dict[str, tuple[tuple[date, str], Decimal]] = field(default_factory=dict)
    """Won deal id -> ((day, event id) of the win or latest amendment, amount)."""
    fx: dict[tuple[str, str], list[tuple[date, str, Decimal]]] = field(default_factory=dict)
    """FX rates as the fold keeps them, to count a payment in another currency."""
    invoices: dict[str, Billed] = field(default_factory=dict)
    """Issued invoice id -> the invoice."""
    cancelled_invoices: set[str] = field(default_factory=set)
    payments: dict[str, Billed] = field(default_factory=dict)
    """Payment id -> the payment as received (refunds are kept apart)."""
    refunds: dict[str, tuple[str, str, Decimal]] = field(default_factory=dict)
    """Refund id -> (event id, payment id, amount in the payment's currency)."""
    billed: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """Index: (``invoices``, deal id) and (``payments``, deal id) -> their ids; (``refunds``,
    payment id) -> its refund ids."""
    placements: dict[str, list[Spot]] = field(default_factory=dict)
    """Each rep's placements (team, role) over time, for plan coverage."""
    plans: dict[tuple[str, int], Coverage] = field(default_factory=dict)
    """Published plan versions -> who they cover and their effective dates."""
    accepted: dict[tuple[str, int, str], str] = field(default_factory=dict)
    """(plan id, version, rep id) -> the event id of the rep's acceptance."""

    def copy(self) -> References:
        """An independent copy."""
        return References(
            reps=set(self.reps),
            teams=set(self.teams),
            opportunities=set(self.opportunities),
            won=dict(self.won),
            territories=set(self.territories),
            leads=set(self.leads),
            quotas=set(self.quotas),
            model=self.model,
            void_proposals=dict(self.void_proposals),
            void_approved=dict(self.void_approved),
            adjustment_proposals=dict(self.adjustment_proposals),
            adjustment_decided=dict(self.adjustment_decided),
            deal_amounts=dict(self.deal_amounts),
            fx={k: list(v) for k, v in self.fx.items()},
            invoices=dict(self.invoices),
            cancelled_invoices=set(self.cancelled_invoices),
            payments=dict(self.payments),
            refunds=dict(self.refunds),
            billed={k: list(v) for k, v in self.billed.items()},
            placements={rep: list(items) for rep, items in self.placements.items()},
            plans=dict(self.plans),
            accepted=dict(self.accepted),
        )

    def learn(self, event: Event) -> None:
        """Remember the identifiers an event introduces."""
        match event:
            case RepHired():
                self.reps.add(event.rep_id)
                self.teams.add(event.team)
                self._place(event.rep_id, event)
            case RepTransferred():
                self.teams.add(event.team)
                self._place(event.rep_id, event)
            case PlanVersionPublished():
                self.plans.setdefault((event.plan_id, event.version), coverage_of(event))
            case PlanAccepted():
                key = (event.plan_id, event.version, event.rep_id)
                self.accepted.setdefault(key, event.event_id)
            case OpportunityCreated():
                self.opportunities.add(event.deal_id)
            case DealWon():
                self.opportunities.add(event.deal_id)
                self.won.setdefault(event.deal_id, (event.event_id, event.currency))
                self.deal_amounts.setdefault(event.deal_id, ((date.min, ""), event.amount))
            case DealAmended():
                key = (event.amended_date, event.event_id)
                earlier = self.deal_amounts.get(event.deal_id)
                if earlier is None or key > earlier[0]:
                    self.deal_amounts[event.deal_id] = (key, event.amount)
            case FxRateSet():
                rate = (event.rate_date, event.event_id, event.rate)
                bisect.insort(self.fx.setdefault((event.base, event.quote), []), rate)
            case InvoiceIssued():
                if event.invoice_id not in self.invoices:
                    self.invoices[event.invoice_id] = Billed(
                        event.event_id,
                        event.deal_id,
                        event.amount,
                        event.currency,
                        event.amount,
                        day=event.issued_date,
                    )
                    self.billed.setdefault(("invoices", event.deal_id), []).append(event.invoice_id)
            case InvoiceCancelled():
                self.cancelled_invoices.add(event.invoice_id)
            case PaymentReceived():
                paid = self._payment(event)
                if paid is not None and event.payment_id not in self.payments:
                    self.payments[event.payment_id] = paid
                    self.billed.setdefault(("payments", paid.deal_id), []).append(event.payment_id)
            case PaymentRefunded():
                if event.refund_id not in self.refunds:
                    self.refunds[event.refund_id] = (event.event_id, event.payment_id, event.amount)
                    self.billed.setdefault(("refunds", event.payment_id), []).append(
                        event.refund_id
                    )
            case TerritoryDefined():
                self.territories.add(event.territory_id)
            case LeadCreated():
                self.leads.add(event.lead_id)
            case QuotaSet():
                self.quotas.add((event.subject.value, event.subject_id, event.period))
            case TerritoryModelDefined():
                key = (event.effective_date, event.event_id)
                if self.model is None or key > (self.model.effective_date, self.model.event_id):
                    self.model = event
            case EventVoidProposed():
                self.void_proposals.setdefault(event.event_id, event)
            case EventVoidApproved():
                self.void_approved.setdefault(event.proposal_id, event.event_id)
            case AdjustmentProposed():
                self.adjustment_proposals.setdefault(event.event_id, event.proposed_by)
            case AdjustmentApproved() | AdjustmentRejected():
                self.adjustment_decided.setdefault(event.proposal_id, event.event_id)
            case _:
                pass

    def _place(self, rep_id: str, event: RepHired | RepTransferred) -> None:
        placement = Spot.of(event)
        items = self.placements.setdefault(rep_id, [])
        if placement not in items:
            bisect.insort(items, placement)

    def learn_all(self, events: Iterable[Event]) -> None:
        """Remember the identifiers of many events."""
        for event in events:
            self.learn(event)

    def problems(self, event: Event) -> list[Problem]:
        """Every reference of the event to something unknown, as (field, reason)."""
        found: list[Problem] = []

        def rep(fieldname: str, rep_id: str | None) -> None:
            if rep_id is not None and rep_id not in self.reps:
                found.append((fieldname, f"unknown rep {rep_id!r} (no RepHired for it)"))

        def opportunity(deal_id: str) -> None:
            if deal_id not in self.opportunities:
                found.append(
                    ("deal_id", f"unknown deal {deal_id!r} (no OpportunityCreated or DealWon)")
                )

        def won(deal_id: str) -> tuple[str, str] | None:
            win = self.won.get(deal_id)
            if win is None:
                found.append(("deal_id", f"deal {deal_id!r} has not been won (no DealWon)"))
            return win

        def territory(territory_id: str) -> None:
            if territory_id not in self.territories:
                found.append(
                    ("territory_id", f"unknown territory {territory_id!r} (no TerritoryDefined)")
                )

        match event:
            case RepHired():
                rep("manager_id", event.manager_id)
            case RepTransferred():
                rep("rep_id", event.rep_id)
                rep("manager_id", event.manager_id)
            case RepTerminated():
                rep("rep_id", event.rep_id)
            case OpportunityCreated():
                rep("rep_id", event.rep_id)
            case OpportunityStageChanged() | DealLost():
                opportunity(event.deal_id)
            case DealWon():
                rep("rep_id", event.rep_id)
                for i, s in enumerate(event.splits or ()):
                    rep(f"splits.{i}.rep_id", s.rep_id)
                earlier = self.won.get(event.deal_id)
                if earlier is not None and earlier[0] != event.event_id:
                    found.append(
                        ("deal_id", f"deal {event.deal_id!r} was already won by event {earlier[0]}")
                    )
            case DealAmended():
                win = won(event.deal_id)
                if win is not None and win[1] != event.currency:
                    found.append(
                        ("currency", f"deal {event.deal_id!r} is in {win[1]}, not {event.currency}")
                    )
                for i, s in enumerate(event.splits or ()):
                    rep(f"splits.{i}.rep_id", s.rep_id)
            case DealCancelled():
                won(event.deal_id)
            case TerritoryDefined():
                found.extend(self._outside_model(event))
            case TerritoryAssigned() | TerritoryReassigned():
                territory(event.territory_id)
                for i, s in enumerate(event.owners):
                    rep(f"owners.{i}.rep_id", s.rep_id)
            case QuotaSet() | QuotaChanged():
                self._quota_subject(event, found)
                if isinstance(event, QuotaChanged):
                    key = (event.subject.value, event.subject_id, event.period)
                    if key not in self.quotas:
                        found.append(
                            (
                                "period",
                                f"no quota was set for {event.subject.value} "
                                f"{event.subject_id!r} in {event.period} (no QuotaSet)",
                            )
                        )
            case LeadCreated():
                rep("rep_id", event.rep_id)
            case LeadQualified():
                rep("rep_id", event.rep_id)
                if event.lead_id not in self.leads:
                    found.append(("lead_id", f"unknown lead {event.lead_id!r} (no LeadCreated)"))
            case ActivityLogged():
                rep("rep_id", event.rep_id)
                if event.deal_id is not None:
                    opportunity(event.deal_id)
            case ManualAdjustment():
                rep("rep_id", event.rep_id)
                found.extend(self._adjustment_currency(event))
            case AdjustmentProposed():  # its currency is checked by the adjustment service
                rep("rep_id", event.rep_id)
            case AdjustmentApproved() | AdjustmentRejected():
                found.extend(self._adjustment_decision(event))
            case EventVoidProposed():
                if event.target_event_id == event.event_id:
                    found.append(("target_event_id", "a proposal cannot void itself"))
            case EventVoidApproved():
                found.extend(self._void_approval(event))
            case InvoiceIssued():
                found.extend(self._invoice(event, won))
            case InvoiceCancelled():
                invoice = self.invoices.get(event.invoice_id)
                if invoice is None:
                    found.append(
                        ("invoice_id", f"unknown invoice {event.invoice_id!r} (no InvoiceIssued)")
                    )
                elif invoice.day is not None and event.cancelled_date < invoice.day:
                    found.append(
                        ("cancelled_date", f"invoice {event.invoice_id!r} was issued on "
                                           f"{invoice.day}, after {event.cancelled_date}")
                    )  # fmt: skip
            case PaymentReceived():
                found.extend(self._payment_problems(event, won))
            case PaymentRefunded():
                found.extend(self._refund_problems(event))
            case PlanAccepted():
                rep("rep_id", event.rep_id)
                if event.rep_id in self.reps:
                    found.extend(self._acceptance(event))
            case _:
                pass
        return found

    # billing ------------------------------------------------------------------

    def _deal_amount(self, deal_id: str) -> Decimal | None:
        """A won deal's amount after its latest amendment."""
        known = self.deal_amounts.get(deal_id)
        return known[1] if known is not None else None

    def _invoice(self, event: InvoiceIssued, won: Any) -> list[Problem]:
        """An invoice bills a won deal, once, in its currency, and the deal's open invoices
        never add up to more than its amount."""
        earlier = self.invoices.get(event.invoice_id)
        if earlier is not None and earlier.event_id != event.event_id:
            return [("invoice_id", f"invoice {event.invoice_id!r} was already issued by event "
                                   f"{earlier.event_id}")]  # fmt: skip
        found: list[Problem] = []
        win = won(event.deal_id)
        if win is None:
            return found
        if win[1] != event.currency:
            found.append(
                ("currency", f"deal {event.deal_id!r} is in {win[1]}: invoice it in {win[1]}, "
                             f"not {event.currency}")
            )  # fmt: skip
            return found
        others = sum(
            (self.invoices[key].amount for key in self.billed.get(("invoices", event.deal_id), ())
             if key in self.invoices and key != event.invoice_id
             and key not in self.cancelled_invoices),
            Decimal(0),
        )  # fmt: skip
        amount = self._deal_amount(event.deal_id)
        if amount is not None and others + event.amount > amount:
            found.append(
                ("amount", f"over-invoiced: deal {event.deal_id!r} is {_money(amount, win[1])} "
                           f"and its open invoices already bill {_money(others, win[1])}")
            )  # fmt: skip
        return found

    def _payment(self, event: PaymentReceived) -> Billed | None:
        """A payment as it counts against its deal (None if its deal or rate is unknown)."""
        invoice = self.invoices.get(event.invoice_id) if event.invoice_id else None
        deal_id = invoice.deal_id if invoice is not None else event.deal_id
        win = self.won.get(deal_id) if deal_id is not None else None
        if deal_id is None or win is None:
            return None
        try:
            rate = fx_rate_in(self.fx, event.currency, win[1], event.received_date)
        except LookupError:
            return None
        in_deal = event.amount if rate == 1 else event.amount * rate
        return Billed(
            event.event_id, deal_id, event.amount, event.currency, in_deal, event.invoice_id
        )

    def _payment_problems(self, event: PaymentReceived, won: Any) -> list[Problem]:
        """A payment pays a known, open invoice (of the deal it names) or a won deal, in the
        deal's currency or one with an FX rate on the received day, and payments never add up
        to more than their invoice, nor their deal (an overpayment is refused)."""
        earlier = self.payments.get(event.payment_id)
        if earlier is not None and earlier.event_id != event.event_id:
            return [("payment_id", f"payment {event.payment_id!r} was already received by event "
                                   f"{earlier.event_id}")]  # fmt: skip
        invoice = None
        if event.invoice_id is not None:
            invoice = self.invoices.get(event.invoice_id)
            if invoice is None:
                return [("invoice_id", f"unknown invoice {event.invoice_id!r} (no InvoiceIssued)")]
            if event.invoice_id in self.cancelled_invoices:
                return [("invoice_id", f"invoice {event.invoice_id!r} was cancelled")]
            if event.deal_id is not None and event.deal_id != invoice.deal_id:
                return [("deal_id", f"invoice {event.invoice_id!r} bills deal "
                                    f"{invoice.deal_id!r}, not {event.deal_id!r}")]  # fmt: skip
        deal_id = invoice.deal_id if invoice is not None else event.deal_id
        assert deal_id is not None
        win = won(deal_id)
        if win is None:
            return []  # ``won`` has said so
        paid = self._payment(event)
        if paid is None:
            return [("currency", f"deal {deal_id!r} is in {win[1]}: no FX rate {event.currency}->"
                                 f"{win[1]} on or before {event.received_date} (publish an "
                                 "FxRateSet first)")]  # fmt: skip
        ids = self.billed.get(("payments", deal_id), ())
        others = [(self.payments[k], self._net(k)) for k in ids if k != event.payment_id]
        if invoice is not None:
            on_invoice = sum((n for p, n in others if p.invoice_id == event.invoice_id),
                             Decimal(0))  # fmt: skip
            if on_invoice + paid.in_deal > invoice.amount:
                return [("amount", _over(f"invoice {event.invoice_id!r}", invoice.amount,
                                         on_invoice, paid.in_deal, win[1]))]  # fmt: skip
        on_deal = sum((n for p, n in others if p.deal_id == deal_id), Decimal(0))
        amount = self._deal_amount(deal_id)
        if amount is not None and on_deal + paid.in_deal > amount:
            return [("amount", _over(f"deal {deal_id!r}", amount, on_deal, paid.in_deal, win[1]))]
        return []

    def _refund_problems(self, event: PaymentRefunded) -> list[Problem]:
        """A refund gives back part of a known payment, in its currency, never more than
        what is left of it."""
        earlier = self.refunds.get(event.refund_id)
        if earlier is not None and earlier[0] != event.event_id:
            return [("refund_id", f"refund {event.refund_id!r} was already made by event "
                                  f"{earlier[0]}")]  # fmt: skip
        payment = self.payments.get(event.payment_id)
        if payment is None:
            return [("payment_id", f"unknown payment {event.payment_id!r} (no PaymentReceived)")]
        if payment.currency != event.currency:
            return [("currency", f"payment {event.payment_id!r} is in {payment.currency}, "
                                 f"not {event.currency}")]  # fmt: skip
        refunded = sum(
            (self.refunds[key][2] for key in self.billed.get(("refunds", event.payment_id), ())
             if key != event.refund_id),
            Decimal(0),
        )  # fmt: skip
        if refunded + event.amount > payment.amount:
            total = _money(refunded + event.amount, payment.currency)
            received = _money(payment.amount, payment.currency)
            reason = f"refunds of payment {event.payment_id!r} would add up to {total}, "
            return [("amount", reason + f"more than the {received} received")]
        return []

    def _net(self, payment_id: str) -> Decimal:
        """What a payment counts against its deal after its refunds (in the deal's currency)."""
        payment = self.payments[payment_id]
        refunds = self.billed.get(("refunds", payment_id), ())
        refunded = sum((self.refunds[key][2] for key in refunds), Decimal(0))
        if not refunded:
            return payment.in_deal
        return payment.in_deal * (payment.amount - refunded) / payment.amount

    def _adjustment_currency(self, event: ManualAdjustment) -> list[Problem]:
        """A manual adjustment posted raw (a migration) is in a currency a plan covering its
        rep pays: one in another currency would leave the rep's statement uncomputable."""
        placements = self.placements.get(event.rep_id, [])
        paid = sorted(
            {
                c.currency
                for c in self.plans.values()
                if c.currency is not None and covered(c, event.rep_id, placements)
            }
        )
        if not paid or event.currency in paid:
            return []
        return [
            (
                "currency",
                f"{event.rep_id}'s plan pays in {', '.join(paid)}, not {event.currency}: an "
                "adjustment is paid in its plan's currency (convert it at a stated rate with "
                "`adjust ... --fx-rate RATE`, or post it in the plan's currency)",
            )
        ]

    def _acceptance(self, event: PlanAccepted) -> list[Problem]:
        """A plan acceptance names a published version that covers the rep, accepted once."""
        coverage = self.plans.get((event.plan_id, event.version))
        if coverage is None:
            published = sorted(v for p, v in self.plans if p == event.plan_id)
            if not published:
                return [("plan_id", f"unknown plan {event.plan_id!r} (no PlanVersionPublished)")]
            listed = ", ".join(str(v) for v in published)
            return [
                (
                    "version",
                    f"plan {event.plan_id} version {event.version} is not published "
                    f"(published: {listed})",
                )
            ]
        if not covered(coverage, event.rep_id, self.placements.get(event.rep_id, [])):
            return [
                (
                    "rep_id",
                    f"plan {event.plan_id} v{event.version} does not cover rep "
                    f"{event.rep_id!r}: a rep accepts only a plan version that covers them",
                )
            ]
        earlier = self.accepted.get((event.plan_id, event.version, event.rep_id))
        if earlier is not None and earlier != event.event_id:
            return [
                (
                    "event_id",
                    f"{event.rep_id} already accepted plan {event.plan_id} v{event.version} "
                    f"(event {earlier})",
                )
            ]
        return []

    def _void_approval(self, event: EventVoidApproved) -> list[Problem]:
        """The two-person rule: an approval names a known proposal of the same target, by
        someone other than its proposer, approved once."""
        proposal = self.void_proposals.get(event.proposal_id)
        if proposal is None:
            return [("proposal_id", f"unknown void proposal {event.proposal_id!r}")]
        found: list[Problem] = []
        if proposal.target_event_id != event.target_event_id:
            found.append(
                (
                    "target_event_id",
                    f"proposal {event.proposal_id!r} voids {proposal.target_event_id!r}, "
                    f"not {event.target_event_id!r}",
                )
            )
        if same_person(proposal.proposed_by, event.approved_by):
            found.append(
                (
                    "approved_by",
                    f"{event.approved_by!r} proposed this void: a different finance user "
                    "must approve it (two-person rule)",
                )
            )
        earlier = self.void_approved.get(event.proposal_id)
        if earlier is not None and earlier != event.event_id:
            found.append(("proposal_id", f"proposal {event.proposal_id!r} was already approved"))
        return found

    def _adjustment_decision(self, event: AdjustmentApproved | AdjustmentRejected) -> list[Problem]:
        """The maker–checker rule: a decision names a known proposal, decided once; an
        approval is by someone other than the proposer unless made in single-approver mode."""
        proposer = self.adjustment_proposals.get(event.proposal_id)
        if proposer is None:
            return [("proposal_id", f"unknown adjustment proposal {event.proposal_id!r}")]
        found: list[Problem] = []
        earlier = self.adjustment_decided.get(event.proposal_id)
        if earlier is not None and earlier != event.event_id:
            found.append(("proposal_id", f"adjustment {event.proposal_id!r} was already decided"))
        if (
            isinstance(event, AdjustmentApproved)
            and not event.single_approver
            and same_person(proposer, event.approved_by)
        ):
            found.append(
                (
                    "approved_by",
                    f"{event.approved_by!r} proposed this adjustment: a different finance user "
                    "must approve it (maker–checker rule)",
                )
            )
        return found

    def _outside_model(self, event: TerritoryDefined) -> list[Problem]:
        """Criteria values the territory model does not allow."""
        if self.model is None:
            return []
        found = []
        for dimension in ("region", "industry", "product_group"):
            value = getattr(event.criteria, dimension)
            allowed = self.model.allowed(dimension)
            if value is not None and allowed is not None and value not in allowed:
                found.append(
                    (
                        f"criteria.{dimension}",
                        f"{value!r} is not in the territory model (allowed: {', '.join(allowed)})",
                    )
                )
        return found

    def _quota_subject(self, event: QuotaSet | QuotaChanged, found: list[Problem]) -> None:
        known = {
            QuotaSubject.REP: (self.reps, "rep", "RepHired"),
            QuotaSubject.TEAM: (self.teams, "team", "RepHired or RepTransferred"),
            QuotaSubject.TERRITORY: (self.territories, "territory", "TerritoryDefined"),
        }[event.subject]
        if event.subject_id not in known[0]:
            found.append(
                ("subject_id", f"unknown {known[1]} {event.subject_id!r} (no {known[2]} for it)")
            )


def _money(amount: Decimal, currency: str) -> str:
    """An amount for a refusal's words."""
    return format_money(amount, currency)


def _over(what: str, limit: Decimal, paid: Decimal, amount: Decimal, currency: str) -> str:
    """The words of an overpayment refusal."""
    return (
        f"overpayment: {what} is {_money(limit, currency)}, {_money(paid, currency)} is already "
        f"paid, and this payment counts {_money(amount, currency)} more"
    )


def same_person(a: str, b: str) -> bool:
    """Whether two user names are the same person (case and surrounding space ignored)."""
    return a.strip().casefold() == b.strip().casefold()
