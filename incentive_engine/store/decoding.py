"""Fast reading of stored events: a strict schema check with ``msgspec`` instead of a full
pydantic validation, for the event types that make up a log's bulk.

Replay reads every stored event again; validating each with pydantic was about 4 µs of the
7.5 µs an event took.  This module derives, from each event model's own fields, a ``msgspec``
struct of the whole stored record that accepts only the *canonical* form the store writes
(``Event.canonical``) and only values the model holds unchanged:

- ids: 1..128 printable ASCII characters, no space (a non-ASCII id takes the full path);
- text: at most 500 characters, none of those the model refuses, no whitespace at either end
  (the model would strip it), NFC-normalised (the model would normalise it);
- days: ``YYYY-MM-DD``; instants: ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (UTC; the model converts
  an offset and truncates past six digits), read by the model's own datetime parser;
- amounts: decimal text of at most 18 integer and 6 fractional digits, non-negative where the
  model says so; currencies: a code the engine knows, in capitals;
- enums and literals by value, booleans as JSON booleans, nested value objects likewise;
- no unknown field, no explicit ``null`` (the canonical form leaves ``None`` out), no
  ``\\u`` escape (the full reader refuses some, such as lone surrogates).

A record whose bytes are all printable ASCII without space or backslash holds no string that
could break an id's or a text's pattern, so only lengths are checked (the common case, one
``bytes.translate`` per row); any other record is checked field by field with the patterns.

An event type takes the fast path only if every field has one of those shapes and the model
has no model validator (``DealWon``'s split check does nothing without splits and lines, so
a win without them takes it).  Anything the strict check does not accept (another type,
another shape, an edited row) gives ``None`` and the caller validates it with pydantic as
before: a record the model refuses is quarantined with the model's own reason, and a record
the strict check accepts is one the model accepts as the same values (equal, same ``repr``,
same canonical bytes).  What reading guarantees is schema validity, as full validation did;
the content hash stored beside the event is not checked (anyone able to edit a row can
recompute it): ``audit verify`` finds an edit that stays valid (the chain and the signed
checkpoints).
"""

from __future__ import annotations

import contextlib
import types
import typing
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo, PydanticUndefined

from incentive_engine.domain import events as ev
from incentive_engine.domain import limits
from incentive_engine.domain.money import MINOR_UNITS

_set = object.__setattr__
_PLAIN_BYTES = bytes(b for b in range(0x21, 0x7F) if b != 0x5C)
"""Printable ASCII but the space and the backslash (which starts an escape)."""
_BAD = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069\ud800-\udfff"
"""What text may not hold (the model's ``TEXT_PATTERN``), and surrogates (JSON escapes the
model's reader refuses)."""

_ID_PLAIN = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.ID_MAX_LENGTH)]
_ID = Annotated[str, msgspec.Meta(pattern=rf"^[!-~]{{1,{limits.ID_MAX_LENGTH}}}\Z")]
"""An id the model's pattern accepts unchanged: printable ASCII, no space (a non-ASCII id
takes the full path)."""
_TEXT_PLAIN = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.TEXT_MAX_LENGTH)]
_TEXT = Annotated[
    str,
    msgspec.Meta(
        pattern=rf"^[^\s{_BAD}](?:[^{_BAD}]{{0,{limits.TEXT_MAX_LENGTH - 2}}}[^\s{_BAD}])?\Z"
    ),
]
"""Text the model accepts unchanged but for NFC (checked after): nothing it refuses and no
whitespace at either end (Python's ``\\s`` covers every character the model strips)."""
_INSTANT = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z\Z")]
"""A UTC instant as the canonical form writes it (the model truncates past six digits)."""
_DIGITS = limits.AMOUNT_MAX_DIGITS - limits.AMOUNT_DECIMALS
_NUMBER = rf"(?:0|[1-9]\d{{0,{_DIGITS - 1}}})(?:\.\d{{1,{limits.AMOUNT_DECIMALS}}})?\Z"
_AMOUNT = Annotated[str, msgspec.Meta(pattern=rf"^{_NUMBER}")]
"""A non-negative amount inside the model's digit bounds."""
_SIGNED = Annotated[str, msgspec.Meta(pattern=rf"^-?{_NUMBER}")]
"""A signed amount inside the model's digit bounds."""
_CURRENCY = Literal[tuple(sorted(MINOR_UNITS))]  # type: ignore[valid-type]
"""A currency code the engine knows, as the model holds it."""


_instant: Callable[[str], datetime] = TypeAdapter(datetime).validator.validate_python
"""A canonical UTC instant as the model holds it: read by the model's own parser (whose UTC
time zone type shows in a ``repr`` of the facts), ten times faster than ``fromisoformat``
then ``replace``."""


def _nfc(value: str) -> str:
    """Text the model holds unchanged (NFC), else raise."""
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        raise ValueError("not NFC")
    return value


Convert = Callable[[Any], Any]
"""Turns a value msgspec decoded into the one the model holds (raises when it may not)."""

_SHAPES: list[tuple[Any, Any, Any, Convert | None]] = [
    (ev.Id, _ID_PLAIN, _ID, None),
    (ev.Text, _TEXT_PLAIN, _TEXT, _nfc),
    (ev.Day, date, date, None),
    (ev.UtcDateTime, _INSTANT, _INSTANT, _instant),
    (ev.Amount, _AMOUNT, _AMOUNT, Decimal),
    (ev.Signed, _SIGNED, _SIGNED, Decimal),
    (ev.Currency, _CURRENCY, _CURRENCY, None),
]
"""The annotated types of the event models the fast path knows: (model type, msgspec type
when the event holds printable ASCII only, msgspec type otherwise, conversion)."""

_FAST_WHEN_ABSENT: dict[type[BaseModel], tuple[str, ...]] = {ev.DealWon: ("splits", "lines")}
"""Models whose model validators do nothing while these optional fields are absent: the fast
struct leaves them out, so a record that names them takes the full path."""


class Unsupported(Exception):
    """A model the fast path cannot build (it keeps the full path)."""


def _normal(annotation: Any) -> Any:
    """An annotation as pydantic rebuilds it from a field, to compare with the known types."""
    return FieldInfo.from_annotation(annotation).rebuild_annotation()


_KNOWN = [(_normal(model), *rest) for model, *rest in _SHAPES]


Build = Callable[[msgspec.Struct], BaseModel]
"""Builds a model instance from its decoded struct, without validating it again."""


def _builder(
    model: type[BaseModel], converts: dict[str, Convert], absent: tuple[str, ...]
) -> Build:
    """How to build one model from its decoded struct (its ``model_fields_set`` names every
    field, as for events decoded from a snapshot: nothing reads it).  The common shapes (no
    conversion, or one of a required field) get a closure of their own: this runs once per
    stored event."""
    asdict, new, names = msgspec.structs.asdict, model.__new__, set(model.model_fields)
    order = tuple(model.model_fields)
    optional = {n for n, info in model.model_fields.items() if info.default is None}
    steps = tuple(converts.items())

    def instance(values: dict[str, Any]) -> BaseModel:
        built = new(model)
        _set(built, "__dict__", values)
        _set(built, "__pydantic_fields_set__", names.copy())
        _set(built, "__pydantic_extra__", None)
        _set(built, "__pydantic_private__", None)
        return built

    if not steps and not absent:

        def plain(decoded: msgspec.Struct) -> BaseModel:
            return instance(asdict(decoded))

        return plain
    if len(steps) == 1 and not absent and steps[0][0] not in optional:
        name, convert = steps[0]

        def one(decoded: msgspec.Struct) -> BaseModel:
            values = asdict(decoded)
            values[name] = convert(values[name])
            return instance(values)

        return one

    def general(decoded: msgspec.Struct) -> BaseModel:
        values = asdict(decoded)
        for name, convert in steps:
            value = values[name]
            if value is not None:
                values[name] = convert(value)
        if absent:  # fields the struct left out (absent, so None) back in their place
            values = {name: values.get(name) for name in order}
        return instance(values)

    return general


def _field(info: FieldInfo, plain: bool) -> tuple[Any, Convert | None, Any]:
    """The msgspec type, conversion and default of one model field."""
    annotation, default = info.annotation, info.default
    if info.default_factory is not None:
        raise Unsupported("a default factory")
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if len(args) != 2 or type(None) not in args or default is not None:
            raise Unsupported(str(annotation))
        # optional: absent means None; an explicit null is refused (canonical leaves it out)
        annotation = next(a for a in args if a is not type(None))
        normal = _normal(annotation)
    else:
        normal = info.rebuild_annotation()
    for known, plain_type, strict_type, convert in _KNOWN:
        if normal == known:
            if convert is _nfc and plain:
                convert = None  # printable ASCII is NFC
            return (plain_type if plain else strict_type), convert, default
    if normal != annotation:  # constraints or validators on a type of its own
        raise Unsupported(str(normal))
    if (
        (isinstance(annotation, type) and issubclass(annotation, Enum))
        or typing.get_origin(annotation) is Literal
        or annotation is bool
    ):
        return annotation, None, default
    if isinstance(annotation, type) and issubclass(annotation, ev.Value):
        struct, build = _struct(annotation, plain)
        return struct, build, default
    raise Unsupported(str(annotation))


def _struct(model: type[BaseModel], plain: bool) -> tuple[type[msgspec.Struct], Build]:
    """The strict struct of a model and how to build the model from it (raises
    ``Unsupported`` when it cannot have one)."""
    decorators = model.__pydantic_decorators__
    absent = _FAST_WHEN_ABSENT.get(model, ())
    if (decorators.model_validators and not absent) or decorators.field_validators:
        raise Unsupported(f"{model.__name__} has validators")
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    converts: dict[str, Convert] = {}
    for name, info in model.model_fields.items():
        if name in absent:
            if info.default is not None:
                raise Unsupported(f"{model.__name__}.{name} is not optional")
            continue
        fast, convert, default = _field(info, plain)
        required = default is PydanticUndefined or name == "type"  # the tag is never implied
        fields.append((name, fast) if required else (name, fast, default))
        if convert is not None:
            converts[name] = convert
    struct = msgspec.defstruct(
        f"{'Plain' if plain else 'Strict'}{model.__name__}",
        fields,
        kw_only=True,
        forbid_unknown_fields=True,
    )
    return struct, _builder(model, converts, absent)


class _Type:
    """The two decoders of one event type's stored records, and how to build the event."""

    __slots__ = ("plain", "plain_model", "strict", "strict_model")

    def __init__(self, model: type[ev.Event]) -> None:
        plain, self.plain_model = _struct(model, plain=True)
        strict, self.strict_model = _struct(model, plain=False)
        self.plain = msgspec.json.Decoder(_record(plain))
        self.strict = msgspec.json.Decoder(_record(strict))


def _record(event: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """A stored state holding this event struct, and its recording metadata."""
    return msgspec.defstruct(
        f"Record{event.__name__}",
        [
            ("event", event),  # then replaced by the event model it builds
            ("recorded_at", str),
            ("source", str | None, None),
            ("hash", str | None, None),
            ("source_recorded_at", str | None, None),
        ],
        kw_only=True,
    )


def _types() -> dict[bytes, _Type]:
    found: dict[bytes, _Type] = {}
    for name, model in ev.EVENT_CLASSES.items():
        with contextlib.suppress(Unsupported):
            found[name.encode()] = _Type(model)
    return found


FAST_TYPES: dict[bytes, _Type] = _types()
"""The fast decoders by event type name (types absent here always take the full path)."""

_TYPE_MARK = b'"type":"'


def fast_decode(state: bytes) -> Any:
    """The stored record of a state when the strict check accepts it, else None (the caller
    then reads and validates it in full): its ``event`` is the event model, ``recorded_at``,
    ``source`` and ``source_recorded_at`` the recording metadata as stored (text)."""
    i = state.find(_TYPE_MARK)  # the first: a later one would fail the type check below
    if i < 0:
        return None
    i += len(_TYPE_MARK)
    decoders = FAST_TYPES.get(state[i : state.find(b'"', i)])
    if decoders is None:
        return None
    try:
        if state.translate(None, _PLAIN_BYTES):  # a space, an escape or non-ASCII text
            if b"\\u" in state:  # an escape the full reader may refuse: let it decide
                return None
            record = decoders.strict.decode(state)
            record.event = decoders.strict_model(record.event)
        else:  # every string is printable ASCII without spaces: lengths are all to check
            record = decoders.plain.decode(state)
            record.event = decoders.plain_model(record.event)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError, ArithmeticError):
        return None
    return record
