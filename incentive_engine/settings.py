"""Settings: where the event store and read models live, from environment or a .env file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STORE_URL = "sqlite:///incentive-engine.db"
DEFAULT_TOKEN_MINUTES = 30
"""How long an API token issued by the engine lives, unless configured."""
MAX_TOKEN_MINUTES = 24 * 60
"""The longest an engine-issued API token may live (machines use API keys instead)."""


class WebhookEndpoint(BaseModel):
    """One outgoing webhook of the notifier: where, signed with which secret, in which shape,
    for which kinds of news, and who reads it (pay goes only to readers allowed to see it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$", description="Its name in the ledger.")
    url: str = Field(pattern=r"^https?://", description="The receiver's URL.")
    secret: str = Field(
        min_length=16, description="Signs each body: X-Incentive-Signature (HMAC-SHA256)."
    )
    format: Literal["json", "slack", "teams"] = Field(
        "json", description="json (the notification), slack or teams (incoming webhooks)."
    )
    kinds: (
        list[
            Literal[
                "statement_changed",
                "rank_changed",
                "badge_awarded",
                "period_closed",
                "dispute_updated",
            ]
        ]
        | None
    ) = Field(None, description="Only these kinds of news (default: all).")
    viewer: str | None = Field(
        None,
        pattern=r"^(rep|manager|finance|plan_admin|integration):[^:]+$",
        description=(
            "Who reads this endpoint (ROLE:SUBJECT, e.g. finance:payroll or manager:m1): "
            "news carrying pay reaches it only for the reps that viewer may see; without it "
            "the pay figures are left out."
        ),
    )


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
    sqlite_lock_seconds: int = Field(
        30,
        ge=1,
        le=3600,
        description="How long a write waits for a SQLite store another process holds locked "
        "before it fails (one line naming the file; exit code 4).",
    )
    pg_pool_size: int = Field(
        2,
        ge=1,
        le=100,
        description="PostgreSQL connections an event store keeps open (more are opened on "
        "demand, up to ten beyond it, and closed again): every process opens its pool at "
        "start, so a CLI command or a worker holds only what it needs.",
    )
    kafka_wait_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        description="How long a Kafka command waits for the first broker to answer before it "
        "fails (one line naming the address; exit code 4).",
    )
    api_secret: str | None = Field(
        None,
        description=(
            "Key that signs API tokens (HS256, key id 'default'); at least 32 bytes. Default: "
            "a random key kept beside a SQLite store (PATH.secret, mode 0600); required with "
            "PostgreSQL unless INCENTIVE_API_SECRETS is set."
        ),
    )
    api_secrets: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Signing keys by key id, for rotation: {"KID": "SECRET", ...}. Tokens carry their '
            "key id; new ones are signed with api_signing_kid (default: the last entry); the "
            "others still verify until removed."
        ),
    )
    api_signing_kid: str | None = Field(
        None, description="The key id that signs new tokens (default: the last of api_secrets)."
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
    max_body_bytes: int = Field(
        8 << 20,
        ge=1024,
        le=1 << 30,
        description="Largest HTTP request body (413 beyond it, refused while it streams).",
    )
    max_batch_records: int = Field(
        10_000, ge=1, le=1_000_000, description="Most records in one HTTP batch (413 beyond)."
    )
    import_max_rows: int = Field(
        200_000,
        ge=1,
        le=10_000_000,
        description=(
            "Most data rows in one imported CSV or XLSX file (ingest --mapping, POST "
            "/v1/imports, the web's import page): a longer file is refused before anything "
            "is stored; split it."
        ),
    )
    max_record_bytes: int = Field(
        1 << 20,
        ge=1024,
        le=1 << 30,
        description="Largest single record: a line of a JSONL or CSV file, a Kafka message.",
    )
    date_earliest: date = Field(
        date(2000, 1, 1), description="Earliest date an event or plan may carry."
    )
    date_latest: date = Field(
        date(2100, 12, 31), description="Latest date an event or plan may carry."
    )
    token_minutes: int = Field(
        DEFAULT_TOKEN_MINUTES,
        ge=1,
        le=MAX_TOKEN_MINUTES,
        description="Lifetime of the API tokens this engine issues (minutes; at most a day).",
    )
    api_revocation_refresh_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long each API process trusts its copy of the revocation list.",
    )
    api_idp_public_key_file: Path | None = Field(
        None, description="PEM public key (RSA or Ed25519) of an identity provider."
    )
    api_idp_jwks_file: Path | None = Field(
        None, description="JWKS file (JSON on disk) of an identity provider's public keys."
    )
    api_idp_issuer: str | None = Field(
        None, description="The 'iss' an identity provider's tokens must carry (required)."
    )
    api_idp_audience: str | None = Field(
        None, description="The 'aud' an identity provider's tokens must carry (required)."
    )
    api_idp_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "EdDSA"],
        description="Signature algorithms accepted from the identity provider.",
    )
    api_idp_role_claim: str = Field(
        "role", description="Claim holding the role (a string or a list of strings)."
    )
    api_idp_subject_claim: str = Field(
        "sub", description="Claim holding the subject (the rep id for reps and managers)."
    )
    api_idp_roles: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Identity-provider role values to engine roles, e.g. {"sales-rep": "rep"}; '
            "when empty the claim must name an engine role."
        ),
    )
    api_auth_failures: int = Field(
        20, ge=1, le=100_000, description="Bad credentials a client may send per window."
    )
    api_auth_window_seconds: int = Field(
        60, ge=1, le=86_400, description="The window of api_auth_failures (then 429)."
    )
    api_auth_clients: int = Field(
        10_000, ge=1, le=10_000_000, description="Client addresses the rate limiter remembers."
    )
    adjustments_single_approver: bool = Field(
        False,
        description=(
            "Let the finance user who proposed a manual adjustment approve it too (small teams "
            "with one finance user). Off by default: a second finance user must approve (the "
            "approval then records single_approver)."
        ),
    )
    hold_unaccepted: bool = Field(
        False,
        description=(
            "Hold the payouts of reps who have not accepted the plan version that pays them: "
            "payouts, the pay run and payroll list them as held (with the reason) and leave "
            "them out of the payable total until the rep accepts. Off by default."
        ),
    )
    web_locale: Literal["vi", "en"] = Field(
        "vi", description="The web pages' language until the user picks one (vi or en)."
    )
    locale: Literal["vi", "en"] | None = Field(
        None,
        description=(
            "The language of figures in the CLI's tables for people (vi or en; default: "
            "web_locale). JSON and CSV outputs are never localised."
        ),
    )
    time_zone: str = Field(
        "Asia/Ho_Chi_Minh",
        description=(
            "The organisation's time zone: times on pages and in the CLI's tables are shown "
            "in it (IANA name)."
        ),
    )

    oidc_authorization_url: str | None = Field(
        None,
        description=(
            "Web sign-in with an OpenID Connect provider (Keycloak, Azure AD, Google): its "
            "authorization endpoint. Needs oidc_token_url, oidc_client_id and the identity "
            "provider's keys (api_idp_*), which verify the token it returns."
        ),
    )
    oidc_token_url: str | None = Field(None, description="The provider's token endpoint.")
    oidc_client_id: str | None = Field(None, description="This app's client id at the provider.")
    oidc_client_secret: str | None = Field(
        None, description="This app's client secret (none for a public client: PKCE alone)."
    )
    oidc_redirect_url: str | None = Field(
        None,
        description=(
            "The callback URL registered at the provider (default: this site's "
            "/sign-in/oidc/callback as the browser reached it)."
        ),
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes asked of the provider.")
    oidc_token: Literal["id_token", "access_token"] = Field(
        "id_token",
        description="Which token of the provider's answer carries the role claim and is kept.",
    )
    oidc_provider_name: str = Field(
        "OpenID Connect", description="The provider's name on the sign-in button."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    payroll_columns: Path | None = Field(
        None,
        description=(
            "The payroll export's mapping file (YAML or JSON): its columns, the pay code of "
            "each statement line kind and the employee number of each rep. Default: rep id, "
            "employee number (blank), one pay code INCENTIVE, amount, currency."
        ),
    )
    checkpoint_key_file: Path | None = Field(
        None,
        description=(
            "Ed25519 private key (PEM) that signs integrity checkpoints; never stored in the "
            "database. Default: beside a SQLite store (PATH.checkpoint-key, created 0600 when "
            "absent); with PostgreSQL set it to a file kept off the database host."
        ),
    )
    checkpoint_public_key_file: Path | None = Field(
        None,
        description="Ed25519 public key (PEM) that verifies checkpoints on a verify-only host.",
    )
    checkpoint_file: Path | None = Field(
        None,
        description=(
            "A JSON-lines file every checkpoint is also appended to: keep it (or a copy) off "
            "the database host, where whoever owns the database cannot rewrite it."
        ),
    )
    checkpoint_every_events: int = Field(
        10_000, ge=1, description="`project --follow` signs a checkpoint after this many events."
    )
    checkpoint_every_seconds: float = Field(
        3600, gt=0, description="... or after this many seconds with new events, if sooner."
    )
    checkpoint_skew_seconds: float = Field(
        300,
        ge=0,
        description=(
            "An event recorded this long before a checkpoint that does not cover it was "
            "written into the log afterwards: an insertion."
        ),
    )

    log_format: Literal["json", "text"] = Field(
        "text",
        description=(
            "Logs of the long-running commands (serve, worker, project, publish): json (one "
            "object a line, for a log collector) or text (for people)."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="The lowest level logged."
    )
    metrics_token: str | None = Field(
        None,
        description=(
            "Bearer token that reads the API's /metrics on the API port (Prometheus "
            "`authorization: credentials`). Unset, /metrics answers 404 there: scrape the "
            "unauthenticated `serve --metrics-port` on a private network instead."
        ),
    )
    notify_webhooks: list[WebhookEndpoint] = Field(
        default_factory=list,
        description=(
            'The notifier\'s webhooks, JSON: [{"name": "team", "url": "https://...", '
            '"secret": "...", "format": "json|slack|teams", "kinds": [...], "viewer": '
            '"finance:payroll"}].'
        ),
    )
    notify_kafka_bootstrap: str | None = Field(
        None,
        description=(
            "Kafka brokers the notifier reads the notification topic from; unset, it reads "
            "the outbox in the read-model database (the embedded default)."
        ),
    )
    notify_topic: str = Field("incentive.notifications", description="The notification topic.")
    notify_group: str = Field("incentive-notifier", description="The notifier's consumer group.")
    notify_max_attempts: int = Field(
        6, ge=1, le=100, description="Attempts per delivery before it is dead-lettered."
    )
    notify_backoff_seconds: float = Field(
        2.0, gt=0, le=3600, description="Wait after the first failed attempt (then doubled)."
    )
    notify_backoff_max_seconds: float = Field(
        600.0, gt=0, le=86_400, description="The longest wait between two attempts."
    )
    notify_concurrency: int = Field(
        8, ge=1, le=256, description="Deliveries attempted at once (a slow receiver waits alone)."
    )
    notify_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Timeout of one webhook request or SMTP session."
    )
    smtp_host: str | None = Field(None, description="SMTP server for e-mail (unset: no e-mail).")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP session with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Connect with TLS from the start (port 465).")
    smtp_ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) the SMTP server's certificate is verified with "
        "(default: the system's).",
    )
    smtp_user: str | None = Field(None, description="SMTP user name (unset: no login).")
    smtp_password: str | None = Field(None, description="SMTP password.")
    smtp_from: str = Field(
        "incentive-engine@localhost", description="The From address of notification e-mail."
    )

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
