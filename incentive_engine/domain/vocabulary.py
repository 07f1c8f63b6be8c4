"""The vocabulary of the domain: its enumerations (roles, stages, customer kinds, lead
sources, activity kinds, quota subjects, dispute outcomes, leaderboard metrics, quota
methods, the KPIs a plan can pay on), with no dependency, so that every layer and the
command line's options can name them without loading the models that use them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person does in the sales organisation."""

    REP = "rep"
    MANAGER = "manager"
    DIRECTOR = "director"


class Stage(StrEnum):
    """Stages of the PEAK pipeline, plus the two outcomes."""

    PROSPECT = "prospect"
    ENGAGE = "engage"
    ACQUIRE = "acquire"
    KEEP = "keep"
    WON = "won"
    LOST = "lost"


class CustomerType(StrEnum):
    """Who the customer is."""

    INDIVIDUAL = "individual"
    BUSINESS = "business"


class CompanySize(StrEnum):
    """Size of a business customer."""

    SME = "sme"
    CORPORATION = "corporation"


class Ownership(StrEnum):
    """Ownership of a business customer."""

    PRIVATE = "private"
    STATE = "state"


class LeadSource(StrEnum):
    """Where a lead came from."""

    WEB = "web"
    SOCIAL = "social"
    SALES_TEAM = "sales_team"
    REFERRAL = "referral"
    OTHER = "other"


class ActivityKind(StrEnum):
    """A sales activity and, for calls, its outcome."""

    CALL_CONNECTED = "call_connected"
    CALL_UNANSWERED = "call_unanswered"
    MEETING = "meeting"
    EMAIL = "email"
    DEMO = "demo"


class QuotaSubject(StrEnum):
    """Who a quota is set for."""

    REP = "rep"
    TEAM = "team"
    TERRITORY = "territory"


class DisputeOutcome(StrEnum):
    """How a dispute of a statement line ends."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Metric(StrEnum):
    """What a leaderboard ranks by."""

    POINTS = "points"
    REVENUE = "revenue"
    ATTAINMENT = "attainment"
    DEALS_WON = "deals_won"
    NEW_CUSTOMERS = "new_customers"


class BoardVisibility(StrEnum):
    """What a leaderboard shows of other reps (finance, the rep themselves and their
    managers always see the values)."""

    RANKS = "ranks"
    """Rank, name and movement only: no values."""
    RANKS_AND_POINTS = "ranks_and_points"
    """The points board shows points; the other boards show ranks only."""
    RANKS_AND_VALUES = "ranks_and_values"
    """Every rep's value (revenue, attainment, deals...) to every reader of the board."""


class Method(StrEnum):
    """How quotas are allocated."""

    UPLIFT = "uplift"
    GROWTH = "growth"
    AVERAGE = "average"
    MARKET = "market"


class PayableKpi(StrEnum):
    """The KPIs a plan's KPI bonus can pay on (``kpis.score`` computes them)."""

    WIN_RATE = "win_rate"
    """Won / (won + lost) x 100 of the opportunities closed in the period (percent)."""
    DEALS_WON = "deals_won"
    """Deals won in the period and not cancelled (a count)."""
    NEW_CUSTOMERS = "new_customers"
    """Deals won in the period, not cancelled, with a new customer (a count)."""
    LEADS = "leads"
    """Leads created in the period (a count)."""
    QUALIFIED_LEADS = "qualified_leads"
    """Leads created in the period and qualified (a count)."""
    LEAD_CONVERSION = "lead_conversion"
    """Qualified leads / leads created in the period x 100 (percent)."""
    ACTIVITIES = "activities"
    """Activities logged in the period, of one kind if ``activity`` is given (a count)."""
    ATTAINMENT = "attainment"
    """Credited revenue / quota x 100, as the attainment report has it; pace to quota at the
    period's end (percent)."""
