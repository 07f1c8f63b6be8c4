"""The event store, run against a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import StepClock
from tests.factories import call, hired, won


def test_append_assigns_one_global_order_and_stamps_recorded_at(
    store: EventStore, clock: StepClock
) -> None:
    clock.set("2026-02-21T08:00:00+00:00")
    first = store.append([hired("an"), hired("binh", name="Trần Văn Bình")], source="crm")
    clock.set("2026-03-01T08:00:00+00:00")
    second = store.append([won("D1", rep_id="an")], source="crm")
    assert [p for _, p in first.stored + second.stored] == sorted(
        p for _, p in first.stored + second.stored
    )
    recorded = list(store.read())
    assert [r.event.event_id for r in recorded] == ["hire-an", "hire-binh", "won-D1"]
    assert recorded[0].recorded_at == datetime(2026, 2, 21, 8, tzinfo=UTC)
    assert recorded[2].recorded_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert recorded[0].source == "crm"
    assert store.max_position() == recorded[-1].position


def test_same_id_same_content_is_a_no_op(store: EventStore) -> None:
    store.append([hired("an")])
    again = store.append([hired("an")])
    assert again.stored == [] and again.duplicates == ["hire-an"]
    assert len(list(store.read())) == 1


def test_same_id_different_content_is_a_conflict_and_not_stored(store: EventStore) -> None:
    store.append([hired("an")])
    report = store.append([hired("an", name="Someone Else"), hired("binh")])
    assert [c.event_id for c in report.conflicts] == ["hire-an"]
    assert [eid for eid, _ in report.stored] == ["hire-binh"]
    names = [r.event.name for r in store.read()]
    assert names == ["Nguyễn Văn An", "Nguyễn Văn An"]  # the first An kept, binh added


def test_duplicates_and_conflicts_inside_one_batch(store: EventStore) -> None:
    report = store.append([hired("an"), hired("an"), hired("an", name="Other")])
    assert len(report.stored) == 1
    assert report.duplicates == ["hire-an"]
    assert [c.event_id for c in report.conflicts] == ["hire-an"]


def test_vietnamese_text_and_decimals_round_trip_exactly(store: EventStore) -> None:
    name = "Đặng Thị Ngọc Hường"
    store.append([hired("h", name=name), won("D1", amount="1234.565", currency="USD")])
    by_id = {r.event.event_id: r.event for r in store.read()}
    assert by_id["hire-h"].name == name
    assert by_id["won-D1"].amount == Decimal("1234.565")
    assert by_id["won-D1"].customer.industry == "Bán lẻ"
    fetched = store.get("won-D1")
    assert fetched is not None and fetched.event == by_id["won-D1"]
    assert store.get("nope") is None


def test_as_of_keeps_only_what_was_recorded_by_then(store: EventStore, clock: StepClock) -> None:
    clock.set("2026-02-21T00:00:00+00:00")
    store.append([hired("an")])
    clock.set("2026-03-01T00:00:00+00:00")
    store.append([hired("binh")])
    cut = datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
    assert [r.event.event_id for r in store.read(as_of=cut)] == ["hire-an"]
    assert len(list(store.read())) == 2


def test_recorded_time_never_goes_backwards(store: EventStore, clock: StepClock) -> None:
    clock.set("2026-03-01T00:00:00+00:00")
    store.append([hired("an")])
    clock.set("2026-02-01T00:00:00+00:00")  # the wall clock jumps back
    store.append([hired("binh")])
    times = [r.recorded_at for r in store.read()]
    assert times == sorted(times)


def test_filter_by_type_and_page_through(store: EventStore) -> None:
    store.append([hired("an")] + [call("an", i) for i in range(25)])
    assert len(list(store.read(types=["RepHired"]))) == 1
    assert len(list(store.read(page_size=7))) == 26
    third = list(store.read())[2].position
    assert next(r.position for r in store.read(after=third)) > third


def test_reopening_the_store_keeps_everything(settings: Settings) -> None:
    with EventStore(settings) as s:
        s.append([hired("an"), hired("binh")])
    with EventStore(settings) as s:
        assert [r.event.event_id for r in s.read()] == ["hire-an", "hire-binh"]
        assert s.append([hired("an")]).duplicates == ["hire-an"]


def test_concurrent_writers_store_each_event_once(settings: Settings) -> None:
    events = [call("an", i) for i in range(300)]
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            with EventStore(settings) as s:
                for start in range(offset, 300, 50):
                    s.append(events[start : start + 100])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (0, 25, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with EventStore(settings) as s:
        ids = [r.event.event_id for r in s.read()]
    assert sorted(ids) == sorted(e.event_id for e in events)


def test_naive_recorded_at_is_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.append([hired("an")], recorded_at=datetime(2026, 1, 1))


def test_ids_with_quotes_backslashes_braces_and_null_round_trip(store: EventStore) -> None:
    """The PostgreSQL insert renders array literals itself: every character must survive."""
    odd = ['a"b', "c\\d", "{e,f}", "NULL", "Đà-Nẵng#1", 'x\\"y', "g'h"]
    events = [call(rep_id, 1).model_copy(update={"event_id": f"act-{rep_id}"}) for rep_id in odd]
    events = [hired(rep_id) for rep_id in odd] + events
    report = store.append(events)
    assert [eid for eid, _ in report.stored] == [e.event_id for e in events]
    read = [r.event for r in store.read()]
    assert read == events
    assert store.append(events).duplicates == [e.event_id for e in events]


def test_reading_a_few_types_uses_the_type_index(store: EventStore) -> None:
    """Voids, disputes and adjustments are read by type on every request: an index on the
    type keeps that from scanning the whole log (seen: 150-200 ms on 1,000,000 events)."""
    table = store.recorder.events_table_name  # type: ignore[attr-defined]
    with store._reading() as c:
        if store.backend == "postgres":
            c.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))
            names = {r["indexname"] for r in c.fetchall()}
        else:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            names = {r[0] for r in c.fetchall()}
    assert f"{table}_topic" in names
    store.append([hired("an"), hired("binh"), won("D1"), call("an", 1)])
    assert [r.event.event_id for r in store.read(types=["DealWon"])] == ["won-D1"]


def test_a_store_whose_postgres_connections_were_dropped_answers_at_once(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database restart drops every pooled connection: the next write replaces them all
    and goes through, instead of meeting them one by one with the pool's 1, 2, 4, 8... s
    waits between (29 s measured with six dropped connections)."""
    import psycopg

    from tests.conftest import PG_DSN, postgres_settings

    app_name = f"ie-drop-{pg_schema}"
    monkeypatch.setenv("PGAPPNAME", app_name)  # libpq names the store's connections
    with EventStore(postgres_settings(pg_schema)) as store:
        store.append([hired("an")])
        store.append([call("an", i) for i in range(50)])
        store.recorder.datastore.pool.wait(10)  # type: ignore[attr-defined]  # all opened
        with psycopg.connect(PG_DSN, autocommit=True, application_name="ie-test-admin") as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (app_name,),
            ).fetchone()[0]
        assert dropped >= 2
        started = time.monotonic()
        report = store.append([call("an", 100 + i) for i in range(50)])
        took = time.monotonic() - started
    assert len(report.stored) == 50
    assert took < 3, f"the write after the drop waited {took:.1f} s"
