"""The ``plan`` commands, end to end, on a real SQLite file (and once on PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import incentive_engine.cli.main
from incentive_engine.cli.plans import plan_app
from incentive_engine.domain.events import content_hash
from plans.documents import load_plan
from tests.conftest import postgres_settings

CATALOG = Path(__file__).resolve().parents[2] / "plans" / "catalog"
FIELD = CATALOG / "field-sales-vn.yaml"
MANAGERS = CATALOG / "sales-managers-vn.yaml"

# The plan sub-application under the real root callback (which reads --store), exactly as
# the main command line registers it.
app = typer.Typer()
app.callback()(incentive_engine.cli.main.main)
app.add_typer(plan_app, name="plan")
runner = CliRunner()


def run(*args: str, store: Path | str | None = None):  # type: ignore[no-untyped-def]
    prefix = ["--store", store if isinstance(store, str) else f"sqlite:///{store}"] if store else []
    return runner.invoke(app, [*prefix, "plan", *args])


def field_hash() -> str:
    return content_hash(load_plan(FIELD.read_text(encoding="utf-8")).document())


def v2_file(tmp_path: Path) -> Path:
    text = FIELD.read_text(encoding="utf-8")
    text = text.replace("version: 1", "version: 2", 1).replace("rate: 8", "rate: 9")
    path = tmp_path / "field-sales-vn-v2.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["validate", "publish", "list", "show", "diff", "schema"])
def test_every_plan_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_validate_a_good_file() -> None:
    result = run("validate", str(FIELD))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{FIELD}: valid plan field-sales-vn v1 (content hash {field_hash()})\n"


def test_validate_a_bad_file_prints_every_problem_on_stderr(tmp_path: Path) -> None:
    text = FIELD.read_text(encoding="utf-8").replace("rate: 5", "rate: -5")
    text = text.replace("    gate: 40", "    gate: 40\n    colour: red")
    bad = tmp_path / "a plan with a rather long file name so that wrapping would show.yaml"
    bad.write_text(text, encoding="utf-8")
    result = run("validate", str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}: components.0.tiers.1.rate: Input should be greater than or equal to 0",
        f"{bad}: components.0.colour: unknown field",
    ]


def test_validate_missing_file_and_yaml_syntax(tmp_path: Path) -> None:
    missing = run("validate", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "nope.yaml: no such file" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("plan_id: [p,\n", encoding="utf-8")
    result = run("validate", str(broken))
    assert result.exit_code == 1 and f"{broken}: line 2, column" in result.stderr


def test_publish_list_show_diff_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    assert run("list", store=db).exit_code == 4  # reading never creates a store
    created = runner.invoke(incentive_engine.cli.main.app, ["--store", f"sqlite:///{db}", "init"])
    assert created.exit_code == 0, created.output
    assert run("list", store=db).stdout == "no plan is published yet\n"
    assert json.loads(run("list", "--format", "json", store=db).stdout) == []

    published = run("publish", str(FIELD), "--by", "Lan", store=db)
    assert published.exit_code == 0, published.output
    assert published.stdout == (
        f"published plan field-sales-vn v1 ({field_hash()}) as event plan:field-sales-vn:v1 "
        "at log position 1\n"
    )
    again = run("publish", str(FIELD), store=db)
    assert again.exit_code == 0
    assert (
        "already published with this document" in again.stdout and "nothing to do" in again.stdout
    )
    assert run("publish", str(MANAGERS), store=db).exit_code == 0
    v2 = v2_file(tmp_path)
    assert run("publish", str(v2), store=db).exit_code == 0

    # A changed document under a published version: refused, exit 1, nothing stored.
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        FIELD.read_text(encoding="utf-8").replace("cap: 400_000_000", "cap: 500_000_000"),
        encoding="utf-8",
    )
    refused = run("publish", str(changed), store=db)
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"plan field-sales-vn v1: already published with a different document ({field_hash()}); "
        "published versions are immutable: publish version 3\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("plan_id: x\n", encoding="utf-8")
    invalid = run("publish", str(bad), store=db)
    assert invalid.exit_code == 1 and f"{bad}: version: Field required" in invalid.stderr

    listed = json.loads(run("list", "--format", "json", store=db).stdout)
    assert [(r["plan"], r["version"]) for r in listed] == [
        ("field-sales-vn", 1),
        ("field-sales-vn", 2),
        ("sales-managers-vn", 1),
    ]
    assert listed[0] == {
        "plan": "field-sales-vn",
        "version": 1,
        "name": "Field sales plan — Vietnam 2026",
        "effective_from": "2026-01-01",
        "effective_to": None,
        "currency": "VND",
        "period": "quarter",
        "components": ["commission", "cloud-q1", "new-customer"],
        "content_hash": field_hash(),
    }
    table = run("list", store=db).stdout
    assert "sales-managers-vn" in table and "team-override, team-target" in table

    # show: YAML (default) that validates again to the same hash; JSON with the same facts.
    shown = run("show", "field-sales-vn", "--version", "1", store=db)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(
        "# plan field-sales-vn v1: Field sales plan — Vietnam 2026\n"
        f"# content hash: {field_hash()}\n"
        "# published by event: plan:field-sales-vn:v1\n"
    )
    assert "cap: 400000000\n" in shown.stdout and "multiplier" not in shown.stdout
    assert content_hash(load_plan(shown.stdout).document()) == field_hash()
    latest = json.loads(run("show", "field-sales-vn", "--format", "json", store=db).stdout)
    assert (latest["version"], latest["event_id"]) == (2, "plan:field-sales-vn:v2")
    assert latest["content_hash"] == content_hash(latest["document"])
    assert latest["document"]["components"][0]["tiers"][2]["rate"] == "9"
    missing = run("show", "field-sales-vn", "--version", "7", store=db)
    assert missing.exit_code == 1
    assert missing.stderr == "plan 'field-sales-vn' has no version 7; published versions: 1, 2\n"

    # diff: published against published, file against published, as table and JSON.
    changes = json.loads(
        run("diff", "field-sales-vn@1", "field-sales-vn@2", "--format", "json", store=db).stdout
    )
    assert changes == [
        {
            "where": "components.commission.tiers.2.rate",
            "kind": "changed",
            "before": "8",
            "after": "9",
        }
    ]
    assert (
        json.loads(
            run("diff", str(FIELD), "field-sales-vn@latest", "--format", "json", store=db).stdout
        )
        == changes
    )
    table = run("diff", str(v2), "field-sales-vn@1", store=db)
    assert table.exit_code == 0
    assert "components.commission.tiers.2.rate" in table.stdout and "changed" in table.stdout
    same = run("diff", str(FIELD), "field-sales-vn@1", store=db)
    assert same.stdout == f"no changes from {FIELD} to field-sales-vn@1\n"
    roles = run("diff", "field-sales-vn@1", "sales-managers-vn@1", store=db).stdout
    assert "[rep]" in roles and "[manager]" in roles  # brackets are text, not markup
    assert run("diff", "field-sales-vn@x", str(FIELD), store=db).exit_code == 2
    unknown = run("diff", "nope@1", str(FIELD), store=db)
    assert unknown.exit_code == 1 and "no published plan 'nope'" in unknown.stderr


def test_schema_prints_the_plan_schema() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert set(schema["properties"]["components"]["items"]["discriminator"]["mapping"]) == {
        "rate",
        "target_incentive",
        "spiff",
        "override",
        "draw",
        "kpi_bonus",
        "team_pool",
    }


def test_publish_and_list_on_postgres(pg_schema: str) -> None:
    url = postgres_settings(pg_schema).store_url
    published = run("publish", str(FIELD), store=url)
    assert published.exit_code == 0, published.output
    assert "as event plan:field-sales-vn:v1" in published.stdout
    assert "nothing to do" in run("publish", str(FIELD), store=url).stdout
    listed = json.loads(run("list", "--format", "json", store=url).stdout)
    assert [(r["plan"], r["version"], r["content_hash"]) for r in listed] == [
        ("field-sales-vn", 1, field_hash())
    ]
