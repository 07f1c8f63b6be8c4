"""The statement and dispute pages without a browser: who may open each page, fragment, CSV
and form (own, a report as manager, another rep, finance, signed out), the CSV's bytes, the
as-of cut, HTML answers for bad input, and dispute forms posted directly by someone the API
would refuse."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, issue_token
from incentive_engine.domain.periods import Period
from incentive_engine.services.commissions import rep_statements, snapshot
from incentive_engine.settings import Settings
from incentive_engine.store.event_store import EventStore
from tests.conftest import sqlite_settings
from tests.e2e.api_helpers import api_settings
from tests.e2e.web.statement_store import BEFORE_LATE, TOTAL_BEFORE, TOTAL_NOW, seed_statements

Q1 = Period.parse("2026-Q1")
STATEMENT = "/statements/an/2026-Q1"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    found = api_settings(sqlite_settings(tmp_path_factory.mktemp("statements")))
    seed_statements(found)
    return found


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[object]:
    yield create_app(settings)


def as_(app: object, settings: Settings, role: Role | None, subject: str = "") -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    if role is not None:
        client.cookies.set("ie_session", issue_token(settings, role, subject))
    client.get("/sign-in")  # the CSRF cookie
    return client


def csrf(client: TestClient) -> str:
    token = client.cookies.get("ie_csrf")
    assert token
    return token


def figures(settings: Settings, as_of: datetime | None = None) -> list[Decimal]:
    with EventStore(settings) as store:
        return [s.total for s in rep_statements(snapshot(store, as_of=as_of), "an", Q1)]


PAY_URLS = (
    STATEMENT,
    STATEMENT + ".csv",
    STATEMENT + "?format=csv",
    STATEMENT + f"?as_of={BEFORE_LATE}",
    STATEMENT + "/example/lines/1",
    "/disputes/new?rep=an&period=2026-Q1&plan=example&line=1",
)


@pytest.mark.parametrize("url", PAY_URLS)
def test_who_may_open_a_reps_statement_csv_explanation_and_dispute_form(
    app: object, settings: Settings, url: str
) -> None:
    for role, subject, status in (
        (Role.REP, "an", 200),  # own
        (Role.MANAGER, "mgr", 200),  # a report, as their manager
        (Role.FINANCE, "fin", 200),
        (Role.REP, "binh", 403),  # another rep
        (Role.MANAGER, "chau", 403),  # not their manager
    ):
        answer = as_(app, settings, role, subject).get(url)
        assert answer.status_code == status, (url, role, subject)
        if status == 403:
            assert "₫" not in answer.text and "3000000" not in answer.text
    fragment = as_(app, settings, Role.REP, "binh").get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and "<html" not in fragment.text
    signed_out = as_(app, settings, None).get(url, follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/sign-in?next=")
    htmx = as_(app, settings, None).get(url, headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/sign-in")


def test_the_csv_has_a_bom_one_row_per_line_and_the_engines_figures(
    app: object, settings: Settings
) -> None:
    answer = as_(app, settings, Role.REP, "an").get(STATEMENT + ".csv")
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Nhân viên" and "Mã băm bảng kê" in rows[0]
    with EventStore(settings) as store:
        [statement] = rep_statements(snapshot(store), "an", Q1)
    assert len(rows) == 1 + len(statement.lines)
    amounts = [Decimal(r[11]) for r in rows[1:]]
    assert amounts == [ln.amount for ln in statement.lines]
    assert sum(amounts) == statement.total == TOTAL_NOW
    assert {r[13] for r in rows[1:]} == {statement.hash}
    assert rows[1][2:4] == ["example", "1"]
    assert rows[1][7].startswith("Hoa hồng: 150.000.000")  # worded in the reader's language
    # as of an earlier day: the figures of then
    then = as_(app, settings, Role.REP, "an").get(STATEMENT + f".csv?as_of={BEFORE_LATE}")
    assert 'as-of-2026-03-01.csv"' in then.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(then.content.decode("utf-8-sig"))))
    assert sum(Decimal(r[11]) for r in rows[1:]) == TOTAL_BEFORE


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(tmp_path: Path) -> None:
    from plans.documents import publication
    from tests.examples.plans import plan, quota, rep
    from tests.factories import won

    settings = api_settings(sqlite_settings(tmp_path))
    component = {"id": "c", "kind": "rate", "rate": 2, "name": '=HYPERLINK("http://x","y")'}
    with EventStore(settings) as store:
        store.append([publication(plan(component).plan), rep("an"), quota("an", 100),
                      won("D1", 100, rep_id="an")])  # fmt: skip
    client = as_(create_app(settings), settings, Role.REP, "an")
    rows = list(csv.reader(io.StringIO(client.get(STATEMENT + ".csv").text.lstrip("\ufeff"))))
    assert rows[1][7].startswith("'=HYPERLINK")
    assert rows[1][11] == "2"  # numbers stay numbers


def test_the_as_of_picker_cuts_on_the_end_of_the_day_in_the_org_time_zone(
    app: object, settings: Settings
) -> None:
    client = as_(app, settings, Role.REP, "an")
    now = client.get(STATEMENT)
    assert 'data-test="as-of-banner"' not in now.text
    then = client.get(STATEMENT + f"?as_of={BEFORE_LATE}")
    assert then.status_code == 200
    assert 'data-test="as-of-banner"' in then.text and "01/03/2026" in then.text
    end = datetime.combine(datetime(2026, 3, 1).date(), time.max, ZoneInfo("Asia/Ho_Chi_Minh"))
    assert figures(settings, end.astimezone(UTC)) == [TOTAL_BEFORE]
    assert figures(settings) == [TOTAL_NOW]
    total = re.search(r'data-test="statement-total">([^<]+)<', then.text)
    assert total and total.group(1).replace("\u00a0", " ") == "5.500.000 ₫"
    # the explanation of a past view is of the past view too
    line = client.get(STATEMENT + f"/example/lines/2?as_of={BEFORE_LATE}")
    assert "D3" not in line.text and "D1" in line.text
    # D3 was recorded on 5 March 10:00 in Hà Nội time: the end of 4 March does not know it
    assert "5.500.000" in client.get(STATEMENT + "?as_of=2026-03-04").text
    assert "10.000.000" in client.get(STATEMENT + "?as_of=2026-03-05").text


@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday", "2026-3-1"])
def test_a_bad_as_of_day_is_named_on_the_page(app: object, settings: Settings, bad: str) -> None:
    answer = as_(app, settings, Role.REP, "an").get(STATEMENT + f"?as_of={bad}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert f"Ngày “{bad}” không hợp lệ" in answer.text
    assert 'aria-invalid="true"' in answer.text


def test_a_bad_period_in_a_page_url_answers_an_html_page_naming_it(
    app: object, settings: Settings
) -> None:
    client = as_(app, settings, Role.REP, "an")
    for url in ("/statements/an/2026-Q9", "/statements/an/2026-Q9.csv"):
        answer = client.get(url)
        assert answer.status_code == 422, url
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h1>Không đọc được địa chỉ này</h1>" in answer.text
        assert "Kỳ “2026-Q9” không hợp lệ" in answer.text
    client.cookies.set("ie_lang", "en")
    assert "The period “2026-Q9” is not a period" in client.get("/statements/an/2026-Q9").text
    fragment = client.get("/statements/an/2026-Q9/example/lines/1", headers={"HX-Request": "1"})
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert "2026-Q9" in fragment.text


def test_the_print_view_has_its_button_script_and_printed_at_line(
    app: object, settings: Settings
) -> None:
    page = as_(app, settings, Role.REP, "an").get(STATEMENT).text
    assert "data-print" in page and '<script src="/static/print.js" defer>' in page
    assert "In lúc" in page and "<script>" not in page and "style=" not in page
    script = as_(app, settings, None).get("/static/print.js")
    assert script.status_code == 200 and "window.print()" in script.text


# ------------------------------------------------------------------------------ disputes


def raise_one(app: object, settings: Settings, line: int = 1) -> str:
    client = as_(app, settings, Role.REP, "an")
    form = {"csrf": csrf(client), "rep": "an", "period": "2026-Q1", "plan": "example",
            "line": str(line), "reason": "Thiếu hợp đồng D3", "expected_amount": "3.500.000",
            "attachment": "hop-dong-D3.pdf"}  # fmt: skip
    answer = client.post("/disputes", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    found = answer.headers["location"]
    assert found.startswith("/disputes/dsp-")
    return found


def test_a_rep_raises_a_dispute_from_a_line_and_the_manager_resolves_it(
    app: object, settings: Settings
) -> None:
    url = raise_one(app, settings, line=2)
    rep = as_(app, settings, Role.REP, "an")
    page = rep.get(url).text
    assert "Thiếu hợp đồng D3" in page and "hop-dong-D3.pdf" in page
    assert "3.500.000" in page and "Đang mở" in page
    assert 'data-test="resolve-form"' not in page  # a rep never resolves
    # another rep: refused the page, the list, and the forms posted directly
    other = as_(app, settings, Role.REP, "binh")
    assert other.get(url).status_code == 403
    assert url.split("/")[-1] not in other.get("/disputes?status=all").text
    posted = other.post(url + "/comments", data={"csrf": csrf(other), "comment": "xen vào"})
    assert posted.status_code == 403
    resolved = other.post(url + "/resolve", data={"csrf": csrf(other), "outcome": "accepted"})
    assert resolved.status_code == 403
    own = rep.post(url + "/resolve", data={"csrf": csrf(rep), "outcome": "accepted"})
    assert own.status_code == 403  # the rep may not resolve their own
    not_manager = as_(app, settings, Role.MANAGER, "chau")
    assert not_manager.get(url).status_code == 403
    posted = not_manager.post(url + "/resolve", data={"csrf": csrf(not_manager),
                              "outcome": "rejected", "reason": "không"})  # fmt: skip
    assert posted.status_code == 403
    # no CSRF token: refused
    manager = as_(app, settings, Role.MANAGER, "mgr")
    assert manager.post(url + "/comments", data={"comment": "x"}).status_code == 403
    # the manager sees it in their queue, comments and resolves
    assert url.split("/")[-1] in manager.get("/disputes").text
    answer = manager.post(url + "/comments", data={"csrf": csrf(manager),
                          "comment": "Đã kiểm tra, D3 đúng."}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    bad = manager.post(url + "/resolve", data={"csrf": csrf(manager), "outcome": "rejected"})
    assert bad.status_code == 422 and "reason" in bad.text  # a rejection needs a reason
    answer = manager.post(url + "/resolve", data={"csrf": csrf(manager), "outcome": "accepted"},
                          follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    page = rep.get(url).text
    assert "Đã chấp nhận" in page and "Đã kiểm tra, D3 đúng." in page
    assert "đang chờ người dùng tài chính phê duyệt" in page
    # accepting proposed the adjustment: paid only once finance approves it
    with EventStore(settings) as store:
        [statement] = rep_statements(snapshot(store), "an", Q1)
    assert statement.lines[-1].kind != "manual"
    finance = as_(app, settings, Role.FINANCE, "fin")
    proposal = re.search(r'data-adjustment="([^"]+)"', finance.get("/adjustments").text)
    assert proposal is not None
    approved = finance.post(f"/adjustments/{proposal.group(1)}/approve",
                            data={"csrf": csrf(finance)}, follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303
    page = rep.get(url).text
    with EventStore(settings) as store:
        [statement] = rep_statements(snapshot(store), "an", Q1)
    line_two = 7_000_000  # 140,000,000 x 5 %
    assert statement.lines[-1].kind == "manual"
    assert statement.lines[-1].amount == Decimal(3_500_000 - line_two)
    assert "-3.500.000" in page.replace("\u00a0", " ")
    # the API reads the same dispute, attachment included
    api = TestClient(app).get(  # type: ignore[arg-type]
        "/v1/disputes/" + url.split("/")[-1],
        headers={"Authorization": f"Bearer {issue_token(settings, Role.REP, 'an')}"},
    )
    assert api.json()["attachment"] == "hop-dong-D3.pdf"
    assert api.json()["status"] == "resolved-accepted"
    # finance sees every dispute
    assert (
        url.split("/")[-1]
        in as_(app, settings, Role.FINANCE, "fin").get("/disputes?status=all").text
    )


def test_dispute_pages_signed_out_and_bad_input(app: object, settings: Settings) -> None:
    url = raise_one(app, settings, line=1)
    for path in ("/disputes", url, "/disputes/new?rep=an&period=2026-Q1&plan=example&line=1"):
        answer = as_(app, settings, None).get(path, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
        htmx = as_(app, settings, None).get(path, headers={"HX-Request": "true"})
        assert htmx.status_code == 401
    signed_out = as_(app, settings, None)
    for path in ("/disputes", url + "/comments", url + "/resolve"):
        answer = signed_out.post(path, data={"csrf": csrf(signed_out)}, follow_redirects=False)
        assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]
    rep = as_(app, settings, Role.REP, "an")
    form = {"csrf": csrf(rep), "rep": "an", "period": "2026-Q1", "plan": "example",
            "line": "1", "reason": "x", "expected_amount": "nhiều tiền"}  # fmt: skip
    answer = rep.post("/disputes", data=form)
    assert answer.status_code == 422 and "“nhiều tiền” không phải là số tiền" in answer.text
    answer = rep.post("/disputes", data={**form, "expected_amount": "1"})
    assert answer.status_code == 409 and "already disputed" in answer.text  # line 1 is open
    other = as_(app, settings, Role.REP, "binh")
    forged = {**form, "csrf": csrf(other), "expected_amount": "1", "line": "3"}
    assert other.post("/disputes", data=forged).status_code == 403  # an's line, by binh
    assert rep.get("/disputes/dsp-nope").status_code == 403  # the same as another's
    assert as_(app, settings, Role.FINANCE, "fin").get("/disputes/dsp-nope").status_code == 404
    assert rep.get("/disputes/new?rep=an&period=2026-Q9&plan=example&line=1").status_code == 422
