"""The authorisation matrix: every API route (read from the app's OpenAPI document, so a new
route without an entry here fails) × every role (and API key) × every relation to the rep
asked about (own, report, former report, non-report, nonexistent), asserting the documented
rule of the README's "Who sees what", including derived exposure through boards, KPIs,
quotas, attainment and simulations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.auth import Role
from incentive_engine.settings import Settings
from tests.conftest import postgres_settings, sqlite_settings
from tests.e2e.api_helpers import auth
from tests.e2e.test_api_visibility import seeded

F, M, R, P, IG = Role.FINANCE, Role.MANAGER, Role.REP, Role.PLAN_ADMIN, Role.INTEGRATION
CALLERS: dict[str, tuple[Role, str] | str] = {
    "rep": (R, "an"),
    "manager": (M, "mgr"),
    "finance": (F, "fin"),
    "plan_admin": (P, "pa"),
    "integration": (IG, "crm"),
    "integration key": "crm-key-1",
    "finance key": "fin-key-1",
}
"""Each caller: a role and subject (bearer token), or an API key."""
KEY_ROLES = {"crm-key-1": IG, "fin-key-1": F}
RELATIONS = ("own", "report", "former report", "non-report", "nonexistent")
TARGET = {"report": "an", "former report": "left", "non-report": "chau", "nonexistent": "ghost"}
SEES = {
    # role -> the reps whose pay, revenue and attainment of 2026-Q1 it sees
    R: {"an"},
    M: {"mgr", "an", "binh"},
    F: None,  # everyone
    P: set(),
    IG: set(),
}
QUOTAS = {**SEES, P: None}
ACCEPTANCES = {**SEES, P: None}
"""Whose plan acceptance each role sees: as pay, and plan admins everyone's."""


def role_of(caller: str) -> Role:
    """The role a caller acts in."""
    found = CALLERS[caller]
    return KEY_ROLES[found] if isinstance(found, str) else found[0]


def subject_of(caller: str) -> str:
    """The subject of a caller (the rep id for reps and managers)."""
    found = CALLERS[caller]
    return found[1] if isinstance(found, tuple) else "svc"


def sees(table: dict[Role, set[str] | None], caller: str, rep_id: str) -> bool:
    """Whether the documented rule lets the caller see this rep."""
    found = table[role_of(caller)]
    return found is None or rep_id in found


def only_visible(table: dict[Role, set[str] | None], ids: Callable[[Any], set[str]]) -> Any:
    """A check that the reps a body exposes are all visible to the caller."""

    def check(caller: str, body: Any) -> None:
        found = table[role_of(caller)]
        exposed = ids(body)
        assert found is None or exposed <= found, (caller, exposed - found)

    return check


def board_values(body: Any) -> set[str]:
    """Reps whose value a board shows."""
    return {r["rep_id"] for r in body["items"] if r["value"] is not None}


@dataclass(frozen=True)
class Entry:
    """One route's rule: the roles admitted, whether it names a rep (then the caller must
    see that rep), how to call it, and what of a 200 body must stay within the rule."""

    roles: frozenset[Role]
    per_rep: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    exposure: Callable[[str, Any], None] | None = None


def e(*roles: Role, **kw: Any) -> Entry:
    """An entry."""
    return Entry(frozenset(roles), **kw)


Q = {"period": "2026-Q1"}
SIM = {"plan_version": "example@1", "baseline": "example@1", "from": "2026-Q1", "to": "2026-Q1"}
WHAT_IF = {"amount": "60000000", "close_date": "2026-03-01", "product_group": "cloud"}
MATRIX: dict[tuple[str, str], list[Entry]] = {
    ("get", "/healthz"): [e(F, M, R, P, IG)],
    ("get", "/readyz"): [e(F, M, R, P, IG)],
    ("get", "/v1/audit/export/{period}"): [e(F)],
    ("get", "/v1/audit/verify"): [e(F)],
    ("get", "/v1/audit/{rep}/{period}"): [e(F, per_rep=True, params=Q)],
    ("get", "/v1/leaderboards/{metric}"): [
        e(R, M, F, P, params={**Q, "metric": m}, exposure=only_visible(SEES, board_values))
        for m in ("revenue", "attainment")
    ]
    + [e(R, M, F, P, params={**Q, "metric": m}) for m in ("points", "deals_won")],
    ("get", "/v1/kpis"): [e(M, F, P)],
    ("get", "/v1/kpis/{name}"): [
        e(
            M,
            F,
            params={**Q, "name": n, "by": "rep"},
            exposure=only_visible(SEES, lambda b: {r["group"] for r in b["items"]} - {"(none)"}),
        )
        for n in ("pace", "behind_pace", "win_rate", "deal_size")
    ]
    + [e(M, F, P, params={**Q, "name": "pace", "by": "team"})],
    ("get", "/v1/adjustments"): [e(F)],
    ("post", "/v1/adjustments"): [e(F, body={})],
    ("post", "/v1/adjustments/{proposal_id}/approve"): [
        e(F, params={"proposal_id": "nope"}, body={})
    ],
    ("post", "/v1/adjustments/{proposal_id}/reject"): [
        e(F, params={"proposal_id": "nope"}, body={"reason": "not agreed"})
    ],
    ("get", "/v1/disputes"): [e(R, M, F)],
    ("post", "/v1/disputes"): [e(R, M, F, body={})],
    # a dispute the caller may not read (here: none exists) is a 403 for reps and managers,
    # never a 404 that would tell it exists; finance gets the 404
    ("get", "/v1/disputes/{dispute_id}"): [e(F, params={"dispute_id": "nope"})],
    ("post", "/v1/disputes/{dispute_id}/comments"): [
        e(F, params={"dispute_id": "nope"}, body={"comment": "why?"})
    ],
    ("post", "/v1/disputes/{dispute_id}/resolve"): [
        e(M, F, params={"dispute_id": "nope"}, body={})
    ],
    ("post", "/v1/events"): [e(IG, F, body={})],
    ("post", "/v1/imports"): [e(IG, F, body={})],
    ("get", "/v1/voids"): [e(F)],
    ("post", "/v1/voids"): [e(F, body={})],
    ("post", "/v1/voids/{proposal_id}/approve"): [e(F, params={"proposal_id": "nope"}, body={})],
    ("get", "/v1/reps/{rep}/earnings"): [e(R, M, F, per_rep=True)],
    ("get", "/v1/reps/{rep}/points"): [e(R, M, F, per_rep=True, params=Q)],
    ("get", "/v1/reps/{rep}/badges"): [e(R, M, F, per_rep=True)],
    ("get", "/v1/reps/{rep}/statements/{period}"): [e(R, M, F, per_rep=True, params=Q)],
    # an estimate reveals what a deal would pay: pay (reps and managers only, as the page)
    ("post", "/v1/reps/{rep}/what-if"): [e(R, M, per_rep=True, body=WHAT_IF)],
    ("get", "/v1/payouts/{period}"): [e(F, params=Q)],
    ("get", "/v1/payroll/{period}"): [e(F, params=Q)],
    ("post", "/v1/periods/{period}/close"): [e(F, params=Q, body={})],
    ("get", "/v1/periods/{period}/checks"): [e(F, params=Q)],
    ("get", "/v1/plans/schema"): [e(P, F)],
    ("post", "/v1/plans/validate"): [e(P, F, body={})],
    ("get", "/v1/plans"): [e(P, F)],
    ("post", "/v1/plans"): [e(P, body={})],
    ("get", "/v1/plans/{plan_id}/versions/{version}"): [
        e(P, F, params={"plan_id": "example", "version": 1})
    ],
    # a rep (or manager) accepts their own version; finance records paper signatures
    ("post", "/v1/plans/{plan_id}/versions/{version}/acceptances"): [
        e(R, M, F, params={"plan_id": "example", "version": 1}, body={})
    ],
    ("get", "/v1/plans/{plan_id}/versions/{version}/acceptances"): [
        e(
            R,
            M,
            F,
            P,
            params={"plan_id": "example", "version": 1},
            exposure=only_visible(ACCEPTANCES, lambda b: {r["rep_id"] for r in b["items"]}),
        )
    ],
    ("post", "/v1/simulations"): [
        e(
            P,
            F,
            body=SIM,
            exposure=only_visible(SEES, lambda b: {r["rep_id"] for r in b["reps"]}),
        )
    ],
    ("get", "/v1/territories"): [e(M, F, P)],
    ("get", "/v1/quotas"): [
        e(
            M,
            F,
            P,
            exposure=only_visible(
                QUOTAS, lambda b: {q["subject_id"] for q in b["items"] if q["subject"] == "rep"}
            ),
        )
    ],
    ("get", "/v1/attainment/{period}"): [
        e(
            R,
            M,
            F,
            params=Q,
            exposure=only_visible(SEES, lambda b: {r["subject_id"] for r in b["items"]}),
        ),
        e(R, M, F, per_rep=True, params=Q),  # ?rep=...
        e(M, F, P, params={**Q, "by": "team"}),
    ],
    ("post", "/v1/quotas/allocate"): [e(F, P, body={})],
    ("get", "/v1/access-log"): [e(F)],
    # a rep's (or manager's) own notification preferences: the route names no rep
    ("get", "/v1/me/notification-preferences"): [e(R, M)],
    ("put", "/v1/me/notification-preferences"): [e(R, M, body={"language": "en"})],
}
OPEN = {("get", "/healthz"), ("get", "/readyz")}
"""Routes that answer without credentials."""


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TestClient]:
    s = seeded(sqlite_settings(tmp_path_factory.mktemp("matrix")))
    s = s.model_copy(update={"api_keys": {**s.api_keys, "fin-key-1": "finance:fin-svc"}})
    return s, TestClient(create_app(s), raise_server_exceptions=False)


def test_every_route_has_a_matrix_entry(matrix_app: tuple[Settings, TestClient]) -> None:
    _, c = matrix_app
    paths = c.get("/openapi.json").json()["paths"]
    routes = {(method, path) for path, ops in paths.items() for method in ops}
    assert routes - set(MATRIX) == set(), "routes without an authorisation rule"
    assert set(MATRIX) - routes == set(), "rules of routes that no longer exist"


def headers_of(s: Settings, caller: str) -> dict[str, str]:
    """The credentials of a caller."""
    found = CALLERS[caller]
    if isinstance(found, str):
        return {"X-API-Key": found}
    return auth(s, *found)


def call(c: TestClient, s: Settings, key: tuple[str, str], entry: Entry, caller: str,
         rep: str | None) -> Response:  # fmt: skip
    """Call a route as the caller, about a rep (per-rep entries)."""
    method, path = key
    params = dict(entry.params)
    if rep is not None:
        if "{rep}" in path:
            params["rep"] = rep
        else:
            params["rep_query"] = rep
    url = path
    for name in list(params):
        if "{" + name + "}" in url:
            url = url.replace("{" + name + "}", str(params.pop(name)))
    if "rep_query" in params:
        params["rep"] = params.pop("rep_query")
    kwargs: dict[str, Any] = {"params": params, "headers": headers_of(s, caller)}
    if method in ("post", "put"):
        kwargs["json"] = entry.body
    return c.request(method.upper(), url, **kwargs)


CASES = [
    (key, i, caller, relation)
    for key, entries in MATRIX.items()
    for i, entry in enumerate(entries)
    for caller in CALLERS
    for relation in (RELATIONS if entry.per_rep else (None,))
]


@pytest.mark.parametrize(("key", "i", "caller", "relation"), CASES)
def test_matrix(
    matrix_app: tuple[Settings, TestClient],
    key: tuple[str, str],
    i: int,
    caller: str,
    relation: str | None,
) -> None:
    _check(*matrix_app, key, i, caller, relation)


def _check(
    s: Settings, c: TestClient, key: tuple[str, str], i: int, caller: str, relation: str | None
) -> None:
    """Call one cell of the matrix and assert the documented rule."""
    entry = MATRIX[key][i]
    rep = None
    if relation is not None:
        rep = subject_of(caller) if relation == "own" else TARGET[relation]
    response = call(c, s, key, entry, caller, rep)
    assert response.status_code < 500, response.text
    role = role_of(caller)
    admitted = role in entry.roles or key in OPEN
    if admitted and rep is not None:
        admitted = sees(SEES, caller, rep)
    if not admitted:
        assert response.status_code == 403, (caller, relation, response.text)
        return
    assert response.status_code not in (401, 403), (caller, relation, response.text)
    if relation == "nonexistent":
        assert response.status_code == 404, response.text
    if entry.exposure is not None and response.status_code == 200:
        entry.exposure(caller, response.json())


def test_no_credentials_get_401(matrix_app: tuple[Settings, TestClient]) -> None:
    _, c = matrix_app
    for (method, path), entries in MATRIX.items():
        if (method, path) in OPEN:
            continue
        entry = entries[0]
        url = path
        for name, value in {**entry.params, "rep": "an"}.items():
            url = url.replace("{" + name + "}", str(value))
        url = url.replace("{period}", "2026-Q1")
        got = c.request(method.upper(), url)
        assert got.status_code == 401, (method, path, got.status_code)


REDUCED = [key for key, entries in MATRIX.items() if any(e.per_rep or e.exposure for e in entries)]
"""On PostgreSQL: the routes that name a rep or expose figures of several."""


def test_reduced_matrix_on_postgres(pg_schema: str) -> None:
    s = seeded(postgres_settings(pg_schema))
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        for key in REDUCED:
            for i, entry in enumerate(MATRIX[key]):
                for caller in ("rep", "manager", "finance", "plan_admin", "integration key"):
                    for relation in RELATIONS if entry.per_rep else (None,):
                        _check(s, c, key, i, caller, relation)
