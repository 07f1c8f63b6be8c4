"""Keys, tokens and files (issue 13, section 5, and the bad-credential limit of section 2):
owner-only files, weak secrets refused, key rotation by kid, short-lived revocable tokens,
identity-provider tokens checked with a public key, and 429 for a client guessing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.cli.main import app as cli
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from projections.base import metadata
from projections.runner import make_engine
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client, seed
from tests.factories import hired

ROOT = Path(__file__).resolve().parents[2]
URL = "/v1/reps/an/statements/2026-Q1"
K1 = "first-signing-key-for-rotation-tests-0123456789"
K2 = "second-signing-key-for-rotation-tests-9876543210"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask of a login shell, under which the base made 0644 files."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def run_cli(store: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["--store", store, *args], env=env or {})


# ------------------------------------------------------------------ files


def test_store_read_model_wal_shm_and_lock_files_are_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    settings = sqlite_settings(tmp_path)
    with EventStore(settings) as store:
        store.append([hired("an")])
        views = make_engine(settings.resolved_views_url())
        metadata.create_all(views)
        with views.connect() as conn:  # holds the read model's -wal and -shm open
            conn.exec_driver_sql("SELECT count(*) FROM projection_tracking").all()
            names = sorted(p.name for p in tmp_path.iterdir())
            assert {"events.db", "events.db-wal", "events.db-shm", "events.views.db"} <= set(
                names
            ), names
            assert {"events.views.db-wal", "events.views.db-shm"} <= set(names), names
            loose = {n: oct(mode(tmp_path / n)) for n in names if mode(tmp_path / n) & 0o077}
            assert loose == {}, f"files others may read: {loose}"
        views.dispose()


def test_key_file_is_never_readable_by_others_even_while_it_is_created(
    tmp_path: Path, umask_022: None
) -> None:
    """Every file system call the key creation makes is watched (an audit hook, which sees
    the calls before they run): at no point may a key file exist with group/other bits."""
    seen: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not watching[0] or event not in ("open", "os.chmod", "os.link", "os.rename"):
            return
        for path in tmp_path.glob("*secret*"):
            if path.is_file() and mode(path) & 0o077:
                seen.append(f"{event}: {path.name} {oct(mode(path))}")

    sys.addaudithook(hook)
    try:
        result = run_cli(f"sqlite:///{tmp_path / 'events.db'}", "token", "rep", "an")
    finally:
        watching[0] = False
    assert result.exit_code == 0, result.output
    assert seen == [], seen
    assert mode(tmp_path / "events.db.secret") == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_key_file_others_may_read_is_refused_by_name(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    assert run_cli(store, "token", "rep", "an").exit_code == 0
    key = tmp_path / "events.db.secret"
    key.chmod(0o644)
    refused = run_cli(store, "token", "rep", "an")
    assert refused.exit_code == 1
    assert str(key) in refused.output and f"chmod 600 {key}" in refused.output
    serve = run_cli(store, "serve", "--port", "1")
    assert serve.exit_code == 1 and f"chmod 600 {key}" in serve.output
    c = client(sqlite_settings(tmp_path))
    token = jwt.encode(
        {"iss": "incentive-engine", "sub": "an", "role": "rep", "exp": 2**32},
        key.read_text().strip(),
        algorithm="HS256",
    )
    answer = c.get(URL, headers=bearer(token))
    assert answer.status_code == 503 and "chmod 600" in answer.json()["error"]["message"]
    key.chmod(0o600)
    assert run_cli(store, "token", "rep", "an").exit_code == 0


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize("weak", ["a", "secret", "changeme", "x" * 48, "secret" * 8])
def test_weak_secrets_are_refused_with_how_to_make_one(tmp_path: Path, weak: str) -> None:
    store = f"sqlite:///{tmp_path / 'events.db'}"
    result = run_cli(store, "token", "rep", "an", env={"INCENTIVE_API_SECRET": weak})
    assert result.exit_code == 1, result.output
    assert "INCENTIVE_API_SECRET" in result.output and "too weak" in result.output
    assert "secrets.token_urlsafe(48)" in result.output


def test_serve_on_postgresql_refuses_a_weak_secret(pg_schema: str) -> None:
    from tests.conftest import PG_DSN

    env = {
        **os.environ,
        "INCENTIVE_STORE_URL": f"{PG_DSN}?schema={pg_schema}",
        "INCENTIVE_API_SECRET": "changeme",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "incentive_engine", "serve", "--port", "1"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("serve started with INCENTIVE_API_SECRET=changeme")
    assert done.returncode == 1
    assert "too weak" in done.stderr and "token_urlsafe(48)" in done.stderr


# ------------------------------------------------------ lifetime, rotation


def test_tokens_are_short_lived_and_carry_a_key_id_and_a_token_id(tmp_path: Path) -> None:
    s = api_settings(sqlite_settings(tmp_path))
    token = issue_token(s, Role.REP, "an")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["kid"] == "default" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 30 * 60
    with pytest.raises(ValueError, match="token_minutes"):
        Settings(store_url=s.store_url, token_minutes=60 * 24 * 30)
    store = s.store_url
    env = {"INCENTIVE_API_SECRET": s.api_secret or ""}
    too_long = run_cli(store, "token", "rep", "an", "--minutes", "43200", env=env)
    assert too_long.exit_code == 2 and "1440" in too_long.output
    ok = run_cli(store, "token", "issue", "rep", "an", "--minutes", "15", env=env)
    assert ok.exit_code == 0
    claims = jwt.decode(ok.stdout.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_keys_rotate_by_kid(settings: Settings) -> None:
    old = settings.model_copy(update={"api_secrets": {"2025": K1}})
    seed(old)
    before = issue_token(old, Role.REP, "an")
    assert jwt.get_unverified_header(before)["kid"] == "2025"

    both = settings.model_copy(update={"api_secrets": {"2025": K1, "2026": K2}})
    after = issue_token(both, Role.REP, "an")
    assert jwt.get_unverified_header(after)["kid"] == "2026"  # the newest signs
    jwt.decode(after, K2, algorithms=["HS256"])
    c = client(both)
    assert c.get(URL, headers=bearer(before)).status_code == 200  # not yet retired
    assert c.get(URL, headers=bearer(after)).status_code == 200

    retired = client(settings.model_copy(update={"api_secrets": {"2026": K2}}))
    gone = retired.get(URL, headers=bearer(before))
    assert gone.status_code == 401 and "retired or unknown key" in gone.json()["error"]["message"]
    assert retired.get(URL, headers=bearer(after)).status_code == 200
    # a token naming the new kid but signed with the retired key is not valid either
    forged = jwt.encode(
        jwt.decode(before, options={"verify_signature": False}),
        K1,
        algorithm="HS256",
        headers={"kid": "2026"},
    )
    assert retired.get(URL, headers=bearer(forged)).status_code == 401


# ------------------------------------------------------------- revocation


def test_tokens_are_revoked_by_id_and_by_subject(settings: Settings) -> None:
    s = api_settings(settings).model_copy(update={"api_revocation_refresh_seconds": 0})
    seed(s)
    c = client(s)
    store = s.store_url
    issued = run_cli(store, "token", "rep", "an", env={"INCENTIVE_API_SECRET": s.api_secret or ""})
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert jti in issued.stderr
    other = issue_token(s, Role.REP, "an")
    assert c.get(URL, headers=bearer(token)).status_code == 200

    assert run_cli(store, "token", "revoke", "--id", jti).exit_code == 0
    denied = c.get(URL, headers=bearer(token))
    assert denied.status_code == 401 and "revoked" in denied.json()["error"]["message"]
    assert c.get(URL, headers=bearer(other)).status_code == 200  # only that token

    finance = issue_token(s, Role.FINANCE, "fin")
    revoked = run_cli(store, "token", "revoke", "--subject", "an", "--before", "now")
    assert revoked.exit_code == 0, revoked.output
    assert c.get(URL, headers=bearer(other)).status_code == 401
    assert c.get(URL, headers=bearer(finance)).status_code == 200  # other subjects unaffected
    time.sleep(1.1)  # "not before" has a resolution of a second (the tokens' iat)
    later = issue_token(s, Role.REP, "an")
    assert c.get(URL, headers=bearer(later)).status_code == 200


def test_revocation_reaches_a_running_process_within_its_refresh(tmp_path: Path) -> None:
    s = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={"api_revocation_refresh_seconds": 0.5}
    )
    seed(s)
    c = client(s)
    token = issue_token(s, Role.REP, "an")
    assert c.get(URL, headers=bearer(token)).status_code == 200  # the list is now cached
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert run_cli(s.store_url, "token", "revoke", "--id", jti).exit_code == 0
    time.sleep(0.6)
    assert c.get(URL, headers=bearer(token)).status_code == 401


# --------------------------------------------------- identity providers


def _public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _private_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(("algorithm", "source"), [("RS256", "pem"), ("EdDSA", "jwks")])
def test_identity_provider_tokens_are_verified_with_its_public_key(
    tmp_path: Path, algorithm: str, source: str
) -> None:
    if algorithm == "RS256":
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        stranger: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key, stranger = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    if source == "pem":
        (tmp_path / "idp.pem").write_bytes(_public_pem(key))
        files: dict[str, Any] = {"api_idp_public_key_file": tmp_path / "idp.pem"}
    else:
        jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key()))
        (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "idp-1"}]}))
        files = {"api_idp_jwks_file": tmp_path / "jwks.json"}
    s = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={
            **files,
            "api_idp_issuer": "https://idp.example",
            "api_idp_audience": "incentive-engine",
            "api_idp_role_claim": "groups",
            "api_idp_subject_claim": "employee_id",
            "api_idp_roles": {"sales-rep": "rep", "sales-finance": "finance"},
            "api_revocation_refresh_seconds": 0,
        }
    )
    seed(s)
    c = client(s)
    now = int(time.time())
    claims = {
        "iss": "https://idp.example",
        "aud": "incentive-engine",
        "sub": "00u1abc",
        "employee_id": "an",
        "groups": ["everyone", "sales-rep"],
        "iat": now,
        "exp": now + 600,
        "jti": "idp-token-1",
    }

    def sign(changes: dict[str, Any] | None = None, signer: Any = key, **kw: Any) -> str:
        return jwt.encode(
            {**claims, **(changes or {})},
            _private_pem(signer),
            algorithm=algorithm,
            headers={"kid": "idp-1"},
            **kw,
        )

    good = c.get(URL, headers=bearer(sign()))
    assert good.status_code == 200, good.text
    assert c.get("/v1/reps/binh/statements/2026-Q1", headers=bearer(sign())).status_code == 403
    for bad in (
        sign({"aud": "someone-else"}),
        sign({"iss": "https://evil.example"}),
        sign({"exp": now - 3600}),
        sign({"groups": ["everyone"]}),  # no engine role
        sign({"groups": ["sales-rep", "sales-finance"]}),  # ambiguous
        sign(signer=stranger),
        # an HMAC token claiming the identity provider's issuer
        jwt.encode(claims, K1, algorithm="HS256", headers={"kid": "idp-1"}),
        jwt.encode(claims, None, algorithm="none"),
    ):
        assert c.get(URL, headers=bearer(bad)).status_code == 401, bad
    assert run_cli(s.store_url, "token", "revoke", "--id", "idp-token-1").exit_code == 0
    assert c.get(URL, headers=bearer(sign())).status_code == 401
    assert c.get(URL, headers=bearer(sign({"jti": "idp-token-2"}))).status_code == 200


# -------------------------------------------------------------- rate limit


def test_bad_credentials_are_rate_limited_per_client(tmp_path: Path) -> None:
    s = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={"api_auth_failures": 20, "api_auth_window_seconds": 60}
    )
    seed(s)
    app = create_app(s)
    attacker = TestClient(app, raise_server_exceptions=False, client=("192.0.2.7", 40000))
    neighbour = TestClient(app, raise_server_exceptions=False, client=("192.0.2.8", 40000))
    good = auth(s, Role.REP, "an")
    assert attacker.get(URL, headers=good).status_code == 200
    statuses: dict[int, int] = {}
    retry_after = set()
    for i in range(400):
        bad = {"Authorization": f"Bearer bad{i}"} if i % 2 else {"X-API-Key": f"guess{i}"}
        answer = attacker.get(URL, headers=bad)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if answer.status_code == 429:
            retry_after.add(answer.headers["Retry-After"])
    assert statuses.get(401) == 20 and statuses.get(429) == 380, statuses
    assert retry_after and all(1 <= int(v) <= 60 for v in retry_after)
    assert neighbour.get(URL, headers=good).status_code == 200  # another client is unaffected
    blocked = attacker.get(URL, headers=good)  # no oracle while blocked
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert blocked.json()["error"]["code"] == "too_many_requests"
    assert attacker.get("/healthz").status_code == 200


def test_a_blocked_client_is_let_in_again_when_its_window_has_passed(tmp_path: Path) -> None:
    s = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={"api_auth_failures": 3, "api_auth_window_seconds": 1}
    )
    seed(s)
    c = client(s)
    good = auth(s, Role.REP, "an")
    codes = [c.get(URL, headers={"X-API-Key": "guess"}).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert c.get(URL, headers=good).status_code == 429
    time.sleep(1.1)
    assert c.get(URL, headers=good).status_code == 200


def test_the_rate_limiter_remembers_a_bounded_number_of_clients() -> None:
    from api.ratelimit import FailureLimiter

    ticks = [0.0]
    limiter = FailureLimiter(3, 60, 100, clock=lambda: ticks[0])
    for i in range(1000):
        for _ in range(3):
            limiter.failed(f"198.51.100.{i}")
    assert len(limiter) == 100
    assert limiter.retry_after("198.51.100.999") == 60
    assert limiter.retry_after("198.51.100.0") is None  # forgotten first
    ticks[0] = 60.0
    assert limiter.retry_after("198.51.100.999") is None


def test_an_unreadable_revocation_list_refuses_tokens_rather_than_skip_the_check(
    tmp_path: Path,
) -> None:
    from api.auth import Authenticator
    from incentive_engine.domain.errors import Unavailable

    s = api_settings(sqlite_settings(tmp_path)).model_copy(
        update={"views_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    with pytest.raises(Unavailable, match="revocation list"):  # a 503 at the door
        Authenticator(s).from_token(issue_token(s, Role.REP, "an"))


def test_a_symlink_planted_at_the_key_path_is_refused_not_written_through(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere" / "stolen"
    target.parent.mkdir()
    (tmp_path / "events.db.secret").symlink_to(target)  # dangling: the target is not there
    result = run_cli(f"sqlite:///{tmp_path / 'events.db'}", "token", "rep", "an")
    assert result.exit_code == 1 and "not a regular file" in result.output
    assert not target.exists()
