"""The Kafka door: the ingestion worker, its consumer group and dead letters."""
