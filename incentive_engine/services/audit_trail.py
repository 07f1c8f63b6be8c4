"""The audit trail for finance: from a paid total down to each line, its rule, and the events
(with recorded times and sources) behind it; and the audit pack of a period (CSV and JSON
files that can be checked with a spreadsheet)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from incentive_engine.domain.events import describe, event_content
from incentive_engine.domain.exports import safe_record
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import (
    Snapshot,
    find_version,
    payout_of,
    period_statements,
    rep_statements,
)
from incentive_engine.services.integrity import guard_export
from incentive_engine.services.spreadsheets import Column, Table, xlsx
from incentive_engine.services.voids import voided_events
from incentive_engine.store.chain import head
from incentive_engine.store.event_store import EventStore, RecordedEvent
from plans.evaluate import Line, Statement

if TYPE_CHECKING:
    from sqlalchemy import Engine as Views

    from incentive_engine.services.engine import Engine


def evidence(store: EventStore, event_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The recorded events behind a line, in the order given: type, position, effective and
    recorded time, the source time of backfilled history (else None), source and a
    summary."""
    found = []
    for event_id in dict.fromkeys(event_ids):
        recorded = store.get(event_id)
        if recorded is not None:
            found.append(_evidence_row(recorded))
    return found


def _evidence_row(recorded: RecordedEvent) -> dict[str, Any]:
    return {
        "event_id": recorded.event.event_id,
        "type": recorded.event.type,  # type: ignore[attr-defined]
        "position": recorded.position,
        "effective": recorded.event.effective_at.isoformat(),
        "recorded_at": recorded.recorded_at.isoformat(),
        "source_recorded_at": (
            recorded.source_recorded_at.isoformat() if recorded.source_recorded_at else None
        ),
        "source": recorded.source,
        "summary": describe(recorded.event),
    }


def rule_of(snap: Snapshot, statement: Statement, line: Line) -> dict[str, Any] | None:
    """The plan component (as published) that produced a line."""
    version = find_version(snap, statement.plan_id, statement.plan_version)
    for component in version.plan.components:
        if component.id == line.component:
            return component.model_dump(mode="json", by_alias=True, exclude_none=True)
    return None


def explain_line(
    snap: Snapshot, store: EventStore, statement: Statement, line: Line
) -> dict[str, Any]:
    """The chain behind one line: the statement it belongs to, the line, the rule, the events."""
    return {
        "statement": {
            "rep_id": statement.rep_id,
            "period": statement.period,
            "hash": statement.hash,
            "total": str(statement.total),
        },
        "line": line.as_dict(),
        "rule": {
            "plan_id": statement.plan_id,
            "version": statement.plan_version,
            "plan_hash": statement.plan_hash,
            "component": rule_of(snap, statement, line),
        },
        "events": evidence(store, line.event_ids),
    }


def explain_period(snap: Snapshot, store: EventStore, rep: str, period: Period) -> dict[str, Any]:
    """The explain chain of every line of a rep's statements for a period: each statement's
    plan, total and hash, then per line its rule and the events behind it (what
    ``GET /v1/audit/{rep}/{period}`` answers and the web's explanation page shows)."""
    found = rep_statements(snap, rep, period)
    return {
        "rep_id": rep,
        "period": str(period),
        "statements": [
            {
                "rep_id": s.rep_id,
                "period": s.period,
                "plan_id": s.plan_id,
                "plan_version": s.plan_version,
                "plan_hash": s.plan_hash,
                "currency": s.currency,
                "total": str(s.total),
                "hash": s.hash,
            }
            for s in found
        ],
        "chains": [explain_line(snap, store, s, ln) for s in found for ln in s.lines],
    }


def audit_pack_zip(
    engine: Engine, period: Period, views: Views | None = None, *, tables_only: bool = False
) -> tuple[str, bytes]:
    """The period's audit pack as a zip (its file name and bytes), or with ``tables_only``
    its tables alone as the XLSX workbook, after verifying the log (``IntegrityRefused`` when
    it fails and the period was not sealed with an override)."""
    guard_export(engine, period, what=f"the audit pack of {period}", views=views)
    snap = engine.snapshot()
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="audit-pack-") as tmp:
        directory = Path(tmp) / str(period)
        export_pack(snap, engine.store, period, directory)
        if tables_only:
            return f"audit-tables-{period}.xlsx", (directory / "tables.xlsx").read_bytes()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pack:
            for path in sorted(directory.rglob("*")):
                if path.is_file():
                    pack.write(path, f"{period}/{path.relative_to(directory).as_posix()}")
    return f"audit-pack-{period}.zip", buffer.getvalue()


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        if not rows:
            return
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(safe_record(row) for row in rows)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


PACK_TEXT = ("rep_id", "plan", "component", "kind", "description", "tier", "deal_ids")


def pack_tables(
    lines: list[dict[str, Any]],
    payouts: list[dict[str, Any]],
    adjustments: list[dict[str, Any]],
    events: list[dict[str, Any]],
    currency_of: dict[str, str],
) -> list[Table]:
    """The audit pack's CSV tables as workbook sheets (``tables.xlsx``): statement lines,
    payouts, adjustments and events, money as numbers in the plan's currency format."""

    def money_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "currency": currency_of.get(str(r.get("plan")), "")} for r in rows]

    def line_columns() -> list[Column]:
        columns = []
        for key in (
            "rep_id", "plan", "number", "component", "kind", "description", "base", "tier",
            "rate", "amount", "deal_ids", "event_ids",
        ):  # fmt: skip
            kind = {"base": "money", "amount": "money", "rate": "number", "number": "integer"}
            columns.append(Column(key, key, kind.get(key, "text")))  # type: ignore[arg-type]
        return [*columns[:2], Column("currency", "currency"), *columns[2:]]

    payout_columns = [
        Column("rep_id", "rep_id"),
        Column("plan", "plan"),
        Column("currency", "currency"),
        Column("earned", "earned", "money"),
        Column("adjustments", "adjustments", "money"),
        Column("total", "total", "money"),
        Column("statement_hash", "statement_hash"),
        Column("status", "status"),
    ]
    event_columns = [
        Column(k, k, "integer" if k == "position" else "text")
        for k in (
            "event_id", "type", "position", "effective", "recorded_at", "source_recorded_at",
            "source", "summary",
        )
    ]  # fmt: skip
    return [
        Table("statement_lines", line_columns(), money_rows(lines)),
        Table("payouts", payout_columns, money_rows(payouts)),
        Table("adjustments", line_columns(), money_rows(adjustments)),
        Table("events", event_columns, events),
    ]


def export_pack(
    snap: Snapshot,
    store: EventStore,
    period: Period,
    directory: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write the audit pack of a period into a directory; returns the manifest's path.

    Files: statements (JSON, and CSV a line per row), payouts (CSV: sealed figures once the
    period is closed, else as computed), adjustments (CSV), events behind every line (CSV and
    JSON, with recorded times and sources), the plan documents with their hashes, the voided
    events as stored (marked voided, with who proposed and approved and why) and the
    quarantined ones, the tables (lines, payouts, adjustments, events) as one XLSX workbook
    (``tables.xlsx``, a sheet per table, money as numbers), and a manifest with the log
    position, chain head and the sha256 of every file."""
    directory.mkdir(parents=True, exist_ok=True)
    found = period_statements(snap, period)
    closed = snap.facts.closed_periods.get(str(period))
    payouts = list(closed.payouts) if closed else [payout_of(s) for s in found]
    line_rows, adjustment_rows, wanted = [], [], []
    for s in found:
        for ln in s.lines:
            row = {"rep_id": s.rep_id, "plan": f"{s.plan_id}@{s.plan_version}", **ln.as_dict()}
            row["deal_ids"] = " ".join(ln.deal_ids)
            row["event_ids"] = " ".join(ln.event_ids)
            line_rows.append(row)
            if ln.kind == "prior_period":
                adjustment_rows.append(row)
            wanted.extend(ln.event_ids)
    wanted_ids = set(wanted)
    by_id: dict[str, RecordedEvent] = {}
    for r in store.read():  # the whole log: told to ``progress`` event by event
        if r.event.event_id in wanted_ids:
            by_id[r.event.event_id] = r
        if progress is not None:
            progress(1)
    events = [by_id[e] for e in dict.fromkeys(wanted) if e in by_id]
    event_rows = [_evidence_row(r) for r in events]
    versions = {(s.plan_id, s.plan_version) for s in found}
    plans = [
        {
            "plan_id": p,
            "version": v,
            "content_hash": find_version(snap, p, v).content_hash,
            "document": find_version(snap, p, v).plan.document(),
        }
        for p, v in sorted(versions)
    ]
    currency = {(s.plan_id, s.plan_version): s.currency for s in found}
    currency_of = {f"{p}@{v}": c for (p, v), c in currency.items()}
    payout_rows = [
        {
            "rep_id": x.rep_id,
            "plan": f"{x.plan_id}@{x.version}",
            "earned": str(x.earned),
            "adjustments": str(sum((a.amount for a in x.adjustments), start=0)),
            "total": str(x.total),
            "statement_hash": x.statement_hash,
            "status": "sealed" if closed else "open",
        }
        for x in payouts
    ]
    files = {
        "statements.json": lambda p: _write_json(
            p, [{**s.as_dict(), "hash": s.hash} for s in found]
        ),
        "statement_lines.csv": lambda p: _write_csv(p, line_rows),
        "payouts.csv": lambda p: _write_csv(p, payout_rows),
        "adjustments.csv": lambda p: _write_csv(p, adjustment_rows),
        "events.csv": lambda p: _write_csv(p, event_rows),
        "events.json": lambda p: _write_json(
            p, [{**_evidence_row(r), "event": event_content(r.event)} for r in events]
        ),
        "plans.json": lambda p: _write_json(p, plans),
        "voided_events.json": lambda p: _write_json(p, voided_events(store)),
        "quarantined_events.json": lambda p: _write_json(
            p,
            [
                {
                    "event_id": q.event_id,
                    "type": q.type,
                    "position": q.position,
                    "reason": q.reason,
                    "status": "quarantined",
                }
                for q in snap.facts.quarantined.values()
            ],
        ),
        "tables.xlsx": lambda p: p.write_bytes(
            xlsx(pack_tables(line_rows, payout_rows, adjustment_rows, event_rows, currency_of))
        ),
    }
    digests = {}
    for name, write in files.items():
        path = directory / name
        write(path)
        digests[name] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    position, link = head(store)
    manifest = {
        "period": str(period),
        "status": "sealed" if closed else "open",
        "sealed_statements_hash": closed.statements_hash if closed else None,
        "log_position": position,
        "chain_head": link,
        "statements": len(found),
        "files": digests,
    }
    path = directory / "manifest.json"
    _write_json(path, manifest)
    return path
