"""What if I close this deal? The estimator page: a form (a GET: an estimate is a read,
nothing is stored) whose result htmx swaps in without a reload, or the whole page answers
without JavaScript. The same service and visibility rule as ``POST /v1/reps/{rep}/what-if``:
a rep estimates their own pay, a manager their reports' too."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import NumberFormatError, parse_decimal
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import access
from api.auth import Principal
from api.deps import EngineDep
from api.web.charts import Chart, Series
from api.web.i18n import formatter
from api.web.render import page
from api.web.rep import OWN_PAGES, refused, today
from api.web.session import WebUser
from incentive_engine.domain.errors import EngineError, Forbidden
from incentive_engine.domain.estimates import Estimate
from incentive_engine.domain.vocabulary import CompanySize, CustomerType, Ownership
from incentive_engine.services.commissions import Snapshot
from incentive_engine.services.estimates import NEW_CUSTOMER, Choices, DealRequest, choices
from incentive_engine.services.estimates import estimate_deal as estimate_service

router = APIRouter(include_in_schema=False)

FIELDS = (
    "amount",
    "currency",
    "close_date",
    "product_group",
    "opportunity_id",
    "customer_id",
    "region",
    "customer_type",
    "industry",
    "size",
    "ownership",
)
"""The form's fields (query parameters), as the API's request names them."""

LABELS = {
    "amount": "Deal amount",
    "currency": "Currency",
    "close_date": "Close date",
    "product_group": "Product group",
    "opportunity_id": "Open opportunity",
    "customer_id": "Customer",
    "customer.region": "Region",
    "customer.industry": "Industry",
    "customer.customer_type": "Customer type",
    "customer.size": "Company size",
    "customer.ownership": "Ownership",
    "customer": "Customer",
    "rep": "Rep",
    "deal": "The deal",
}
"""The label of the field an error names (the service names customer dimensions as
``customer.region``...)."""

ONLY_OWN = "Only reps and managers have pay of their own."
"""Why other roles are refused (as the API's ``require(rep, manager)``)."""

PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class FormError:
    """A refusal of the form: the field it names (for the form's ``aria-invalid``) and why."""

    field: str
    message: str


def parse_amount(text: str, locale: str) -> Decimal | None:
    """An amount as typed: plain digits (``60000000``, ``1234.56``) or with the separators of
    the page's language (``60.000.000`` in vi, ``60,000,000`` in en); None if it is not one."""
    text = text.strip().replace(" ", "").replace("\u00a0", "").replace("_", "")
    if PLAIN_NUMBER.match(text):
        return Decimal(text)
    try:
        found = parse_decimal(text, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        return None
    return found if isinstance(found, Decimal) and found.is_finite() else None


def form_values(request: Request) -> dict[str, str]:
    """The form's fields as given (at most 500 characters each)."""
    query = request.query_params
    return {name: query.get(name, "").strip()[:500] for name in FIELDS}


def deal_request(values: dict[str, str], locale: str) -> DealRequest | FormError:
    """The service's request from the form's text, or the first field that does not parse."""
    amount = parse_amount(values["amount"], locale) if values["amount"] else None
    if amount is None:
        return FormError("amount", "Type the deal amount as a number, e.g. 60000000.")
    close: date | None = None
    if values["close_date"]:
        try:
            close = date.fromisoformat(values["close_date"])
        except ValueError:
            return FormError("close_date", "Give the close date as a day, e.g. 2026-03-31.")
    blank = {k: (v or None) for k, v in values.items()}
    if blank["customer_id"] == NEW_CUSTOMER:
        blank["customer_id"] = None
    return DealRequest(
        amount=amount,
        currency=blank["currency"],
        close_date=close,
        product_group=blank["product_group"],
        opportunity_id=blank["opportunity_id"],
        customer_id=blank["customer_id"],
        region=blank["region"],
        customer_type=blank["customer_type"],
        industry=blank["industry"],
        size=blank["size"],
        ownership=blank["ownership"],
    )


def component_chart(found: Estimate, before: str, after: str) -> Chart | None:
    """Pay per component before and after the deal (the first plan's currency)."""
    if not found.plans:
        return None
    currency = found.plans[0].after.currency
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for p in found.plans:
        if p.after.currency != currency:
            continue
        for component, (was, now) in p.subtotals().items():
            old = totals.get(component, (Decimal(0), Decimal(0)))
            totals[component] = (old[0] + was, old[1] + now)
    labels = list(totals)
    return Chart(
        "bar",
        labels,
        [
            Series(before, [totals[c][0] for c in labels]),
            Series(after, [totals[c][1] for c in labels]),
        ],
        unit="money",
        currency=currency,
    )


def prefill(values: dict[str, str], form: Choices, day: date) -> dict[str, str]:
    """The form's values with blanks filled: an opportunity's amount, product group and
    currency; the plan's currency; today as the close date; the first known dimensions."""
    filled = dict(values)
    chosen = next((o for o in form.opportunities if o.deal_id == values["opportunity_id"]), None)
    if chosen is not None:
        filled["amount"] = filled["amount"] or str(chosen.amount.normalize().quantize(1))
        filled["product_group"] = filled["product_group"] or chosen.product_group
        filled["currency"] = filled["currency"] or chosen.currency
    filled["currency"] = filled["currency"] or form.currency or "VND"
    filled["close_date"] = filled["close_date"] or day.isoformat()
    filled["customer_id"] = filled["customer_id"] or NEW_CUSTOMER
    filled["customer_type"] = filled["customer_type"] or CustomerType.BUSINESS.value
    for name, words in (("region", form.words.regions), ("industry", form.words.industries)):
        filled[name] = filled[name] or (words[0] if words else "")
    if not filled["product_group"] and form.words.product_groups:
        filled["product_group"] = form.words.product_groups[0]
    return filled


def subject_of(request: Request, who: Principal) -> str:
    """Whose pay the estimate is of: the ``rep`` asked for, else the signed-in person's."""
    asked = request.query_params.get("rep", "").strip()[:128]
    return asked or who.subject


def run(
    request: Request, snap: Snapshot, who: Principal, rep: str, values: dict[str, str]
) -> tuple[Estimate | None, FormError | None]:
    """The estimate of the form's deal, or the error to show beside the field."""
    fmt = formatter(request)
    ask = deal_request(values, fmt.locale)
    if isinstance(ask, FormError):
        return None, FormError(ask.field, fmt.gettext(ask.message))
    try:
        found = estimate_service(
            snap, who, rep, ask, today=today(request), settings=request.app.state.settings
        )
    except Forbidden:
        raise
    except EngineError as exc:
        return None, FormError(exc.field or "deal", str(exc))
    access.record(request, who, "what-if", rep, str(found.period))
    return found, None


def result_context(request: Request, found: Estimate | None) -> dict[str, Any]:
    """What the result fragment shows: the estimate and its chart."""
    fmt = formatter(request)
    chart = (
        component_chart(found, fmt.gettext("Now"), fmt.gettext("With the deal"))
        if found is not None
        else None
    )
    return {"estimate": found, "chart": chart}


def form_context(
    request: Request, snap: Snapshot, who: Principal, rep: str
) -> dict[str, Any] | Response:
    """The form's choices and values for the rep (or the 403 page)."""
    values = form_values(request)
    day = today(request)
    if values["close_date"]:
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(values["close_date"])
    try:
        form = choices(snap, who, rep, day)
    except Forbidden as exc:
        return refused(request, who, str(exc))
    return {
        "rep": rep,
        "form": form,
        "values": prefill(values, form, today(request)),
        "labels": LABELS,
        "sizes": [s.value for s in CompanySize],
        "ownerships": [o.value for o in Ownership],
        "customer_types": [t.value for t in CustomerType],
        "new_customer": NEW_CUSTOMER,
    }


@router.get("/what-if")
def what_if_page(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The estimator: the form, and the estimate when the form was sent (no JavaScript)."""
    rep = subject_of(request, who)
    if who.role not in OWN_PAGES:
        return refused(request, who, ONLY_OWN)
    snap = engine.snapshot()
    context = form_context(request, snap, who, rep)
    if isinstance(context, Response):
        return context
    found, error = None, None
    if request.query_params.get("amount") is not None:
        try:
            found, error = run(request, snap, who, rep, context["values"])
        except Forbidden as exc:
            return refused(request, who, str(exc))
    status = 422 if error is not None else 200
    return page(
        request,
        "what_if.html",
        who,
        status,
        error=error,
        **context,
        **result_context(request, found),
    )


@router.get("/what-if/result")
def what_if_result(request: Request, engine: EngineDep, who: WebUser) -> Response:
    """The estimate of the form's deal (an htmx fragment)."""
    rep = subject_of(request, who)
    if who.role not in OWN_PAGES:
        return refused(request, who, ONLY_OWN)
    snap = engine.snapshot()
    try:
        found, error = run(request, snap, who, rep, form_values(request))
    except Forbidden as exc:
        return refused(request, who, str(exc))
    status = 422 if error is not None else 200
    return page(
        request,
        "fragments/what_if_result.html",
        who,
        status,
        rep=rep,
        error=error,
        labels=LABELS,
        **result_context(request, found),
    )
