"""The event catalogue: one frozen pydantic model per business fact the engine records.

Every event carries a source-assigned ``event_id`` (the idempotency key), its ``type``,
a ``schema_version`` and an effective time (a date, or a datetime in UTC) that decides
which period it belongs to.  Events are facts, never derived numbers.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, localcontext
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError, to_jsonable_python

from incentive_engine.domain import limits
from incentive_engine.domain.limits import as_utc, check_day
from incentive_engine.domain.money import check_currency
from incentive_engine.domain.periods import Period
from incentive_engine.domain.vocabulary import (
    ActivityKind as ActivityKind,
)
from incentive_engine.domain.vocabulary import (
    CompanySize as CompanySize,
)
from incentive_engine.domain.vocabulary import (
    CustomerType as CustomerType,
)
from incentive_engine.domain.vocabulary import (
    DisputeOutcome as DisputeOutcome,
)
from incentive_engine.domain.vocabulary import (
    LeadSource as LeadSource,
)
from incentive_engine.domain.vocabulary import (
    Ownership as Ownership,
)
from incentive_engine.domain.vocabulary import (
    QuotaSubject as QuotaSubject,
)
from incentive_engine.domain.vocabulary import (
    Role as Role,
)
from incentive_engine.domain.vocabulary import (
    Stage as Stage,
)

# --------------------------------------------------------------------------- types


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _period(text: str, info: ValidationInfo) -> str:
    period = Period.parse(text)
    check_day(period.start, info)
    return str(period)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.ID_MAX_LENGTH, pattern=limits.ID_PATTERN),
]
"""An identifier assigned by the source system: 1..128 printable characters, no whitespace,
no control, format (zero-width, bidi), surrogate or unassigned character (see ``limits``)."""
Text = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.TEXT_MAX_LENGTH, pattern=limits.TEXT_PATTERN),
    AfterValidator(_nfc),
]
"""Free text, Unicode-normalised (NFC) so Vietnamese text compares equal however typed; no
control character other than tab and line breaks, no bidi control."""
Amount = Annotated[
    Decimal,
    Field(
        ge=0,
        allow_inf_nan=False,
        max_digits=limits.AMOUNT_MAX_DIGITS,
        decimal_places=limits.AMOUNT_DECIMALS,
    ),
]
"""A non-negative money amount, exact: at most 18 digits before the point and 6 after."""
Currency = Annotated[str, BeforeValidator(_upper), AfterValidator(check_currency)]
"""An ISO 4217 currency code the engine knows (see ``money.MINOR_UNITS``)."""
Percent = Annotated[
    Decimal, Field(gt=0, le=100, allow_inf_nan=False, decimal_places=limits.AMOUNT_DECIMALS)
]
"""A share in percent, above 0 and at most 100."""
Signed = Annotated[
    Decimal,
    Field(
        allow_inf_nan=False,
        max_digits=limits.AMOUNT_MAX_DIGITS,
        decimal_places=limits.AMOUNT_DECIMALS,
    ),
]
"""An exact amount that may be negative (adjustments), bounded as ``Amount``."""
Day = Annotated[date, AfterValidator(check_day)]
"""A date inside the configured window (default 2000-01-01..2100-12-31)."""
UtcDateTime = Annotated[datetime, AfterValidator(as_utc), AfterValidator(check_day)]
"""A datetime in UTC (naive input is read as UTC), inside the date window."""
PeriodName = Annotated[str, AfterValidator(_period)]
"""A period name: ``2026-01``, ``2026-Q1`` or ``2026``, starting inside the date window."""
Counter = Annotated[int, Field(ge=1, le=limits.MAX_VERSION)]
"""A plan version or a line number: 1..1,000,000."""


# ----------------------------------------------------------------- value objects


class Value(BaseModel):
    """Base of the small value objects nested inside events."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True
    )


class Customer(Value):
    """The customer of a deal or opportunity, with the dimensions territories use."""

    customer_id: Id
    name: Text | None = None
    region: Text
    customer_type: CustomerType
    industry: Text
    size: CompanySize | None = None
    ownership: Ownership | None = None
    is_new: bool = False


class Share(Value):
    """One rep's share (in percent) of a deal's credit or of a territory."""

    rep_id: Id
    share: Percent


def _check_shares(shares: tuple[Share, ...] | None, what: str) -> None:
    if not shares:
        return
    total = sum((s.share for s in shares), Decimal(0))
    if total != 100:
        raise ValueError(f"{what} shares sum to {total} %, they must sum to exactly 100 %")
    reps = [s.rep_id for s in shares]
    if len(set(reps)) != len(reps):
        raise ValueError(f"{what} names a rep more than once: {sorted(reps)}")


MAX_DEAL_LINES = 500
"""The most product lines a deal may carry."""

Quantity = Annotated[
    Decimal,
    Field(
        gt=0,
        allow_inf_nan=False,
        max_digits=limits.AMOUNT_MAX_DIGITS,
        decimal_places=limits.AMOUNT_DECIMALS,
    ),
]
"""A quantity above zero, exact (fractions allowed: hours, kilograms)."""


class DealLine(Value):
    """One product line of a won deal, in the deal's currency: ``amount`` must be exactly
    ``quantity x unit_price - discount`` (the discount is an amount for the whole line)."""

    product_id: Id = Field(description="The product (SKU) sold on this line.")
    product_category: Text = Field(description="The product's category (what plans filter on).")
    product_group: Text | None = Field(
        None, description="The line's product group, when it differs from the deal's."
    )
    quantity: Quantity = Field(description="How many units, above zero.")
    unit_price: Amount = Field(description="The price of one unit, before the discount.")
    discount: Amount | None = Field(
        None,
        description="An amount (not a percent) taken off the whole line; none means 0.",
    )
    amount: Amount = Field(description="quantity x unit_price - discount, exactly.")
    cost: Amount | None = Field(
        None, description="What the line costs the company; margin = amount - cost."
    )
    currency: Currency | None = Field(
        None, description="If given, must be the deal's currency (lines are never converted)."
    )

    @model_validator(mode="after")
    def _amount_adds_up(self) -> DealLine:
        with localcontext() as exact:
            exact.prec = 2 * limits.AMOUNT_MAX_DIGITS + 2  # a product of two bounded amounts
            expected = self.quantity * self.unit_price - (self.discount or Decimal(0))
        if expected < 0:
            raise ValueError(
                f"discount {self.discount} is more than quantity x unit_price "
                f"({self.quantity * self.unit_price})"
            )
        if self.amount != expected:
            raise ValueError(
                f"amount {self.amount} is not quantity x unit_price - discount = "
                f"{self.quantity} x {self.unit_price} - {self.discount or 0} = {expected}"
            )
        return self

    @property
    def margin(self) -> Decimal | None:
        """Gross margin, amount - cost (None without a cost)."""
        return None if self.cost is None else self.amount - self.cost


def _check_lines(
    lines: tuple[DealLine, ...] | None, info: ValidationInfo
) -> tuple[DealLine, ...] | None:
    """Lines sum exactly to the event's amount and are in its currency (``amount`` and
    ``currency`` are validated before ``lines``: absent when they failed)."""
    if lines is None:
        return None
    if not lines:
        raise ValueError("a deal's lines, when given, hold at least one line")
    currency = info.data.get("currency")
    for i, line in enumerate(lines):
        if currency is not None and line.currency is not None and line.currency != currency:
            raise ValueError(f"line {i} is in {line.currency}, the deal is in {currency}")
    amount = info.data.get("amount")
    total = sum((line.amount for line in lines), Decimal(0))
    if amount is not None and total != amount:
        raise ValueError(
            f"the line amounts sum to {total} ("
            + " + ".join(str(line.amount) for line in lines[:10])
            + (" + ..." if len(lines) > 10 else "")
            + f"), not to the deal amount {amount}: they must sum exactly to it"
        )
    return lines


Lines = Annotated[
    tuple[DealLine, ...] | None,
    Field(
        None,
        max_length=MAX_DEAL_LINES,
        json_schema_extra={"minItems": 1},
        description=(
            "The deal's product lines (1 to 500), in its currency; their amounts sum "
            "exactly to the deal amount.  Plans may filter on product_id and product_category "
            "and pay per line (measure line_amount) or on margin."
        ),
    ),
    AfterValidator(_check_lines),
]
"""A deal's product lines (see ``DealLine``)."""


class TerritoryCriteria(Value):
    """The dimension values a deal must match to fall in a territory (unset = any)."""

    region: Text | None = None
    customer_type: CustomerType | None = None
    industry: Text | None = None
    size: CompanySize | None = None
    ownership: Ownership | None = None
    product_group: Text | None = None


# ------------------------------------------------------------------------ events


class Event(BaseModel):
    """Base of every event: identity, type, schema version and effective time."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True
    )

    EFFECTIVE: ClassVar[str]
    """Name of the field that holds the event's effective time."""
    REPS: ClassVar[tuple[str, ...]] = ()
    """Names of the fields that hold rep ids (used for filtering and references)."""

    event_id: Id
    schema_version: Literal[1] = 1

    @cached_property
    def canonical(self) -> bytes:
        """The content as canonical JSON bytes, computed once (the event is immutable): the
        idempotency hash and the stored record are both made from it."""
        return orjson.dumps(
            self.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS
        )

    @cached_property
    def digest(self) -> str:
        """The ``sha256:`` hash of the canonical content (see ``event_hash``)."""
        return "sha256:" + hashlib.sha256(self.canonical).hexdigest()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (with updated fields): never carries the original's cached content."""
        copy = super().model_copy(update=update, deep=deep)
        for cached in ("canonical", "digest"):
            copy.__dict__.pop(cached, None)
        return copy

    @property
    def effective(self) -> date | datetime:
        """The event's effective time as given: a date or a UTC datetime."""
        value: date | datetime = getattr(self, self.EFFECTIVE)
        return value

    @property
    def effective_at(self) -> datetime:
        """The effective time as a UTC datetime (a date means its midnight UTC)."""
        value = self.effective
        if isinstance(value, datetime):
            return value
        return datetime.combine(value, time(0), tzinfo=UTC)

    @property
    def effective_day(self) -> date:
        """The effective day (UTC)."""
        value = self.effective
        return value.date() if isinstance(value, datetime) else value

    def rep_ids(self) -> tuple[str, ...]:
        """Every rep the event names, in a stable order."""
        found: list[str] = []
        for name in self.REPS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str):
                found.append(value)
            else:
                found.extend(s.rep_id for s in value)
        return tuple(dict.fromkeys(found))


# org ------------------------------------------------------------------------


class RepHired(Event):
    """A person joins the sales organisation."""

    EFFECTIVE = "hire_date"
    REPS = ("rep_id", "manager_id")
    type: Literal["RepHired"] = "RepHired"
    rep_id: Id
    name: Text
    team: Text
    manager_id: Id | None = None
    role: Role = Role.REP
    hire_date: Day
    email: Text | None = None


class RepTransferred(Event):
    """A rep moves to another team, manager or role from an effective date."""

    EFFECTIVE = "effective_date"
    REPS = ("rep_id", "manager_id")
    type: Literal["RepTransferred"] = "RepTransferred"
    rep_id: Id
    effective_date: Day
    team: Text
    manager_id: Id | None = None
    role: Role | None = None


class RepTerminated(Event):
    """A rep leaves; their last working day is the termination date."""

    EFFECTIVE = "termination_date"
    REPS = ("rep_id",)
    type: Literal["RepTerminated"] = "RepTerminated"
    rep_id: Id
    termination_date: Day
    reason: Text | None = None


# deals ----------------------------------------------------------------------


class OpportunityCreated(Event):
    """An opportunity enters the pipeline; if won it becomes the deal with the same id."""

    EFFECTIVE = "created_date"
    REPS = ("rep_id",)
    type: Literal["OpportunityCreated"] = "OpportunityCreated"
    deal_id: Id
    rep_id: Id
    created_date: Day
    stage: Stage = Stage.PROSPECT
    amount: Amount
    currency: Currency
    expected_close_date: Day | None = None
    product_group: Text
    customer: Customer
    lead_id: Id | None = None
    lead_source: LeadSource | None = None


class OpportunityStageChanged(Event):
    """An opportunity moves to another stage of the pipeline."""

    EFFECTIVE = "changed_date"
    type: Literal["OpportunityStageChanged"] = "OpportunityStageChanged"
    deal_id: Id
    stage: Stage
    changed_date: Day


class DealWon(Event):
    """A deal is won.  Credit goes to ``splits``, else ``rep_id``, else the territory owner."""

    EFFECTIVE = "close_date"
    REPS = ("rep_id", "splits")
    type: Literal["DealWon"] = "DealWon"
    deal_id: Id
    rep_id: Id | None = None
    splits: tuple[Share, ...] | None = None
    amount: Amount
    currency: Currency
    close_date: Day
    product_group: Text
    customer: Customer
    lead_source: LeadSource | None = None
    lines: Lines = None

    @model_validator(mode="after")
    def _splits_sum_to_100(self) -> DealWon:
        _check_shares(self.splits, "credit split")
        return self


class DealLost(Event):
    """An opportunity is lost, with the reason."""

    EFFECTIVE = "lost_date"
    type: Literal["DealLost"] = "DealLost"
    deal_id: Id
    lost_date: Day
    reason: Text


class DealAmended(Event):
    """A won deal's amount (and optionally its credit splits) changes from a date.  With
    ``lines``, the deal's product lines are replaced by these (they sum to the new amount);
    without, the previous lines stand, scaled in proportion to the new amount."""

    EFFECTIVE = "amended_date"
    REPS = ("splits",)
    type: Literal["DealAmended"] = "DealAmended"
    deal_id: Id
    amended_date: Day
    amount: Amount
    currency: Currency
    splits: tuple[Share, ...] | None = None
    reason: Text
    lines: Lines = None

    @model_validator(mode="after")
    def _splits_sum_to_100(self) -> DealAmended:
        _check_shares(self.splits, "credit split")
        return self


class DealCancelled(Event):
    """A won deal is cancelled (subject to the plan's clawback window)."""

    EFFECTIVE = "cancelled_date"
    type: Literal["DealCancelled"] = "DealCancelled"
    deal_id: Id
    cancelled_date: Day
    reason: Text


# invoices and payments ------------------------------------------------------


class InvoiceIssued(Event):
    """An invoice for (part of) a won deal is issued: what a plan with ``earn_on: invoice``
    earns, in the period of the issue date, pro rata to the deal's amount.  It is in the
    deal's currency, and a deal's open invoices never add up to more than its amount
    (both checked at ingest)."""

    EFFECTIVE = "issued_date"
    type: Literal["InvoiceIssued"] = "InvoiceIssued"
    invoice_id: Id = Field(description="The invoice's id in the billing system (unique).")
    deal_id: Id = Field(description="The won deal the invoice bills.")
    amount: Amount = Field(description="The amount invoiced, in the deal's currency.")
    currency: Currency = Field(description="The deal's currency.")
    issued_date: Day = Field(description="The day the invoice is issued (its period earns it).")
    due_date: Day | None = Field(None, description="The day payment is due (informative).")

    @model_validator(mode="after")
    def _due_after_issue(self) -> InvoiceIssued:
        if self.due_date is not None and self.due_date < self.issued_date:
            raise ValueError(f"due_date {self.due_date} is before issued_date {self.issued_date}")
        if self.amount == 0:
            raise ValueError("an invoice of 0 bills nothing")
        return self


class InvoiceCancelled(Event):
    """An issued invoice is cancelled (a credit note): under ``earn_on: invoice`` it no
    longer earns the part not paid on it, subject to the plan's clawback window (counted from
    the issue date); payments received on it stay earned.  No payment may name it after."""

    EFFECTIVE = "cancelled_date"
    type: Literal["InvoiceCancelled"] = "InvoiceCancelled"
    invoice_id: Id = Field(description="The cancelled invoice.")
    cancelled_date: Day = Field(description="The day the invoice is cancelled.")
    reason: Text = Field(description="Why it is cancelled.")


class PaymentReceived(Event):
    """Cash received from the customer for a won deal, against one of its invoices or the
    deal itself: what a plan with ``earn_on: payment`` earns, in the period of the received
    date, pro rata to the deal's amount.  A payment in another currency than the deal's counts
    at the ``FxRateSet`` rate of the received date.  Payments never add up to more than the
    invoice (or the deal) they pay: an overpayment is refused at ingest."""

    EFFECTIVE = "received_date"
    type: Literal["PaymentReceived"] = "PaymentReceived"
    payment_id: Id = Field(description="The payment's id in the billing system (unique).")
    invoice_id: Id | None = Field(None, description="The invoice paid (its deal is paid).")
    deal_id: Id | None = Field(
        None, description="The deal paid (with invoice_id, it must be the invoice's deal)."
    )
    amount: Amount = Field(description="The amount received, in ``currency``.")
    currency: Currency = Field(
        description="The currency received; another than the deal's converts at the "
        "FxRateSet rate of the received date."
    )
    received_date: Day = Field(description="The day the cash arrives (its period earns it).")

    @model_validator(mode="after")
    def _pays_something(self) -> PaymentReceived:
        if self.invoice_id is None and self.deal_id is None:
            raise ValueError("a payment names the invoice_id or the deal_id it pays")
        if self.amount == 0:
            raise ValueError("a payment of 0 pays nothing")
        return self


class PaymentRefunded(Event):
    """Cash given back to the customer on a received payment: under ``earn_on: payment`` it
    takes back what it refunds, in the period of the refund date.  In the payment's
    currency, never more than what is left of the payment (checked at ingest)."""

    EFFECTIVE = "refunded_date"
    type: Literal["PaymentRefunded"] = "PaymentRefunded"
    refund_id: Id = Field(description="The refund's id in the billing system (unique).")
    payment_id: Id = Field(description="The payment refunded.")
    amount: Amount = Field(description="The amount refunded, in the payment's currency.")
    currency: Currency = Field(description="The payment's currency.")
    refunded_date: Day = Field(description="The day the cash is given back.")
    reason: Text | None = Field(None, description="Why it is refunded.")

    @model_validator(mode="after")
    def _refunds_something(self) -> PaymentRefunded:
        if self.amount == 0:
            raise ValueError("a refund of 0 gives nothing back")
        return self


# territories and quotas -----------------------------------------------------


class TerritoryModelDefined(Event):
    """The values territories may use for the free-text dimensions, from a day on (customer
    type, size and ownership have fixed values).  Territory criteria outside the model are
    refused; deals outside it simply match no territory."""

    EFFECTIVE = "effective_date"
    type: Literal["TerritoryModelDefined"] = "TerritoryModelDefined"
    effective_date: Day
    regions: tuple[Text, ...] = Field(min_length=1)
    industries: tuple[Text, ...] = ()
    product_groups: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _no_repeats(self) -> TerritoryModelDefined:
        for name in ("regions", "industries", "product_groups"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a value more than once")
        return self

    def allowed(self, dimension: str) -> tuple[str, ...] | None:
        """The values allowed for a free-text dimension (None: any value, not modelled)."""
        values = {
            "region": self.regions,
            "industry": self.industries,
            "product_group": self.product_groups,
        }.get(dimension)
        return values or None


class TerritoryDefined(Event):
    """A territory is defined by criteria over any subset of the dimensions."""

    EFFECTIVE = "effective_date"
    type: Literal["TerritoryDefined"] = "TerritoryDefined"
    territory_id: Id
    name: Text
    criteria: TerritoryCriteria
    effective_date: Day


class _Ownership(Event):
    """Owners of a territory from an effective date (one rep, or several with shares)."""

    EFFECTIVE = "effective_date"
    REPS = ("owners",)
    SHORTHANDS: ClassVar[tuple[str, ...]] = ("rep_id",)
    """Input names the event accepts beside its fields (a mapping may fill them)."""
    territory_id: Id
    owners: tuple[Share, ...] = Field(min_length=1)
    effective_date: Day

    @model_validator(mode="before")
    @classmethod
    def _single_owner(cls, data: Any) -> Any:
        """Accept ``rep_id`` as shorthand for a single owner with 100 %."""
        if isinstance(data, dict) and "rep_id" in data and "owners" not in data:
            data = dict(data)
            data["owners"] = [{"rep_id": data.pop("rep_id"), "share": 100}]
        return data

    @model_validator(mode="after")
    def _shares_sum_to_100(self) -> _Ownership:
        _check_shares(self.owners, "territory owner")
        return self


class TerritoryAssigned(_Ownership):
    """A territory gets its owner(s) from an effective date."""

    type: Literal["TerritoryAssigned"] = "TerritoryAssigned"


class TerritoryReassigned(_Ownership):
    """A territory changes owner(s) from an effective date (which may be in the past)."""

    type: Literal["TerritoryReassigned"] = "TerritoryReassigned"
    reason: Text | None = None


class _Quota(Event):
    """A quota for a rep, team or territory and a period."""

    EFFECTIVE = "effective_date"
    subject: QuotaSubject = QuotaSubject.REP
    subject_id: Text
    """A rep id, a team name or a territory id, as ``subject`` says."""
    period: PeriodName
    amount: Amount
    currency: Currency
    effective_date: Day | None = None

    @model_validator(mode="after")
    def _effective_defaults_to_period_start(self) -> _Quota:
        if self.effective_date is None:
            object.__setattr__(self, "effective_date", Period.parse(self.period).start)
        return self

    def rep_ids(self) -> tuple[str, ...]:
        """The rep the quota is for, if it is a rep quota."""
        return (self.subject_id,) if self.subject is QuotaSubject.REP else ()


class QuotaSet(_Quota):
    """A quota is set for a period."""

    type: Literal["QuotaSet"] = "QuotaSet"


class QuotaChanged(_Quota):
    """A quota already set is changed, with the reason."""

    type: Literal["QuotaChanged"] = "QuotaChanged"
    reason: Text


# activity -------------------------------------------------------------------


class LeadCreated(Event):
    """A lead arrives from a source."""

    EFFECTIVE = "created_date"
    REPS = ("rep_id",)
    type: Literal["LeadCreated"] = "LeadCreated"
    lead_id: Id
    source: LeadSource
    created_date: Day
    rep_id: Id | None = None
    customer_id: Id | None = None
    region: Text | None = None


class LeadQualified(Event):
    """A lead is qualified."""

    EFFECTIVE = "qualified_date"
    REPS = ("rep_id",)
    type: Literal["LeadQualified"] = "LeadQualified"
    lead_id: Id
    qualified_date: Day
    rep_id: Id | None = None


class ActivityLogged(Event):
    """A rep's sales activity: a call (connected or not), meeting, email or demo."""

    EFFECTIVE = "occurred_at"
    REPS = ("rep_id",)
    type: Literal["ActivityLogged"] = "ActivityLogged"
    rep_id: Id
    kind: ActivityKind
    occurred_at: UtcDateTime
    customer_id: Id | None = None
    deal_id: Id | None = None


# plans and periods ----------------------------------------------------------


def content_hash(document: Any) -> str:
    """The ``sha256:`` hash of a JSON-able value's canonical form."""
    return "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()


class PlanVersionPublished(Event):
    """A plan version is published: its document, content hash and effective dates."""

    EFFECTIVE = "effective_from"
    type: Literal["PlanVersionPublished"] = "PlanVersionPublished"
    plan_id: Id
    version: Counter
    effective_from: Day
    effective_to: Day | None = None
    document: dict[str, Any]
    content_hash: str
    published_by: Text | None = None
    reason: Text | None = None
    """Why this version was published (left out of the canonical JSON when absent, so
    events stored before the field existed keep their hash)."""

    @model_validator(mode="after")
    def _hash_matches_document(self) -> PlanVersionPublished:
        actual = content_hash(self.document)
        if self.content_hash != actual:
            raise ValueError(
                f"content_hash {self.content_hash!r} does not match the document ({actual})"
            )
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    @model_validator(mode="after")
    def _document_is_a_plan(self) -> PlanVersionPublished:
        """The document is validated exactly as ``plan validate`` validates a file, and must
        name the plan id, version and effective dates the event carries, wherever the event
        comes from (a file, HTTP, Kafka, or the store itself when it is read back)."""
        from plans.documents import PlanError, plan_from_data  # plans import this module

        source = f"plan {self.plan_id} v{self.version}"
        try:
            plan = plan_from_data(self.document, source)
        except PlanError as exc:
            raise PydanticCustomError(
                "plan_document",
                "the plan document is not valid: {summary}",
                {
                    "summary": "; ".join(f"{path}: {reason}" for path, reason in exc.problems),
                    "problems": [[path, reason] for path, reason in exc.problems],
                },
            ) from None
        wrong = [
            (name, mine, theirs)
            for name, mine, theirs in (
                ("plan_id", self.plan_id, plan.plan_id),
                ("version", self.version, plan.version),
                ("effective_from", self.effective_from, plan.effective_from),
                ("effective_to", self.effective_to, plan.effective_to),
            )
            if mine != theirs
        ]
        if wrong:
            raise PydanticCustomError(
                "plan_document",
                "the event does not match its plan document: {summary}",
                {
                    "summary": "; ".join(
                        f"{n} is {m!s} but the document says {t!s}" for n, m, t in wrong
                    ),
                    "problems": [[n, f"is {m!s} but the document says {t!s}"] for n, m, t in wrong],
                    "event_fields": True,
                },
            )
        return self


AcceptanceHow = Literal["web", "api", "cli", "paper"]
"""How a plan acceptance was given: the rep on the web page or through the API, recorded by an
operator on the command line, or a paper signature recorded by finance."""


def acceptance_event_id(plan_id: str, version: int, rep_id: str) -> str:
    """The deterministic event id of a rep's acceptance of a plan version (one per rep and
    version): readable when it fits in an id, else a hash of the three."""
    readable = f"accept:{plan_id}:v{version}:{rep_id}"
    if len(readable) <= limits.ID_MAX_LENGTH:
        return readable
    digest = hashlib.sha256(f"{plan_id}\x00{version}\x00{rep_id}".encode()).hexdigest()
    return f"accept:sha256:{digest}"


class PlanAccepted(Event):
    """A rep accepts (acknowledges) a published plan version: on the web page, through the
    API, recorded by an operator on the command line, or a paper signature recorded by
    finance.  A rep accepts a version once; the version must cover the rep."""

    EFFECTIVE = "accepted_at"
    REPS = ("rep_id",)
    type: Literal["PlanAccepted"] = "PlanAccepted"
    rep_id: Id
    """The rep who accepts the plan version (a version that covers them)."""
    plan_id: Id
    """The plan accepted."""
    version: Counter
    """The plan version accepted (a published one)."""
    accepted_at: UtcDateTime
    """When the rep accepted (for a paper signature: the day signed, at midnight UTC)."""
    how: AcceptanceHow
    """How the acceptance was given: ``web``, ``api``, ``cli`` or ``paper``."""
    reference: Text | None = None
    """For a paper signature: where the signed copy is (a file name, a document number)."""
    recorded_by: Text | None = None
    """Who recorded the acceptance (the rep themself, or the finance user or operator who
    recorded a paper signature)."""

    @model_validator(mode="after")
    def _reference_is_for_paper(self) -> PlanAccepted:
        if self.reference is not None and self.how != "paper":
            raise PydanticCustomError(
                "acceptance", "a reference is given only for a paper signature (how: paper)"
            )
        return self


class PriorAdjustment(Value):
    """An adjustment paid in a period for an earlier, closed period."""

    period: PeriodName
    amount: Signed


class Payout(Value):
    """What a rep was paid for a period under one plan version, sealed at close."""

    rep_id: Id
    plan_id: Id
    version: Counter
    earned: Signed
    """The period's own lines (commission, bonuses, draw, manual adjustments)."""
    adjustments: tuple[PriorAdjustment, ...] = ()
    """Adjustments for earlier closed periods paid in this one."""
    total: Signed
    statement_hash: str

    @model_validator(mode="after")
    def _total_adds_up(self) -> Payout:
        expected = self.earned + sum((a.amount for a in self.adjustments), Decimal(0))
        if expected != self.total:
            raise ValueError(f"total {self.total} is not earned + adjustments ({expected})")
        return self


class PeriodClosed(Event):
    """Finance closes a period: what is paid is sealed and never rewritten.

    The one event that carries computed figures: the per-rep payouts and statement hashes
    as they were when the period was closed, so that later changes become adjustments."""

    EFFECTIVE = "closed_at"
    type: Literal["PeriodClosed"] = "PeriodClosed"
    period: PeriodName
    closed_at: UtcDateTime
    closed_by: Text | None = None
    payouts: tuple[Payout, ...] = ()
    statements_hash: str | None = None
    chain_position: int | None = Field(None, ge=0, le=limits.MAX_POSITION)
    """Position of the last event before the close, whose chain link is sealed here."""
    chain_link: str | None = None
    """The audit chain's link at ``chain_position``: the log up to it can no longer change."""
    checkpoint: int | None = Field(None, ge=1)
    """The signed checkpoint taken at ``chain_position`` just before the close: verification
    reports it missing if the read models and the checkpoint copies lose it."""
    integrity_override: Text | None = None
    """Why finance closed the period although the log failed verification (absent when it
    verified): the override is on record with the figures it sealed."""
    override_reason: Text | None = None
    """Why finance closed the period although blocking pre-close checks failed (absent when
    none failed, so that events without it keep their hash)."""
    overridden_checks: tuple[Id, ...] | None = None
    """The names of the blocking pre-close checks the override lifted (with the reason)."""

    @model_validator(mode="after")
    def _override_has_reason(self) -> Self:
        if (self.override_reason is None) != (not self.overridden_checks):
            raise ValueError(
                "an override of pre-close checks needs both its reason and the checks it lifts"
            )
        return self


class ManualAdjustment(Event):
    """Finance posts a one-off amount (positive or negative) on a rep's statement."""

    EFFECTIVE = "posted_date"
    REPS = ("rep_id",)
    type: Literal["ManualAdjustment"] = "ManualAdjustment"
    rep_id: Id
    period: PeriodName
    amount: Signed
    currency: Currency
    reason: Text
    posted_by: Text
    posted_date: Day


Rate = Annotated[
    Decimal,
    Field(
        gt=0,
        allow_inf_nan=False,
        max_digits=limits.RATE_INTEGER_DIGITS + limits.RATE_DECIMALS,
        decimal_places=limits.RATE_DECIMALS,
    ),
]
"""An exchange rate: how many units of the quote currency one unit of the base buys."""


class AdjustmentProposed(Event):
    """Finance (or the dispute workflow) proposes a manual adjustment on a rep's statement: it
    is paid only once a different finance user approves it (``AdjustmentApproved``).

    An amount in a currency the rep's plan does not pay states ``fx_rate`` and
    ``pay_currency``: it is paid as ``amount × fx_rate`` in ``pay_currency``, rounded once,
    half-up, to that currency's minor units (DESIGN §2.4)."""

    EFFECTIVE = "proposed_at"
    REPS = ("rep_id",)
    type: Literal["AdjustmentProposed"] = "AdjustmentProposed"
    rep_id: Id
    period: PeriodName
    amount: Signed
    currency: Currency
    fx_rate: Rate | None = None
    """Units of ``pay_currency`` per unit of ``currency`` (only when the two differ)."""
    pay_currency: Currency | None = None
    """The currency the rep's plan pays, when the amount is in another one."""
    reason: Text
    proposed_by: Text
    proposed_at: UtcDateTime
    dispute_id: Id | None = None
    """The dispute whose acceptance proposed this adjustment."""

    @model_validator(mode="after")
    def _conversion_is_complete(self) -> AdjustmentProposed:
        if (self.fx_rate is None) != (self.pay_currency is None):
            missing = "pay_currency" if self.pay_currency is None else "fx_rate"
            raise PydanticCustomError(
                "fx", "{missing} is required with an FX conversion", {"missing": missing}
            )
        if self.pay_currency is not None and self.pay_currency == self.currency:
            raise ValueError(f"the amount is already in {self.currency}: no fx_rate is needed")
        if self.amount == 0:
            raise ValueError("an adjustment of 0 pays nothing")
        return self

    @property
    def paid_currency(self) -> str:
        """The currency the adjustment is paid in."""
        return self.pay_currency or self.currency

    @property
    def paid_amount(self) -> Decimal:
        """The amount paid: converted at the stated rate and rounded once to the minor units
        of the paid currency, or the amount itself."""
        from incentive_engine.domain.money import round_money

        if self.fx_rate is None or self.pay_currency is None:
            return self.amount
        return round_money(self.amount * self.fx_rate, self.pay_currency)


class AdjustmentApproved(Event):
    """A finance user other than the proposer approves a proposed adjustment: from then on it
    is paid like a ``ManualAdjustment``.  ``single_approver`` marks a proposer approving their
    own proposal where the organisation allows it (``INCENTIVE_ADJUSTMENTS_SINGLE_APPROVER``)."""

    EFFECTIVE = "approved_at"
    type: Literal["AdjustmentApproved"] = "AdjustmentApproved"
    proposal_id: Id
    approved_by: Text
    approved_at: UtcDateTime
    single_approver: Literal[True] | None = None


class AdjustmentRejected(Event):
    """A finance user rejects a proposed adjustment, with the reason: it is never paid."""

    EFFECTIVE = "rejected_at"
    type: Literal["AdjustmentRejected"] = "AdjustmentRejected"
    proposal_id: Id
    rejected_by: Text
    reason: Text
    rejected_at: UtcDateTime


class DisputeRaised(Event):
    """A rep (or their manager, or finance) disputes one line of the rep's statement: the line
    as it stood when raised, and the amount expected instead."""

    EFFECTIVE = "raised_at"
    REPS = ("rep_id",)
    type: Literal["DisputeRaised"] = "DisputeRaised"
    dispute_id: Id
    rep_id: Id
    period: PeriodName
    line: Counter
    """The statement line's number."""
    plan_id: Id
    plan_version: Counter | None = None
    component: Text | None = None
    line_amount: Signed | None = None
    """The disputed line's amount when the dispute was raised."""
    reason: Text
    expected_amount: Signed
    currency: Currency
    attachment: (
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=200, pattern=limits.TEXT_PATTERN),
            AfterValidator(_nfc),
        ]
        | None
    ) = None
    """The name of a document the rep attaches (a file name or a reference; not its content)."""
    raised_by: Text
    raised_role: Text | None = None
    raised_at: UtcDateTime


class DisputeCommented(Event):
    """A comment on a dispute, by its rep, a manager or finance."""

    EFFECTIVE = "at"
    type: Literal["DisputeCommented"] = "DisputeCommented"
    dispute_id: Id
    author: Text
    role: Text
    comment: Annotated[
        str,
        StringConstraints(min_length=1, max_length=4000, pattern=limits.TEXT_PATTERN),
        AfterValidator(_nfc),
    ]
    at: UtcDateTime


class DisputeResolved(Event):
    """A dispute is resolved: accepted (with the manual adjustment that pays the difference)
    or rejected (with the reason)."""

    EFFECTIVE = "at"
    type: Literal["DisputeResolved"] = "DisputeResolved"
    dispute_id: Id
    outcome: DisputeOutcome
    reason: Text | None = None
    resolved_by: Text
    at: UtcDateTime
    adjustment_event_id: Id | None = None

    @model_validator(mode="after")
    def _outcome_is_complete(self) -> DisputeResolved:
        if self.outcome is DisputeOutcome.ACCEPTED and self.adjustment_event_id is None:
            raise ValueError("an accepted dispute names its adjustment_event_id")
        if self.outcome is DisputeOutcome.REJECTED:
            if self.reason is None:
                raise ValueError("a rejected dispute needs a reason")
            if self.adjustment_event_id is not None:
                raise ValueError("a rejected dispute has no adjustment")
        return self


class FxRateSet(Event):
    """The rate to convert one unit of ``base`` into ``quote`` on a date."""

    EFFECTIVE = "rate_date"
    type: Literal["FxRateSet"] = "FxRateSet"
    base: Currency
    quote: Currency
    rate: Annotated[
        Decimal,
        Field(
            gt=0,
            allow_inf_nan=False,
            max_digits=limits.RATE_INTEGER_DIGITS + limits.RATE_DECIMALS,
            decimal_places=limits.RATE_DECIMALS,
        ),
    ]
    rate_date: Day

    @model_validator(mode="after")
    def _two_currencies(self) -> FxRateSet:
        if self.base == self.quote:
            raise ValueError(f"base and quote are both {self.base}")
        return self


# voids ----------------------------------------------------------------------


class EventVoidProposed(Event):
    """Finance proposes to void a stored event (a bad or quarantined one): nothing changes
    until a different finance user approves (``EventVoidApproved``)."""

    EFFECTIVE = "proposed_at"
    type: Literal["EventVoidProposed"] = "EventVoidProposed"
    target_event_id: Id
    """The event to void."""
    reason: Text
    proposed_by: Text
    proposed_at: UtcDateTime


class EventVoidApproved(Event):
    """A second finance user approves a void proposal: from then on every figure is computed
    as if the target event had never been stored (closed periods get adjustments citing this
    event).  The approver must not be the proposer (the two-person rule)."""

    EFFECTIVE = "approved_at"
    type: Literal["EventVoidApproved"] = "EventVoidApproved"
    proposal_id: Id
    """The ``EventVoidProposed`` approved."""
    target_event_id: Id
    approved_by: Text
    approved_at: UtcDateTime


# ---------------------------------------------------------------- the catalogue

EVENT_TYPES: tuple[type[Event], ...] = (
    RepHired,
    RepTransferred,
    RepTerminated,
    OpportunityCreated,
    OpportunityStageChanged,
    DealWon,
    DealLost,
    DealAmended,
    DealCancelled,
    InvoiceIssued,
    InvoiceCancelled,
    PaymentReceived,
    PaymentRefunded,
    TerritoryModelDefined,
    TerritoryDefined,
    TerritoryAssigned,
    TerritoryReassigned,
    QuotaSet,
    QuotaChanged,
    LeadCreated,
    LeadQualified,
    ActivityLogged,
    PlanVersionPublished,
    PeriodClosed,
    ManualAdjustment,
    AdjustmentProposed,
    AdjustmentApproved,
    AdjustmentRejected,
    FxRateSet,
    DisputeRaised,
    DisputeCommented,
    DisputeResolved,
    EventVoidProposed,
    EventVoidApproved,
    PlanAccepted,
)
EVENT_CLASSES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_TYPES
}
"""Event classes by their ``type`` name."""

AnyEvent = Annotated[
    RepHired
    | RepTransferred
    | RepTerminated
    | OpportunityCreated
    | OpportunityStageChanged
    | DealWon
    | DealLost
    | DealAmended
    | DealCancelled
    | InvoiceIssued
    | InvoiceCancelled
    | PaymentReceived
    | PaymentRefunded
    | TerritoryModelDefined
    | TerritoryDefined
    | TerritoryAssigned
    | TerritoryReassigned
    | QuotaSet
    | QuotaChanged
    | LeadCreated
    | LeadQualified
    | ActivityLogged
    | PlanVersionPublished
    | PeriodClosed
    | ManualAdjustment
    | AdjustmentProposed
    | AdjustmentApproved
    | AdjustmentRejected
    | FxRateSet
    | DisputeRaised
    | DisputeCommented
    | DisputeResolved
    | EventVoidProposed
    | EventVoidApproved
    | PlanAccepted,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes: keys sorted, no whitespace, UTF-8 unescaped, Decimals and dates
    as text (the same bytes as ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``, made faster)."""
    return orjson.dumps(to_jsonable_python(value), option=orjson.OPT_SORT_KEYS)


def event_content(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready dict (Decimals as exact strings, dates as ISO text)."""
    return event.model_dump(mode="json", exclude_none=True)


def event_hash(event: Event) -> str:
    """The content hash of an event: equal content, equal hash (the idempotency check)."""
    return event.digest


def describe(event: Event) -> str:
    """A one-line human summary of an event, for listings."""
    from incentive_engine.domain.money import format_money

    match event:
        case RepHired():
            return f"{event.name} ({event.rep_id}) joins {event.team} as {event.role.value}"
        case RepTransferred():
            return f"{event.rep_id} moves to {event.team}"
        case RepTerminated():
            return f"{event.rep_id} leaves"
        case OpportunityCreated():
            money = format_money(event.amount, event.currency)
            return f"{event.deal_id} opened by {event.rep_id}, {money}, {event.stage.value}"
        case OpportunityStageChanged():
            return f"{event.deal_id} -> {event.stage.value}"
        case DealWon():
            money = format_money(event.amount, event.currency)
            who = event.rep_id or ("split" if event.splits else "territory")
            return f"{event.deal_id} won, {money}, {who}, {event.customer.region}"
        case DealLost():
            return f"{event.deal_id} lost: {event.reason}"
        case DealAmended():
            return f"{event.deal_id} amended to {format_money(event.amount, event.currency)}"
        case DealCancelled():
            return f"{event.deal_id} cancelled: {event.reason}"
        case InvoiceIssued():
            money = format_money(event.amount, event.currency)
            return f"invoice {event.invoice_id} for {event.deal_id}, {money}"
        case InvoiceCancelled():
            return f"invoice {event.invoice_id} cancelled: {event.reason}"
        case PaymentReceived():
            money = format_money(event.amount, event.currency)
            return f"payment {event.payment_id} of {money} for {event.invoice_id or event.deal_id}"
        case PaymentRefunded():
            money = format_money(event.amount, event.currency)
            return f"refund {event.refund_id} of {money} on payment {event.payment_id}"
        case TerritoryModelDefined():
            return (
                f"territory model: {len(event.regions)} regions, {len(event.industries)} industries"
            )
        case TerritoryDefined():
            return f"{event.territory_id} defined: {event.name}"
        case TerritoryAssigned() | TerritoryReassigned():
            owners = ", ".join(f"{s.rep_id} {s.share}%" for s in event.owners)
            return f"{event.territory_id} -> {owners}"
        case QuotaSet() | QuotaChanged():
            money = format_money(event.amount, event.currency)
            return f"{event.subject.value} {event.subject_id} {event.period}: {money}"
        case LeadCreated():
            return f"lead {event.lead_id} from {event.source.value}"
        case LeadQualified():
            return f"lead {event.lead_id} qualified"
        case ActivityLogged():
            return f"{event.rep_id} {event.kind.value}"
        case PlanVersionPublished():
            return f"plan {event.plan_id} v{event.version} from {event.effective_from}"
        case PeriodClosed():
            return f"period {event.period} closed ({len(event.payouts)} payouts)"
        case ManualAdjustment():
            money = format_money(event.amount, event.currency)
            return f"{event.rep_id} {event.period}: {money} ({event.reason})"
        case AdjustmentProposed():
            money = format_money(event.amount, event.currency)
            return f"{event.rep_id} {event.period}: {money} proposed by {event.proposed_by}"
        case AdjustmentApproved():
            return f"adjustment {event.proposal_id} approved by {event.approved_by}"
        case AdjustmentRejected():
            return f"adjustment {event.proposal_id} rejected by {event.rejected_by}"
        case FxRateSet():
            return f"1 {event.base} = {event.rate} {event.quote}"
        case DisputeRaised():
            money = format_money(event.expected_amount, event.currency)
            return (
                f"dispute {event.dispute_id}: {event.rep_id} {event.period} line {event.line}, "
                f"expects {money}"
            )
        case DisputeCommented():
            return f"dispute {event.dispute_id}: comment by {event.author}"
        case DisputeResolved():
            return f"dispute {event.dispute_id} {event.outcome.value} by {event.resolved_by}"
        case EventVoidProposed():
            return f"void of {event.target_event_id} proposed by {event.proposed_by}"
        case EventVoidApproved():
            return f"void of {event.target_event_id} approved by {event.approved_by}"
        case PlanAccepted():
            return f"{event.rep_id} accepted plan {event.plan_id} v{event.version} ({event.how})"
    return event.__class__.__name__


def catalogue_schema() -> dict[str, Any]:
    """JSON Schema of every event type, for CRM integrators to validate before sending."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "incentive-engine event"
    schema["description"] = (
        "One record of an incentive-engine event log. Amounts are exact decimals: "
        "send them as JSON numbers or strings; they are never read through floating point."
    )
    return schema
