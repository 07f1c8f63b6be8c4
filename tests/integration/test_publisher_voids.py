"""The notification publisher leaves voided events out as the fold does, and tells the reps
a void approved after its target was published that their statements changed (issue 13 §1).

Ran against the base commit (70af4da) and failed there (the publisher announced voided
events and kept them in its facts)."""

from __future__ import annotations

import time
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from incentive_engine.services import voids
from incentive_engine.services.replay import facts_until
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.publisher import Publisher
from projections.runner import ProjectionRunner, make_engine
from tests.factories import hired, won
from tests.integration.test_kafka import broker, published

__all__ = ["broker"]  # the session's broker fixture


def _publish(store: EventStore, settings: Settings, address: str, topic: str) -> Publisher:
    """One run of the publisher as `incentive-engine publish` wires it."""
    producer = KafkaProducer(bootstrap_servers=address, acks="all")
    publisher = Publisher(
        producer, topic, store=store, refold=lambda position: facts_until(store, position)
    )
    runner = ProjectionRunner(store, make_engine(settings.resolved_views_url()), [publisher])
    publisher.prime(*facts_until(store, runner.positions()["publisher"]))
    runner.run()
    producer.close()
    return publisher


def _void(store: EventStore, event_id: str) -> str:
    proposal = voids.propose(store, event_id, reason="duplicate", by="fin-a")
    return voids.approve(store, proposal.event_id, by="fin-b").event_id


def test_the_publisher_skips_voided_events_and_announces_a_later_void(
    broker: str, tmp_path: Path
) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'events.db'}")
    topic = f"voids-{time.monotonic_ns()}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    with EventStore(settings) as store:
        store.append([hired("an"), hired("binh"), won("D1", rep_id="an"), won("D2", rep_id="binh")])
        _void(store, "won-D2")  # voided before anything was published: never announced
        first = _publish(store, settings, broker, topic)
        assert first.facts is not None and "D2" not in first.facts.deals
        approval = _void(store, "won-D1")  # voided after it was announced
        second = _publish(store, settings, broker, topic)
        assert second.facts is not None and "D1" not in second.facts.deals
    ids = sorted(m["id"] for _, m in published(broker, topic))
    assert ids == sorted(["statement_changed:won-D1:an", f"statement_changed:{approval}:an"])
