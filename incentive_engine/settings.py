"""Settings: where the event store and read models live, from environment or a .env file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STORE_URL = "sqlite:///incentive-engine.db"


class Settings(BaseSettings):
    """Engine configuration; every field can be set as ``INCENTIVE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="INCENTIVE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    store_url: str = Field(
        DEFAULT_STORE_URL,
        description=(
            "Event store: sqlite:///PATH (embedded default) or "
            "postgresql://USER@HOST:PORT/DB?schema=SCHEMA"
        ),
    )
    views_url: str | None = Field(
        None,
        description=(
            "Read models (SQLAlchemy URL). Default: a SQLite file beside a SQLite store "
            "(PATH.views.db), or the same PostgreSQL database and schema."
        ),
    )
    batch_size: int = Field(1000, ge=1, le=100_000, description="Events per store write.")
    api_secret: str | None = Field(
        None,
        description=(
            "Key that signs API tokens (HS256). Default: a random key kept beside a SQLite "
            "store (PATH.secret); required with PostgreSQL."
        ),
    )
    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'API keys for machine clients: {"KEY": "ROLE:SUBJECT[:SCOPE]"}, e.g. '
            '"integration:crm" or "integration:hubspot:crm+quotas". SCOPE is the event types '
            "the key may write (groups or type names joined by '+'); without it, the role's "
            "default (integration: CRM facts only)."
        ),
    )
    token_minutes: int = Field(60, ge=1, le=60 * 24 * 30, description="API token lifetime.")

    def resolved_views_url(self) -> str:
        """The SQLAlchemy URL of the read-model database."""
        if self.views_url:
            return self.views_url
        parsed = urlparse(self.store_url)
        if parsed.scheme == "sqlite":
            path = sqlite_path(self.store_url)
            return f"sqlite:///{path.with_name(path.stem + '.views.db')}"
        return sqlalchemy_postgres_url(self.store_url)


def sqlite_path(url: str) -> Path:
    """The file path of a ``sqlite:///PATH`` URL."""
    parsed = urlparse(url)
    if parsed.scheme != "sqlite" or not parsed.path:
        raise ValueError(f"store_url {url!r} is not sqlite:///PATH")
    path = unquote(parsed.path)
    # sqlite:///relative/x.db -> "/relative/x.db"; sqlite:////abs/x.db -> "//abs/x.db"
    return Path(path[1:])


def postgres_parts(url: str) -> dict[str, str]:
    """Connection parts (host, port, user, password, dbname, schema) of a PostgreSQL URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"store_url {url!r} is not postgresql://...")
    query = parse_qs(parsed.query)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
        "dbname": (parsed.path or "/postgres").lstrip("/") or "postgres",
        "schema": query.get("schema", ["public"])[0],
    }


def sqlalchemy_postgres_url(url: str) -> str:
    """The SQLAlchemy (psycopg 3) URL for a PostgreSQL store URL, keeping its schema."""
    p = postgres_parts(url)
    auth = p["user"] + (f":{p['password']}" if p["password"] else "")
    return (
        f"postgresql+psycopg://{auth}@{p['host']}:{p['port']}/{p['dbname']}"
        f"?options=-csearch_path%3D{p['schema']}"
    )
