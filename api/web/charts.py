"""Charts of the web pages: a chart is described here in plain data (labels, series, how its
values read) and drawn in the browser by the vendored Chart.js through ``static/charts.js``,
which reads the description from a JSON data block (no inline script, so the content
security policy holds). Every chart also renders its figures as a table for screen readers
and for print."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Kind = Literal["line", "bar"]
Unit = Literal["money", "percent", "number"]

PALETTE = ("#0b5cad", "#fca311", "#2a9d8f", "#a4161a", "#6a4c93", "#5b6474")
"""Series colours, in order (contrast checked against the white card)."""


@dataclass(frozen=True)
class Series:
    """One line or set of bars: its label, one value per label of the chart (None: no value),
    and whether it is drawn dashed (a target, a quota line) or stepped."""

    label: str
    values: list[Decimal | int | None]
    dashed: bool = False
    kind: Kind | None = None
    highlight: list[bool] | None = None


@dataclass(frozen=True)
class Chart:
    """A chart: its kind, the labels of its x axis, its series, and the unit of its values
    (money in a currency, percent or a plain number), formatted in the page's locale."""

    kind: Kind
    labels: list[str]
    series: list[Series]
    unit: Unit = "number"
    currency: str | None = None
    stacked: bool = False
    horizontal: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    def config(self, locale: str) -> dict[str, object]:
        """The JSON description ``static/charts.js`` draws (numbers as JSON numbers: the
        chart is a picture of figures shown exactly in the table beside it)."""
        datasets = []
        for index, s in enumerate(self.series):
            colour = PALETTE[index % len(PALETTE)]
            dataset: dict[str, object] = {
                "label": s.label,
                "data": [None if v is None else float(v) for v in s.values],
                "borderColor": colour,
                "backgroundColor": colour,
                "borderDash": [6, 4] if s.dashed else [],
                "pointRadius": 0 if s.dashed else 2,
                "tension": 0,
            }
            if s.kind is not None:
                dataset["type"] = s.kind
            if s.highlight is not None:
                dataset["backgroundColor"] = [PALETTE[1] if h else colour for h in s.highlight]
            datasets.append(dataset)
        return {
            "type": self.kind,
            "labels": self.labels,
            "datasets": datasets,
            "unit": self.unit,
            "currency": self.currency,
            "locale": locale,
            "stacked": self.stacked,
            "horizontal": self.horizontal,
            **self.extra,
        }
