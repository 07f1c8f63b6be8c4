"""The one visibility rule of pay, on the reporting lines of the day a figure concerns."""

from __future__ import annotations

from datetime import date

import pytest

from api.auth import Principal
from api.auth import Role as ApiRole
from incentive_engine.domain.errors import Forbidden
from incentive_engine.domain.events import RepTransferred
from incentive_engine.domain.facts import Facts, fold
from incentive_engine.domain.periods import Period
from incentive_engine.domain.visibility import (
    Figure,
    Role,
    Viewer,
    check,
    figure_day,
    manages,
    may_see,
    visible_reps,
)
from tests.factories import hired

BEFORE = date(2026, 3, 31)
"""A day when ``left`` still reported to ``mgr``."""
AFTER = date(2026, 6, 30)
"""A day after ``left`` moved to ``other``."""


def org() -> Facts:
    """boss > mgr > (an, left until 2026-04-01); other > left from then; chau alone."""
    return fold(
        [
            hired("boss", role="manager"),
            hired("mgr", role="manager", manager_id="boss"),
            hired("other", role="manager"),
            hired("an", manager_id="mgr"),
            hired("left", manager_id="mgr"),
            hired("chau"),
            RepTransferred(
                event_id="move-left",
                rep_id="left",
                effective_date=date(2026, 4, 1),
                team="Hà Nội 1",
                manager_id="other",
            ),
        ]
    )


FACTS = org()

CASES = [
    # viewer, rep, day, money, attainment
    (Viewer(Role.FINANCE, "fin"), "an", AFTER, True, True),
    (Viewer(Role.FINANCE, "fin"), "ghost", AFTER, True, True),
    (Viewer(Role.REP, "an"), "an", AFTER, True, True),  # own
    (Viewer(Role.REP, "an"), "chau", AFTER, False, False),  # another rep
    (Viewer(Role.REP, "ghost"), "an", AFTER, False, False),
    (Viewer(Role.MANAGER, "mgr"), "mgr", AFTER, True, True),  # own
    (Viewer(Role.MANAGER, "mgr"), "an", AFTER, True, True),  # report
    (Viewer(Role.MANAGER, "boss"), "an", AFTER, True, True),  # a report's report
    (Viewer(Role.MANAGER, "mgr"), "left", BEFORE, True, True),  # a report then
    (Viewer(Role.MANAGER, "mgr"), "left", AFTER, False, False),  # former report
    (Viewer(Role.MANAGER, "boss"), "left", AFTER, False, False),
    (Viewer(Role.MANAGER, "other"), "left", BEFORE, False, False),  # not yet theirs
    (Viewer(Role.MANAGER, "other"), "left", AFTER, True, True),
    (Viewer(Role.MANAGER, "mgr"), "chau", AFTER, False, False),  # never a report
    (Viewer(Role.MANAGER, "mgr"), "ghost", AFTER, False, False),  # nonexistent
    (Viewer(Role.MANAGER, "an"), "an", AFTER, True, True),
    # with the tiers they write, a rep's revenue and attainment are pay: plan admins see
    # neither (only quotas and aggregates)
    (Viewer(Role.PLAN_ADMIN, "pa"), "an", AFTER, False, False),
    (Viewer(Role.PLAN_ADMIN, "an"), "an", AFTER, False, False),
    (Viewer(Role.INTEGRATION, "crm"), "an", AFTER, False, False),
    (Viewer(Role.INTEGRATION, "an"), "an", AFTER, False, False),
]


@pytest.mark.parametrize(("viewer", "rep", "day", "money", "attained"), CASES)
def test_who_sees_whose_pay(
    viewer: Viewer, rep: str, day: date, money: bool, attained: bool
) -> None:
    assert may_see(viewer, rep, FACTS, day) is money
    assert may_see(viewer, rep, FACTS, day, Figure.ATTAINMENT) is attained
    if money:
        check(viewer, rep, FACTS, day)
    else:
        with pytest.raises(Forbidden):
            check(viewer, rep, FACTS, day)


def test_refusals_say_why_and_never_whether_the_rep_exists() -> None:
    with pytest.raises(Forbidden, match="the plan_admin role may not read points"):
        check(Viewer(Role.PLAN_ADMIN, "pa"), "an", FACTS, AFTER, "points")
    for rep in ("chau", "ghost"):
        with pytest.raises(Forbidden) as caught:
            check(Viewer(Role.MANAGER, "mgr"), rep, FACTS, AFTER)
        assert str(caught.value) == "you may not read this rep's pay"


def test_a_period_figure_is_decided_on_the_period_s_last_day() -> None:
    q1, q2 = Period.parse("2026-Q1"), Period.parse("2026-Q2")
    assert figure_day(q1) == BEFORE and figure_day(q2) == AFTER
    mgr = Viewer(Role.MANAGER, "mgr")
    assert may_see(mgr, "left", FACTS, figure_day(q1))
    assert not may_see(mgr, "left", FACTS, figure_day(q2))
    # the move is effective 2026-04-01: April's figures are no longer mgr's
    assert not may_see(mgr, "left", FACTS, figure_day(Period.parse("2026-04")))


def test_managing_is_being_above_never_oneself() -> None:
    mgr = Viewer(Role.MANAGER, "mgr")
    assert manages(mgr, "an", FACTS, AFTER) and not manages(mgr, "mgr", FACTS, AFTER)
    assert not manages(Viewer(Role.FINANCE, "fin"), "an", FACTS, AFTER)
    assert not manages(Viewer(Role.REP, "mgr"), "an", FACTS, AFTER)  # the role counts


def test_the_reps_each_viewer_sees() -> None:
    assert visible_reps(Viewer(Role.FINANCE, "fin"), FACTS, AFTER) is None
    assert visible_reps(Viewer(Role.PLAN_ADMIN, "pa"), FACTS, AFTER) == set()
    assert visible_reps(Viewer(Role.PLAN_ADMIN, "pa"), FACTS, AFTER, Figure.ATTAINMENT) == set()
    assert visible_reps(Viewer(Role.PLAN_ADMIN, "pa"), FACTS, AFTER, Figure.QUOTA) is None
    assert visible_reps(Viewer(Role.REP, "an"), FACTS, AFTER) == {"an"}
    assert visible_reps(Viewer(Role.MANAGER, "mgr"), FACTS, BEFORE) == {"mgr", "an", "left"}
    assert visible_reps(Viewer(Role.MANAGER, "mgr"), FACTS, AFTER) == {"mgr", "an"}
    assert visible_reps(Viewer(Role.INTEGRATION, "crm"), FACTS, AFTER) == set()


def test_the_api_s_roles_and_callers_are_the_domain_s() -> None:
    assert ApiRole is Role
    caller = Principal(Role.MANAGER, "mgr")
    assert isinstance(caller, Viewer) and may_see(caller, "an", FACTS, AFTER)
    assert Viewer("finance", "fin").role is Role.FINANCE  # a role given as text
