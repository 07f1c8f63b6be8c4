"""The answers the API keeps across new events (issue 18): an answer about a period stays
cached while the events folded since are dated after the period's end; any other answer is
computed again, so a posted deal is on its statement at the next request."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import Role
from incentive_engine.domain.events import ActivityLogged
from incentive_engine.domain.facts import Facts
from incentive_engine.services.engine import EVERYTHING, Engine, changed_from
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import auth, client
from tests.e2e.test_api_pay import seed_pay
from tests.examples.plans import quota
from tests.factories import won

Q1 = ("statement", "an", "2026-Q1", None)
Q2 = ("statement", "an", "2026-Q2", None)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The pay API's seeded store (deals of An in Q1 and Q2, points rules)."""
    return seed_pay(sqlite_settings(tmp_path_factory.mktemp("answers")))


def post(c: TestClient, headers: dict[str, str], *events: Any) -> None:
    """Post events through the API (finance may write them)."""
    body = [e.model_dump(mode="json", exclude_none=True) for e in events]
    assert c.post("/v1/events", json=body, headers=headers).status_code == 200


def test_only_the_answers_a_new_event_may_change_are_computed_again(shared: Settings) -> None:
    h = auth(shared, Role.FINANCE, "fin")
    with client(shared) as c:
        urls = {
            "q1": "/v1/reps/an/statements/2026-Q1",
            "q2": "/v1/reps/an/statements/2026-Q2",
            "points": "/v1/reps/binh/points?period=2026-Q1",
            "board": "/v1/leaderboards/revenue?period=2026-Q1",
            "earnings": "/v1/reps/an/earnings",
        }
        before = {name: c.get(url, headers=h) for name, url in urls.items()}
        assert all(r.status_code == 200 for r in before.values())
        engine = c.app.state.engine  # type: ignore[attr-defined]
        kept_q1 = engine.responses[Q1][1]

        # A deal won in Q2: Q1's answers stand (the very same bytes), Q2's statement and
        # the earnings (every period) are computed again and show it.
        post(c, h, won("D9", 80_000_000, rep_id="an", close_date="2026-05-10"))
        q2 = c.get(urls["q2"], headers=h)
        assert b"won-D9" in q2.content and b"won-D9" not in before["q2"].content
        assert engine.responses[Q1][1] is kept_q1
        assert c.get(urls["q1"], headers=h).content == before["q1"].content
        assert c.get(urls["board"], headers=h).content == before["board"].content
        assert c.get(urls["earnings"], headers=h).content != before["earnings"].content

        # An activity of January drops Q1's answers: Binh's points count the meeting.
        meeting = ActivityLogged(
            event_id="m9", rep_id="binh", kind="meeting", occurred_at="2026-01-20T03:00:00Z"
        )
        service = engine.ingest_service  # one ingest service, kept current batch to batch
        post(c, h, meeting)
        assert engine.ingest_service is service
        points = c.get(urls["points"], headers=h)
        assert Q1 not in engine.responses
        assert points.json()["points"] != before["points"].json()["points"]

        # Any other event (even a quota of a later quarter) may change anything: nothing
        # is kept.
        c.get(urls["q1"], headers=h)
        assert Q1 in engine.responses
        post(c, h, quota("binh", 300_000_000, "2026-Q3"))
        c.get("/v1/reps/binh/statements/2026-Q2", headers=h)
        assert Q1 not in engine.responses


def test_the_day_a_page_of_events_may_change_answers_from() -> None:
    facts = Facts()
    activity = ActivityLogged(
        event_id="a1", rep_id="an", kind="email", occurred_at="2026-03-02T23:30:00Z"
    )
    first = won("D1", rep_id="an", close_date="2026-02-10")
    assert changed_from(facts, [(activity, ""), (first, "")]) == date(2026, 2, 10)
    assert changed_from(facts, [(activity, "")]) == date(2026, 3, 2)
    # a second win of one deal may move it to another period: everything
    again = won("D1", rep_id="an", close_date="2026-05-10").model_copy(
        update={"event_id": "won-D1-again"}
    )
    assert changed_from(facts, [(first, ""), (again, "")]) == EVERYTHING
    facts.apply(first)
    assert changed_from(facts, [(again, "")]) == EVERYTHING
    assert changed_from(facts, [(quota("an", 1, "2026-Q1"), "")]) == EVERYTHING


def test_a_fold_waits_for_the_readers_and_a_reader_never_folds(tmp_path: Path) -> None:
    """Folds change the facts in place (a board drawn meanwhile failed with "dictionary
    changed size during iteration" under a steady writer)."""
    settings = seed_pay(sqlite_settings(tmp_path))
    with Engine(settings) as engine:
        before = engine.catch_up().position
        with engine.reading():
            with EventStore(settings) as store:
                store.append([won("D8", rep_id="an", close_date="2026-03-01")])
            engine.snapshot()  # a question within a read does not fold (nor deadlock)
            assert engine.position == before
            folding = threading.Thread(target=engine.catch_up)
            folding.start()
            folding.join(0.3)
            assert folding.is_alive()  # the fold waits for the reader
        folding.join(10)
        assert not folding.is_alive() and engine.position == before + 1


def test_requests_asking_at_once_for_one_answer_compute_it_once(shared: Settings) -> None:
    with client(shared) as c:
        c.get("/v1/reps/an/earnings", headers=auth(shared, Role.FINANCE, "fin"))
        engine = c.app.state.engine  # type: ignore[attr-defined]
        calls, release = [], threading.Event()

        def compute() -> bytes:
            calls.append(1)
            release.wait(5)
            return b"drawn once"

        answers: list[bytes] = []
        askers = [
            threading.Thread(target=lambda: answers.append(engine.answer(("k",), None, compute)))
            for _ in range(4)
        ]
        for t in askers:
            t.start()
        time.sleep(0.2)
        release.set()
        for t in askers:
            t.join(5)
        assert answers == [b"drawn once"] * 4 and len(calls) == 1
