"""Referential checks: which reps, teams, deals, territories, leads and quotas an event may name.

Pure: the known identifiers are plain sets filled from events; no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    LeadCreated,
    LeadQualified,
    ManualAdjustment,
    OpportunityCreated,
    OpportunityStageChanged,
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
    "PlanVersionPublished",
    "PlanAccepted",
)
"""Event types that introduce identifiers other events may refer to."""

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
            case ManualAdjustment() | AdjustmentProposed():
                rep("rep_id", event.rep_id)
            case AdjustmentApproved() | AdjustmentRejected():
                found.extend(self._adjustment_decision(event))
            case EventVoidProposed():
                if event.target_event_id == event.event_id:
                    found.append(("target_event_id", "a proposal cannot void itself"))
            case EventVoidApproved():
                found.extend(self._void_approval(event))
            case PlanAccepted():
                rep("rep_id", event.rep_id)
                if event.rep_id in self.reps:
                    found.extend(self._acceptance(event))
            case _:
                pass
        return found

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


def same_person(a: str, b: str) -> bool:
    """Whether two user names are the same person (case and surrounding space ignored)."""
    return a.strip().casefold() == b.strip().casefold()
