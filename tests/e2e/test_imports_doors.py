"""The doors of imports: ``incentive-engine ingest FILE --mapping NAME`` (CSV, XLSX, dry run,
errors by row and column) and ``POST /v1/imports`` (multipart upload, roles, write scopes,
the body limit), both on the one import service."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from api.auth import Role
from incentive_engine.cli.main import app
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import rep_statements, snapshot
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from plans.documents import publication
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings, auth, client
from tests.examples.plans import plan, quota, rep, tiered

SAMPLES = Path(__file__).parents[2] / "incentive_engine" / "imports" / "samples"
SF = SAMPLES / "salesforce-opportunities.csv"
VN = SAMPLES / "vietnamese-spreadsheet.csv"
runner = CliRunner()
KEY = {"X-API-Key": "crm-key-1"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = api_settings(sqlite_settings(tmp_path))
    with EventStore(s) as store:
        store.append([publication(plan(tiered()).plan), rep("an", name="Nguyễn Văn An"),
                      rep("binh", name="Lê Văn Bình"), quota("an", 300_000_000)])  # fmt: skip
    return s


def count(s: Settings) -> int:
    with EventStore(s) as store:
        return store.max_position()


def q1_total(s: Settings) -> Decimal:
    with EventStore(s) as store:
        [statement] = rep_statements(snapshot(store), "an", Period.parse("2026-Q1"))
        return statement.total


def cli(s: Settings, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--store", s.store_url, *args])
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------- CLI


def test_cli_dry_run_prints_counts_events_and_stores_nothing(settings: Settings) -> None:
    before = count(settings)
    code, out, err = cli(settings, "ingest", str(SF), "--mapping", "salesforce-opportunities",
                         "--dry-run")  # fmt: skip
    assert code == 0, err
    assert count(settings) == before
    assert "DealWon" in out and "OpportunityStageChanged" in out
    first = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert first["row"] == 2 and first["event_id"] == "sf-opp-0065g00000AbC01AAF"
    assert "nothing was stored (dry run)" in err


def test_cli_dry_run_as_json(settings: Settings) -> None:
    code, out, _ = cli(settings, "ingest", str(VN), "--mapping", "vietnamese-spreadsheet",
                       "--dry-run", "--format", "json")  # fmt: skip
    [report] = json.loads(out)
    assert code == 0 and report["dry_run"] and report["stored"] == 0
    assert report["counts"] == {"DealLost": 1, "DealWon": 4, "OpportunityCreated": 6}


def test_cli_imports_csv_and_the_statement_pays(settings: Settings) -> None:
    code, _out, err = cli(settings, "ingest", str(SF), "--mapping", "salesforce-opportunities")
    assert code == 0, err
    assert q1_total(settings) == Decimal(17_700_000)


def test_cli_malformed_csv_row_names_row_and_column(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "sf.csv"
    bad.write_text(SF.read_text("utf-8").replace('"90,000,000"', '"90.000.000,5"'), "utf-8")
    before = count(settings)
    code, _, err = cli(settings, "ingest", str(bad), "--mapping", "salesforce-opportunities")
    assert code == 1 and count(settings) == before
    assert f"{bad}: row 4, column 'Amount': OpportunityCreated field 'amount': " in err
    assert "nothing from this file was stored" in err


def test_cli_imports_xlsx_with_a_sheet_and_names_a_bad_cell(
    settings: Settings, tmp_path: Path
) -> None:
    rows = [line.split(";") for line in VN.read_text("utf-8").splitlines()]
    book = openpyxl.Workbook()
    book.active.title = "Tóm tắt"  # type: ignore[union-attr]
    ws = book.create_sheet("Hợp đồng")
    for row in rows:
        ws.append([cell or None for cell in row])
    book.save(tmp_path / "hop-dong.xlsx")
    code, _out, err = cli(settings, "ingest", str(tmp_path / "hop-dong.xlsx"),
                         "--mapping", "vietnamese-spreadsheet", "--sheet", "Hợp đồng")  # fmt: skip
    assert code == 0, err
    assert q1_total(settings) == Decimal(17_700_000)
    ws["L3"] = "32/01/2026"  # Ngày tạo of row 3
    book.save(tmp_path / "bad.xlsx")
    code, _, err = cli(settings, "ingest", str(tmp_path / "bad.xlsx"),
                       "--mapping", "vietnamese-spreadsheet", "--sheet", "Hợp đồng")  # fmt: skip
    assert code == 1
    assert "row 3, column 'Ngày tạo': OpportunityCreated field 'created_date'" in err


def test_cli_refuses_unknown_mapping_bad_mapping_file_and_sheet_of_csv(
    settings: Settings, tmp_path: Path
) -> None:
    code, _, err = cli(settings, "ingest", str(SF), "--mapping", "sap")
    assert code == 2 and "no shipped mapping or mapping file named 'sap'" in err
    assert "salesforce-opportunities" in err
    broken = tmp_path / "m.yaml"
    broken.write_text("events:\n  - type: DealWon\n    event_id: {column: Id}\n"
                      "    fields: {amount: {column: A, parse: {date: 'dd/mm'}}}\n")  # fmt: skip
    code, _, err = cli(settings, "ingest", str(SF), "--mapping", str(broken))
    assert code == 2 and f"{broken}: events.0.fields.amount.parse: unknown date format" in err
    code, _, err = cli(settings, "ingest", str(SF), "--mapping", "salesforce-opportunities",
                       "--sheet", "x")  # fmt: skip
    assert code == 2 and "--sheet applies to XLSX" in err
    code, _, err = cli(settings, "ingest", str(SF), "--dry-run")
    assert code == 2 and "need --mapping" in err


def test_cli_mappings_lists_shows_and_validates(settings: Settings, tmp_path: Path) -> None:
    code, out, _ = cli(settings, "mappings", "--format", "json")
    names = {m["mapping"] for m in json.loads(out)}
    assert {"salesforce-opportunities", "vietnamese-spreadsheet", "hubspot-deals",
            "activities"} <= names  # fmt: skip
    code, out, _ = cli(settings, "mappings", "show", "vietnamese-spreadsheet")
    assert code == 0 and "Doanh nghiệp: business" in out
    copy = tmp_path / "mine.yaml"
    copy.write_text(out.replace("loai_khach_hang:\n", "loai_khach_hang:\n    Hộ KD: business\n"))
    code, out, _ = cli(settings, "mappings", "validate", str(copy))
    assert code == 0 and "valid" in out


# ------------------------------------------------------------------------------- API


def upload(path: Path, name: str | None = None) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name or path.name, path.read_bytes(), "text/csv")}


def test_api_imports_a_csv_upload_and_the_statement_pays(settings: Settings) -> None:
    with client(settings) as c:
        got = c.post("/v1/imports", params={"mapping": "vietnamese-spreadsheet"},
                     files=upload(VN), headers=auth(settings, Role.FINANCE, "fin"))  # fmt: skip
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["stored"] == 11 and body["counts"]["DealWon"] == 4 and not body["dry_run"]
    assert q1_total(settings) == Decimal(17_700_000)


def test_api_dry_run_stores_nothing(settings: Settings) -> None:
    before = count(settings)
    with client(settings) as c:
        got = c.post("/v1/imports", params={"mapping": "salesforce-opportunities", "dry_run": True},
                     files=upload(SF), headers=KEY)  # fmt: skip
    assert got.status_code == 200, got.text
    assert got.json()["counts"]["OpportunityCreated"] == 6 and count(settings) == before


def test_api_refused_rows_name_row_and_column_and_nothing_is_stored(settings: Settings) -> None:
    bad = VN.read_bytes().replace("Cá nhân".encode(), "Hộ KD".encode())
    before = count(settings)
    with client(settings) as c:
        got = c.post("/v1/imports", params={"mapping": "vietnamese-spreadsheet"},
                     files={"file": ("vn.csv", bad, "text/csv")}, headers=KEY)  # fmt: skip
        partial = c.post("/v1/imports", params={"mapping": "vietnamese-spreadsheet",
                                                "partial": True},
                         files={"file": ("vn.csv", bad, "text/csv")}, headers=KEY)  # fmt: skip
    assert got.status_code == 422 and count(settings) == before + 9  # only the partial stored
    [first, *_] = got.json()["error"]["details"]
    assert (first["row"], first["column"], first["field"]) == (
        4,
        "Loại khách hàng",
        "customer.customer_type",
    )
    assert partial.status_code == 200 and partial.json()["stored"] == 9


def test_api_xlsx_upload(settings: Settings) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    for line in VN.read_text("utf-8").splitlines():
        ws.append([cell or None for cell in line.split(";")])
    data = io.BytesIO()
    book.save(data)
    with client(settings) as c:
        got = c.post(
            "/v1/imports", params={"mapping": "vietnamese-spreadsheet"}, headers=KEY,
            files={"file": ("hd.xlsx", data.getvalue(),
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
        )  # fmt: skip
    assert got.status_code == 200, got.text
    assert q1_total(settings) == Decimal(17_700_000)


def test_api_an_uploaded_mapping_file_and_its_errors(settings: Settings) -> None:
    mapping = (
        "events:\n  - type: QuotaSet\n    event_id: {hash: [Rep], prefix: q-}\n"
        "    fields:\n      subject_id: {column: Rep}\n      period: {value: 2026-Q2}\n"
        "      amount: {column: Quota, parse: {thousands: '.'}}\n      currency: {value: VND}\n"
    )
    data = b"Rep,Quota\nbinh,300.000.000\n"
    files = {"file": ("q.csv", data, "text/csv"), "mapping_file": ("q.yaml", mapping.encode())}
    with client(settings) as c:
        # an integration key writes CRM facts only: a quota is refused whole
        refused = c.post("/v1/imports", files=files, headers=KEY)
        stored = c.post("/v1/imports", files=files, headers=auth(settings, Role.FINANCE, "fin"))
        broken = c.post("/v1/imports", headers=KEY, files={
            "file": ("q.csv", data, "text/csv"),
            "mapping_file": ("q.yaml", mapping.replace("QuotaSet", "Quota").encode()),
        })  # fmt: skip
    assert refused.status_code == 403 and "QuotaSet" in refused.json()["error"]["message"]
    assert stored.status_code == 200 and stored.json()["stored"] == 1
    assert broken.status_code == 422
    assert broken.json()["error"]["details"][0]["field"] == "mapping.events.0.type"


def test_api_refuses_what_it_cannot_read(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1024})  # the sample: 1.5 kB
    with client(settings) as c:
        no_mapping = c.post("/v1/imports", files=upload(SF), headers=KEY)
        unknown = c.post("/v1/imports", params={"mapping": "../etc/passwd"},
                         files=upload(SF), headers=KEY)  # fmt: skip
        json_body = c.post("/v1/imports", params={"mapping": "activities"}, json={}, headers=KEY)
        not_xlsx = c.post("/v1/imports", params={"mapping": "activities"}, headers=KEY,
                          files={"file": ("a.xlsx", b"nope", "application/octet-stream")})  # fmt: skip
        rep_token = c.post("/v1/imports", params={"mapping": "activities"}, files=upload(SF),
                           headers=auth(settings, Role.REP, "an"))  # fmt: skip
    with client(small) as c:
        too_big = c.post("/v1/imports", params={"mapping": "salesforce-opportunities"},
                         files=upload(SF), headers=KEY)  # fmt: skip
    assert no_mapping.status_code == 422
    assert unknown.status_code == 404 and "no shipped mapping named" in unknown.text
    assert json_body.status_code == 415
    assert not_xlsx.status_code == 422 and "not an XLSX workbook" in not_xlsx.text
    assert rep_token.status_code == 403
    assert too_big.status_code == 413


# -------------------------------------------------------------------------- row cap


def test_cli_refuses_a_file_over_the_row_cap_before_storing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The Salesforce sample has 6 data rows: with a cap of 5 it is refused whole (exit 2),
    even with --dead-letter; at 6 it imports."""
    before = count(settings)
    monkeypatch.setenv("INCENTIVE_IMPORT_MAX_ROWS", "5")
    code, _, err = cli(settings, "ingest", str(SF), "--mapping", "salesforce-opportunities",
                       "--dead-letter", str(tmp_path / "never.jsonl"))  # fmt: skip
    assert code == 2 and "more than 5 data rows (row 7 is past the limit)" in err
    assert "INCENTIVE_IMPORT_MAX_ROWS" in err and count(settings) == before
    assert not (tmp_path / "never.jsonl").exists()
    monkeypatch.setenv("INCENTIVE_IMPORT_MAX_ROWS", "6")
    code, _, _ = cli(settings, "ingest", str(SF), "--mapping", "salesforce-opportunities")
    assert code == 0 and count(settings) == before + 11


def test_api_refuses_a_file_over_the_row_cap_with_413(settings: Settings) -> None:
    capped = settings.model_copy(update={"import_max_rows": 5})
    before = count(settings)
    with client(capped) as c:
        got = c.post("/v1/imports", params={"mapping": "salesforce-opportunities",
                                            "partial": True},
                     files=upload(SF), headers=KEY)  # fmt: skip
        dry = c.post("/v1/imports", params={"mapping": "salesforce-opportunities",
                                            "dry_run": True},
                     files=upload(SF), headers=KEY)  # fmt: skip
    assert got.status_code == 413, got.text
    assert "more than 5 data rows" in got.json()["error"]["message"]
    assert dry.status_code == 413 and count(settings) == before
