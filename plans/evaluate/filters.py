"""Deal filters: whether a won deal satisfies a component's conditions (one test per operator)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from incentive_engine.domain.facts import Deal
from incentive_engine.domain.handlers import check_handlers
from plans.model import Condition, DealField, Operator

OPERATORS: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQ: lambda actual, value: bool(actual == value),
    Operator.NE: lambda actual, value: bool(actual != value),
    Operator.IN: lambda actual, value: actual in value,
    Operator.NOT_IN: lambda actual, value: actual not in value,
    Operator.GTE: lambda actual, value: actual is not None and actual >= value,
    Operator.LTE: lambda actual, value: actual is not None and actual <= value,
}
"""How each filter operator tests a deal's value against the condition's value."""

check_handlers(OPERATORS, Operator, "filter operators")


def matches(deal: Deal, conditions: Sequence[Condition], amount: Decimal | None = None) -> bool:
    """Whether a won deal satisfies every condition of a filter (``amount`` is the deal amount
    to test, by default the amount after every amendment)."""
    won = deal.won
    if won is None:
        return False
    attributes = deal.attributes
    for c in conditions:
        actual: Any
        if c.field is DealField.NEW_CUSTOMER:
            actual = won.customer.is_new
        elif c.field is DealField.LEAD_SOURCE:
            actual = won.lead_source.value if won.lead_source else None
        elif c.field is DealField.AMOUNT:
            actual = deal.amount if amount is None else amount
        else:
            actual = attributes.get(c.field.value)
        if not OPERATORS[c.op](actual, c.value):
            return False
    return True
