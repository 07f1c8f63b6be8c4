"""``PlanRef``: a published plan version named as ``PLAN@VERSION`` (``field-sales-vn@2``),
parsed in one place for every door."""

from __future__ import annotations

from dataclasses import dataclass

from incentive_engine.domain.errors import Invalid

LATEST = "latest"
"""The version word that means "the newest published version" where a door allows it."""


@dataclass(frozen=True, order=True)
class PlanRef:
    """A plan id and a version number (None: the latest, only where allowed)."""

    plan_id: str
    version: int | None

    @classmethod
    def parse(cls, text: str, *, field: str | None = None, latest: bool = False) -> PlanRef:
        """Read ``PLAN@VERSION`` (with ``latest``, also ``PLAN@latest``), or raise Invalid
        naming the text (and ``field``, the input it came from)."""
        plan_id, at, number = text.rpartition("@")
        if at and plan_id and number.isascii() and number.isdigit():
            return cls(plan_id, int(number))
        if at and plan_id and latest and number == LATEST:
            return cls(plan_id, None)
        example = "field-sales-vn@2" + (" or field-sales-vn@latest" if latest else "")
        raise Invalid(f"{text!r} is not PLAN@VERSION (e.g. {example})", field=field)

    @property
    def key(self) -> tuple[str, int]:
        """(plan id, version number), as ``PlanVersion.key``; the version must be given."""
        if self.version is None:
            raise Invalid(f"{self} names no version number")
        return self.plan_id, self.version

    def __str__(self) -> str:
        """``PLAN@VERSION`` (``PLAN@latest``)."""
        return f"{self.plan_id}@{LATEST if self.version is None else self.version}"
