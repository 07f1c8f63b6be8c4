"""Who may import whom: the layers, their third-party libraries, and every exception with its reason.

This file is the single source of the import rules. ``tests/arch/checker.py`` enforces it
through the whole import chain, and ``docs/architecture.md`` draws it (kept equal by a test).
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT_ROOTS = ("incentive_engine", "plans", "projections", "api")
"""The top-level packages whose modules are checked (bench/ and tests/ are not)."""

PURE_BANNED_STDLIB = frozenset(
    {
        # clock, randomness, identity drawn from either
        "time", "random", "secrets", "uuid", "zoneinfo",
        # process, environment, files
        "os", "sys", "io", "pathlib", "shutil", "tempfile", "glob", "fcntl", "mmap",
        "subprocess", "signal", "atexit", "ctypes", "importlib", "pickle", "marshal",
        "shelve", "dbm", "logging",
        # network, storage, concurrency
        "socket", "ssl", "select", "selectors", "http", "urllib", "ftplib", "smtplib",
        "sqlite3", "threading", "_thread", "multiprocessing", "concurrent", "asyncio",
        "queue", "sched",
    }
)  # fmt: skip
"""Standard-library modules the pure core may not import: each reads a clock, draws a random
number or does I/O."""

PURE_BANNED_CALLS = frozenset(
    {
        # clock reads (``datetime.now``, ``date.today``, ``time.perf_counter`` ...)
        "now", "today", "utcnow", "perf_counter", "perf_counter_ns", "monotonic",
        "monotonic_ns", "time_ns", "process_time", "thread_time",
        # randomness
        "random", "randint", "randrange", "getrandbits", "uniform", "shuffle", "urandom",
        "uuid1", "uuid4", "token_bytes", "token_hex", "token_urlsafe", "SystemRandom",
    }
)  # fmt: skip
"""Names the pure core may not call, nor reference as an attribute (``default_factory=
datetime.now`` reads the clock as surely as ``datetime.now()``)."""

PURE_BANNED_BUILTINS = frozenset(
    {"open", "print", "input", "breakpoint", "eval", "exec", "compile", "__import__", "globals"}
)
"""Builtins the pure core may not call: I/O, or code run from data."""


@dataclass(frozen=True)
class Layer:
    """A package of the project and what it may import directly."""

    name: str
    modules: tuple[str, ...]
    """Module prefixes that belong to this layer (a prefix covers its submodules)."""
    may_import: tuple[str, ...]
    """Other layers it may import directly (its own modules always)."""
    third_party: tuple[str, ...] = ()
    """Top-level third-party modules it may import (the standard library always, unless pure)."""
    pure: bool = False
    """No I/O, clock or randomness: the standard library minus PURE_BANNED_STDLIB."""
    door: bool = False
    """An entry point for people and machines (no door folds facts)."""
    role: str = ""
    """One line on what lives here, for the docs."""
    folder: str = ""
    """Where it lives, for the docs."""
    exact: bool = False
    """Its prefixes name single modules and cover no submodules."""


PURE_LIBRARIES = ("pydantic", "pydantic_core", "yaml", "orjson")
DOOR_LIBRARIES = ("pydantic", "orjson", "yaml")

LAYERS: tuple[Layer, ...] = (
    Layer(
        "api",
        ("api",),
        ("services", "projections", "domain", "plans", "settings", "presentation", "observability"),
        ("fastapi", "starlette", "jwt", "jinja2", "markupsafe", "babel", *DOOR_LIBRARIES),
        door=True,
        role="HTTP door: FastAPI app, auth, one router per resource; web pages in api/web/",
        folder="api/",
    ),
    Layer(
        "cli",
        ("incentive_engine.cli", "incentive_engine.__main__"),
        (
            "services",
            "projections",
            "domain",
            "plans",
            "settings",
            "demo",
            "presentation",
            "observability",
        ),
        ("typer", "click", "rich", "uvicorn", *DOOR_LIBRARIES),
        door=True,
        role="command-line door: one module per command group, wired in cli/main.py",
        folder="incentive_engine/cli/",
    ),
    Layer(
        "kafka",
        ("incentive_engine.kafka",),
        ("services", "projections", "domain", "plans", "settings", "observability"),
        ("kafka", *DOOR_LIBRARIES),
        door=True,
        role="Kafka door: the ingest worker and its dead letters",
        folder="incentive_engine/kafka/",
    ),
    Layer(
        "notify",
        ("incentive_engine.notify",),
        ("services", "projections", "domain", "plans", "settings", "presentation"),
        ("kafka", "sqlalchemy", *DOOR_LIBRARIES),
        door=True,
        role="notification door: reads the notification stream (outbox or Kafka topic) and "
        "delivers it as signed webhooks (JSON, Slack, Teams) and e-mail over SMTP",
        folder="incentive_engine/notify/",
    ),
    Layer(
        "services",
        ("incentive_engine.services",),
        ("projections", "store", "domain", "plans", "settings"),
        # openpyxl: the audit pack and the payroll export carry the XLSX workbooks finance
        # opens, built once here for every door (like the pack's zip and CSV files)
        ("sqlalchemy", "pydantic", "orjson", "openpyxl"),
        role="application core: the Engine and the use cases every door shares",
        folder="incentive_engine/services/",
    ),
    Layer(
        "projections",
        ("projections",),
        ("store", "domain", "plans", "settings"),
        # alembic: the read-model database's schema migrations (projections/migrations)
        ("sqlalchemy", "orjson", "alembic"),
        role="read models (SQLAlchemy tables) with tracking positions, runner, publisher",
        folder="projections/",
    ),
    Layer(
        "store",
        ("incentive_engine.store",),
        ("domain", "plans", "settings"),
        # msgspec: the strict schema check of stored events on reading (store/decoding.py)
        ("eventsourcing", "psycopg", "sqlalchemy", "orjson", "pydantic", "cryptography", "msgspec"),
        role="event store on the eventsourcing recorders, PostgreSQL log, audit chain, "
        "signed checkpoints, snapshots of the folded facts",
        folder="incentive_engine/store/",
    ),
    Layer(
        "demo",
        ("incentive_engine.demo",),
        ("domain", "plans"),
        (),
        role="seeded demo data generator (uses random: not pure) for the CLI and benches",
        folder="incentive_engine/demo/",
    ),
    Layer(
        "presentation",
        ("incentive_engine.presentation",),
        (),
        ("babel",),
        role="figures for people (money, numbers, dates, times by locale with Babel, in the "
        "organisation's time zone): the web pages and the CLI's tables",
        folder="incentive_engine/presentation.py",
    ),
    Layer(
        "observability",
        ("incentive_engine.observability",),
        ("settings",),
        ("prometheus_client",),
        role="Prometheus metrics of the doors and the pipeline processes, their exposition, "
        "structured (JSON) logs with credentials redacted",
        folder="incentive_engine/observability/",
    ),
    Layer(
        "settings",
        ("incentive_engine.settings",),
        (),
        ("pydantic", "pydantic_settings"),
        role="one Settings object read from the environment",
        folder="incentive_engine/settings.py",
    ),
    Layer(
        "domain",
        ("incentive_engine.domain",),
        ("plans",),
        PURE_LIBRARIES,
        pure=True,
        role="pure: events, money, periods, the fold into facts, territories, quotas, KPIs",
        folder="incentive_engine/domain/",
    ),
    Layer(
        "plans",
        ("plans",),
        ("domain",),
        PURE_LIBRARIES,
        pure=True,
        role="pure: plan model, documents, the evaluator, points, diff",
        folder="plans/",
    ),
    Layer(
        "root",
        ("incentive_engine",),
        (),
        (),
        pure=True,
        role="the package marker (version only); every module below imports it",
        folder="incentive_engine/__init__.py",
        exact=True,
    ),
)
"""Every layer, doors first. Every module of PROJECT_ROOTS must belong to exactly one layer
(the longest matching prefix wins); ``root`` may be imported by all."""


@dataclass(frozen=True)
class Exemption:
    """One import the layer rules forbid but this project allows, and why."""

    importer: str
    """The importing module, or a layer name."""
    imported: str
    """The imported module (exactly)."""
    reason: str
    only_in_function: bool = False
    """Allowed only as a lazy import inside a function (not followed through the chain)."""
    third_party: bool = False
    """``imported`` is a third-party top-level module rather than a project module."""


STORE_HANDLE = "incentive_engine.store.event_store"
EXEMPTIONS: tuple[Exemption, ...] = (
    *(
        Exemption(
            door,
            STORE_HANDLE,
            "a door opens the store named by its settings and hands the EventStore to the "
            "services; it may name that public handle, never the store's internals "
            "(chain, postgres_log, recorders)",
        )
        for door in ("api", "cli", "kafka", "notify")
    ),
    Exemption(
        "incentive_engine.cli.notify",
        "incentive_engine.notify.notifier",
        "composition root: `notify` runs the notification door's notifier; imported lazily",
        only_in_function=True,
    ),
    Exemption(
        "incentive_engine.cli.notify",
        "incentive_engine.notify.sources",
        "composition root: `notify` picks the notifier's source (outbox or Kafka topic)",
        only_in_function=True,
    ),
    Exemption(
        "incentive_engine.cli.main",
        "api.app",
        "composition root: `serve` builds the FastAPI app; imported lazily so the CLI "
        "starts without FastAPI",
        only_in_function=True,
    ),
    Exemption(
        "incentive_engine.cli.main",
        "api.auth",
        "composition root: `serve` checks the signing key and `token` issues an API token "
        "with the HTTP door's own auth module",
        only_in_function=True,
    ),
    Exemption(
        "incentive_engine.cli.main",
        "incentive_engine.kafka.worker",
        "composition root: `worker` and `dead-letters` start the Kafka door's worker; "
        "imported lazily so the CLI starts without kafka-python",
        only_in_function=True,
    ),
    Exemption(
        "incentive_engine.cli.main",
        "kafka",
        "composition root: `publish` hands a KafkaProducer to the projections' Publisher",
        only_in_function=True,
        third_party=True,
    ),
    Exemption(
        "incentive_engine.cli.main",
        "sqlalchemy",
        "`events` queries the event-index read model's tables directly; belongs in "
        "projections.event_log (left for the CLI-on-Engine work)",
        third_party=True,
    ),
)
"""Every allowed exception to LAYERS, each with its reason."""

DOOR_BANNED_CALLS = frozenset(
    {
        "incentive_engine.services.replay.replay_facts",
        "incentive_engine.domain.facts.Facts",
        "incentive_engine.domain.facts.fold",
        "plans.evaluate.evaluate",
        "plans.evaluate.statements",
    }
)
"""Functions a door may not call: folding facts and evaluating plans belong to the services."""

DOOR_BANNED_METHODS = frozenset({"apply_recorded", "apply_all"})
"""Methods a door may not call on anything (they fold events into facts)."""
