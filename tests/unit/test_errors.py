"""Every error of the engine has a shared base, and each door maps the bases once."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from api.errors import status_of
from incentive_engine.cli.common import EXIT_REFUSED, EngineErrors
from incentive_engine.domain import errors
from incentive_engine.domain.attainment import AttainmentError
from incentive_engine.domain.errors import Conflict, EngineError, Forbidden, Invalid, NotFound
from incentive_engine.domain.kpis import KpiConflict, KpiError, KpiInvalid
from incentive_engine.domain.leaderboards import (
    LeaderboardConflict,
    LeaderboardError,
    LeaderboardInvalid,
)
from incentive_engine.domain.money import UnknownCurrencyError
from incentive_engine.domain.quotas import AllocationError, QuotaError, RollUpError
from incentive_engine.domain.simulation import SimulationError
from incentive_engine.domain.territories import TerritoryDesignError
from incentive_engine.services.commissions import CloseRefused, CommissionError, CommissionNotFound
from incentive_engine.services.disputes import (
    DisputeConflict,
    DisputeError,
    DisputeForbidden,
    DisputeInvalid,
    DisputeNotFound,
)
from incentive_engine.services.plan_publishing import PlanPublishError, UnknownPlanVersion
from plans.documents import PlanError
from plans.evaluate import EvaluationError

KINDS = {
    AttainmentError: Conflict,
    CloseRefused: Conflict,
    CommissionNotFound: NotFound,
    DisputeConflict: Conflict,
    DisputeForbidden: Forbidden,
    DisputeInvalid: Invalid,
    DisputeNotFound: NotFound,
    EvaluationError: Conflict,
    KpiConflict: Conflict,
    KpiInvalid: Invalid,
    LeaderboardConflict: Conflict,
    LeaderboardInvalid: Invalid,
    AllocationError: Invalid,
    RollUpError: Conflict,
    PlanError: Invalid,
    PlanPublishError: Conflict,
    SimulationError: Invalid,
    TerritoryDesignError: Invalid,
    UnknownCurrencyError: Invalid,
    UnknownPlanVersion: NotFound,
}
BASES = (NotFound, Forbidden, Conflict, Invalid, errors.Unavailable)


@pytest.mark.parametrize(("error", "kind"), KINDS.items(), ids=lambda x: x.__name__)
def test_each_error_has_exactly_one_kind(error: type[Exception], kind: type) -> None:
    assert issubclass(error, kind)
    assert [b for b in BASES if issubclass(error, b)] == [kind]


@pytest.mark.parametrize(
    "family",
    [CommissionError, DisputeError, KpiError, LeaderboardError, QuotaError],
    ids=lambda x: x.__name__,
)
def test_families_keep_their_names_and_stay_value_errors(family: type[Exception]) -> None:
    assert issubclass(family, EngineError) and issubclass(family, ValueError)
    assert any(issubclass(e, family) for e in KINDS)


def test_the_http_status_of_each_kind() -> None:
    statuses = [status_of(kind("x")) for kind in BASES]
    assert statuses == [404, 403, 409, 422, 503]
    assert status_of(EngineError("refused")) == 409
    assert status_of(CommissionNotFound("unknown rep 'x'")) == 404


def test_the_cli_exits_1_with_the_message_for_any_engine_error() -> None:
    app = typer.Typer(cls=EngineErrors)

    @app.command()
    def fails(kind: str) -> None:
        raise {"not-found": NotFound, "invalid": Invalid}[kind](f"refused: {kind}")

    @app.command()
    def works() -> None:
        typer.echo("ok")

    for kind in ("not-found", "invalid"):
        result = CliRunner().invoke(app, ["fails", kind])
        assert result.exit_code == EXIT_REFUSED == 1
        assert f"refused: {kind}" in result.stderr
    assert CliRunner().invoke(app, ["works"]).exit_code == 0
