"""Deal filters: whether a won deal (or one of its product lines) satisfies a component's
conditions (one test per operator)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from incentive_engine.domain.events import DealLine
from incentive_engine.domain.facts import Deal
from incentive_engine.domain.handlers import check_handlers
from plans.model import LINE_FIELDS, Condition, DealField, Operator

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

_WHOLE_DEAL: Any = object()
"""``line`` when a filter tests the whole deal (its product conditions: any one line)."""


def matches(
    deal: Deal,
    conditions: Sequence[Condition],
    amount: Decimal | None = None,
    *,
    line: DealLine | None = _WHOLE_DEAL,
    lines: Sequence[DealLine] | None = None,
) -> bool:
    """Whether a won deal satisfies every condition of a filter (``amount`` is the deal amount
    to test, by default the amount after every amendment).

    Conditions on product_id and product_category test product lines: given ``line`` (None
    for a deal without lines, tested as one line with no product), that line, and
    ``product_group`` the line's group (else the deal's); otherwise some one line of
    ``lines`` (by default the deal's current lines) must satisfy all of them."""
    won = deal.won
    if won is None:
        return False
    attributes = deal.attributes
    per_line = line is not _WHOLE_DEAL
    on_lines = []
    for c in conditions:
        actual: Any
        if c.field in LINE_FIELDS or (per_line and c.field is DealField.PRODUCT_GROUP):
            on_lines.append(c)
            continue
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
    if not on_lines:
        return True
    if per_line:
        return _line_matches(line, on_lines, attributes.get("product_group"))
    candidates: Sequence[DealLine | None] = (lines if lines is not None else deal.lines) or (None,)
    return any(_line_matches(ln, on_lines, None) for ln in candidates)


def _line_matches(line: DealLine | None, conditions: Sequence[Condition], group: Any) -> bool:
    """Whether one product line (None: a deal without lines) satisfies line conditions."""
    for c in conditions:
        if c.field is DealField.PRODUCT_GROUP:
            actual = (line.product_group if line is not None else None) or group
        elif line is None:
            actual = None
        else:
            actual = line.product_id if c.field is DealField.PRODUCT_ID else line.product_category
        if not OPERATORS[c.op](actual, c.value):
            return False
    return True
