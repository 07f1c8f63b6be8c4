"""A rep's pay: statements (and, in this router, what reps may read about themselves)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from api import access
from api.auth import Principal
from api.deps import EngineDep, PrincipalDep, check_pay_access, parse_period
from api.routers.pay import AS_OF_CACHE, AsOf
from incentive_engine.domain.visibility import figure_day
from incentive_engine.services.acceptance import statement_acceptance
from incentive_engine.services.commissions import find_version, rep_statements
from incentive_engine.services.integrity import statement_status
from plans.ref import PlanRef

router = APIRouter(prefix="/v1/reps", tags=["reps"])


class StatementLineOut(BaseModel):
    """One statement line: what was paid, by which rule, on what base, from which events
    (``origin_*`` for a holdback release or forfeit, ``deal_line`` and ``won_over`` only
    when set)."""

    model_config = ConfigDict(extra="forbid")

    number: int
    component: str
    kind: str
    description: str
    base: Decimal | None
    tier: str | None
    rate: Decimal | None
    amount: Decimal
    deal_ids: list[str]
    event_ids: list[str]
    origin_period: str | None = None
    origin_line: int | None = None
    deal_line: int | None = None
    won_over: list[str] | None = None


class HoldbackOut(BaseModel):
    """The period's holdback figures (only when the plan holds pay back)."""

    model_config = ConfigDict(extra="forbid")

    earned: Decimal
    held_back: Decimal
    released: Decimal
    forfeited: Decimal
    balance: Decimal


class StatementOut(BaseModel):
    """A rep's statement under one plan version, as the API and ``statement --format json``
    give it: the hashed content (rep, plan, quota, credited, attainment, lines, subtotals,
    ``total``, ``holdback``), its ``hash``, and beside them ``earned`` (the period's own
    lines), ``adjustments`` (prior-period lines), ``draw_owed`` (a recoverable draw's balance
    owed at the period's end; null without one) and, in the API, ``acceptance``."""

    model_config = ConfigDict(extra="forbid")

    rep_id: str
    period: str
    plan_id: str
    plan_version: int
    plan_hash: str
    currency: str
    quota: Decimal | None
    credited: Decimal
    attainment: Decimal | None
    lines: list[StatementLineOut]
    subtotals: dict[str, Decimal]
    total: Decimal
    holdback: HoldbackOut | None = None
    hash: str
    earned: Decimal
    adjustments: Decimal
    draw_owed: Decimal | None
    acceptance: dict[str, Any] | None = None


def _statement_docs(
    engine: EngineDep,
    who: Principal,
    rep: str,
    period: str,
    as_of: datetime | None,
    plan_version: str | None,
) -> list[dict[str, Any]]:
    the_period = parse_period(period)
    snap = engine.snapshot(as_of)
    check_pay_access(who, rep, snap.facts, figure_day(the_period))
    version = None
    if plan_version is not None:
        ref = PlanRef.parse(plan_version, field="plan_version")
        version = find_version(snap, *ref.key)
    found = rep_statements(snap, rep, the_period, plan_version=version)
    # Whether the rep accepted the version that pays each statement rides beside it, never
    # inside it: the statement's content and hash stay as they are.
    return [
        {
            **s.document(),
            "acceptance": statement_acceptance(snap.facts, s.rep_id, s.plan_id, s.plan_version),
        }
        for s in found
    ]


@router.get("/{rep}/statements/{period}", response_model=list[StatementOut])
async def statement(
    rep: str,
    period: str,
    request: Request,
    engine: EngineDep,
    who: PrincipalDep,
    as_of: AsOf = None,
    plan_version: Annotated[
        str | None, Query(description="PLAN@VERSION instead of the one in force.")
    ] = None,
) -> Response:
    """A rep's statements for a period: every line with its rule and events, and beside each
    (``acceptance``, not part of the statement or its hash) whether the rep accepted the plan
    version that pays it. Reps see their own, managers their reports', finance everyone's.
    The ``X-Integrity`` header says how far the log they were computed from is verified:
    ``verified up to checkpoint #N at position P``, ``...; not verified since P`` or
    ``FAILED at position Q``."""
    headers: dict[str, str] = {}
    if as_of is not None:  # a past figure changes only with backfilled history: revalidate
        headers["Cache-Control"] = AS_OF_CACHE
        docs = _statement_docs(engine, who, rep, period, as_of, plan_version)
        body = orjson.dumps(docs)
    else:
        snap = engine.snapshot()  # catches up with the log (dropping what it may change)
        the_period = parse_period(period)
        check_pay_access(who, rep, snap.facts, figure_day(the_period))
        body = engine.answer(
            ("statement", rep, period, plan_version),
            the_period.end,
            lambda: orjson.dumps(_statement_docs(engine, who, rep, period, None, plan_version)),
        )
    access.record(request, who, "statement", rep, period)
    headers["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # How far the log behind these figures is verified: the last verification kept, one
    # row read (the chain is never recomputed per request).
    headers["X-Integrity"] = statement_status(request.app.state.views, engine.position)
    return Response(body, media_type="application/json", headers=headers)
