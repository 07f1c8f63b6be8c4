"""Leaderboards and badges as every door shows them: the board of a metric, scope and period
with each rep's value only where the visibility rule lets the reader see it (never pay), and
the badges a rep holds with the day and the events that earned them."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from incentive_engine.domain import visibility
from incentive_engine.domain.facts import Facts
from incentive_engine.domain.leaderboards import Metric, Standing, leaderboard, members
from incentive_engine.domain.periods import Period, PeriodKind
from incentive_engine.domain.visibility import BoardVisibility, Viewer
from incentive_engine.services.commissions import Snapshot
from plans.model import Plan
from plans.points import badges


@dataclass(frozen=True)
class ShownStanding:
    """A rep's place on a board as a reader sees it: ``value`` is None where the board's
    policy hides it; ``movement`` is places gained since the previous period of the same
    length (None: new on the board), as ``domain.leaderboards`` computes it."""

    rank: int
    rep_id: str
    name: str
    value: Decimal | None
    reached_at: datetime | None
    previous_rank: int | None
    movement: int | None


@dataclass(frozen=True)
class ShownBoard:
    """A board for one reader: the rows in rank order, the plans' policy, and the currency a
    revenue board is counted in."""

    metric: Metric
    scope: str
    period: Period
    visibility: BoardVisibility
    currency: str | None
    rows: list[ShownStanding]

    def you(self, rep_id: str) -> ShownStanding | None:
        """The reader's own row, when they are on the board."""
        return next((r for r in self.rows if r.rep_id == rep_id), None)

    def revealed(self, reader: str | None) -> list[str]:
        """The reps (other than the reader) whose values the board shows: what the access
        log records."""
        return [r.rep_id for r in self.rows if r.value is not None and r.rep_id != reader]


def in_force(plan: Plan, period: Period) -> bool:
    """Whether a plan is in force on some day of the period."""
    return plan.effective_from <= period.end and (
        plan.effective_to is None or plan.effective_to >= period.start
    )


def board_policy(snap: Snapshot, metric: Metric, period: Period) -> BoardVisibility:
    """What the board shows of other reps under the plans in force in the period."""
    return visibility.board_policy(
        (v.plan.leaderboards for v in snap.book.versions if in_force(v.plan, period)), metric
    )


BOARDS_KEPT = 64
"""Boards remembered per snapshot: every reader of a board at a log position shares it."""

_boards: OrderedDict[tuple[int, str, str, str], tuple[weakref.ref[Snapshot], list[Standing]]]
_boards = OrderedDict()
_boards_lock = threading.Lock()


def standings_of(snap: Snapshot, metric: Metric, period: Period, scope: str) -> list[Standing]:
    """The board's standings (as ``domain.leaderboards`` ranks them) for this snapshot,
    computed once per snapshot and board: a board does not depend on who reads it, and a
    snapshot is replaced, never changed, when the log moves."""
    key = (id(snap), metric.value, str(period), scope)
    with _boards_lock:
        found = _boards.get(key)
        if found is not None and found[0]() is snap:
            _boards.move_to_end(key)
            return found[1]
    standings = leaderboard(snap.facts, snap.book, metric, period, scope)
    with _boards_lock:
        _boards[key] = (weakref.ref(snap), standings)
        while len(_boards) > BOARDS_KEPT:
            _boards.popitem(last=False)
    return standings


def carry_boards(old: Snapshot, new: Snapshot, since: date) -> None:
    """Let a new snapshot share the boards of the old one that the events folded between
    them cannot change: those of periods ending before ``since`` (see
    ``services.engine.changed_from``; a board also reads the period before its own, which
    ends earlier still)."""
    with _boards_lock:
        for (held, metric, period, scope), (ref, standings) in list(_boards.items()):
            if held == id(old) and ref() is old and Period.parse(period).end < since:
                _boards[(id(new), metric, period, scope)] = (weakref.ref(new), standings)
        while len(_boards) > BOARDS_KEPT:
            _boards.popitem(last=False)


def board(
    snap: Snapshot, viewer: Viewer | None, metric: Metric, period: Period, scope: str = "company"
) -> ShownBoard:
    """The board of a metric, scope and period as the viewer may see it (``None``: a reader
    of no one's pay, such as an office screen). An unknown scope, or a board the period
    cannot have, raises ``LeaderboardInvalid`` naming the parameter."""
    members(snap.facts, scope, period)  # an unknown scope first, naming it
    standings = standings_of(snap, metric, period, scope)
    policy = board_policy(snap, metric, period)
    day = visibility.figure_day(period)
    rows = [
        ShownStanding(
            rank=s.rank,
            rep_id=s.rep_id,
            name=s.name,
            value=s.value
            if visibility.shows_value(viewer, s.rep_id, snap.facts, day, metric, policy)
            else None,
            reached_at=s.reached_at,
            previous_rank=s.previous_rank,
            movement=s.movement,
        )
        for s in standings
    ]
    currency = snap.book.versions[0].plan.currency if snap.book.versions else None
    return ShownBoard(metric, scope, period, policy, currency, rows)


def scopes(facts: Facts) -> list[str]:
    """The scopes a board can be drawn for: the company, every team, every territory."""
    teams = sorted({p.team for r in facts.reps.values() for p in r.placements if p.team})
    return [
        "company",
        *(f"team:{t}" for t in teams),
        *(f"territory:{t}" for t in sorted(facts.territories)),
    ]


def board_day(snap: Snapshot, today: date) -> date:
    """The day a board of "this period" stands on: today, or the last day of the latest
    plan period with data when the store holds only the past (a demo, an archive)."""
    periods = snap.book.periods(snap.facts)
    return min(today, periods[-1].end) if periods else today


@dataclass(frozen=True)
class HeldBadge:
    """A badge a rep holds, the day it was earned, the events that earned it, and the plan
    version whose rule awarded it."""

    badge_id: str
    name: str
    earned_on: date
    scope: str
    plan_id: str
    plan_version: int
    event_ids: tuple[str, ...]


def held_badges(snap: Snapshot, rep_id: str, day: date) -> list[HeldBadge]:
    """The badges a rep holds on a day under every gamified plan version covering them
    (recomputed from the facts: a clawback that removes a badge's basis removes it). The
    caller checks visibility first."""
    return [
        HeldBadge(
            b.badge_id,
            b.name,
            b.earned_on,
            b.scope,
            version.plan.plan_id,
            version.plan.version,
            b.event_ids,
        )
        for version in snap.book.gamified_for(
            snap.facts, rep_id, Period.containing(day, PeriodKind.DAY)
        )
        for b in badges(snap.facts, version, rep_id, day)
    ]
