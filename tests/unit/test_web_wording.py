"""Statement lines worded in the reader's language: every line kind the evaluator writes,
rendered from the line's fields and its plan component, in Vietnamese and in English, with
money and percentages formatted by locale and every template translated."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from api.web.i18n import Formatter
from api.web.wording import Wording
from incentive_engine.domain.events import ManualAdjustment
from incentive_engine.domain.facts import fold
from incentive_engine.domain.periods import Period
from plans.evaluate import PRIOR, Line, Statement, evaluate
from tests.examples.plans import plan, quota, rep, tiered
from tests.factories import won

Q1 = Period.parse("2026-Q1")
NB = "\u00a0"


class Strict(Formatter):
    """A formatter that fails on a message its catalogue does not translate."""

    def gettext(self, message: str, **values: object) -> str:
        assert message in self._messages, f"untranslated in {self.locale}: {message!r}"
        return super().gettext(message, **values)


VI, EN = Strict("vi", "Asia/Ho_Chi_Minh"), Strict("en", "Asia/Ho_Chi_Minh")


def statement(revenue: int, *components: dict[str, Any], extra: tuple[object, ...] = (),
              rep_id: str = "an") -> tuple[Statement, Any, Any]:  # fmt: skip
    events = [
        rep("mgr", role="manager", name="Trần Quản Lý"),
        rep("an", manager_id="mgr", name="Nguyễn Văn An"),
        quota("an", 300_000_000),
        quota("mgr", 300_000_000),
        won("D1", revenue, rep_id="an", close_date="2026-02-10"),
        *extra,
    ]
    facts = fold(events)
    version = plan(*components)
    return evaluate(facts, version, rep_id, Q1), version, facts


def words(found: tuple[Statement, Any, Any], f: Formatter) -> list[str]:
    s, version, facts = found
    return [Wording(s, version, facts, f).describe(ln) for ln in s.lines]


def clean(texts: list[str]) -> list[str]:
    return [t.replace(NB, " ").replace("\u202f", " ") for t in texts]


def test_graduated_tiers_on_attainment() -> None:
    found = statement(390_000_000, tiered("graduated"))
    assert clean(words(found, VI))[1] == (
        "commission: 150.000.000 ₫ trong bậc [50 %, 100 %) với tỷ lệ 5 %"
    )
    assert clean(words(found, EN))[1] == ("commission: ₫150,000,000 in tier [50%, 100%) at 5%")


def test_retroactive_tiers_gate_and_cap() -> None:
    found = statement(390_000_000, tiered("retroactive", cap=25_000_000, name="Hoa hồng"))
    vi, en = clean(words(found, VI)), clean(words(found, EN))
    assert vi == [
        "Hoa hồng: tỷ lệ hoàn thành 130,0 % đạt bậc [100 %, ∞): 8 % trên toàn bộ 390.000.000 ₫",
        "Hoa hồng: giới hạn ở mức 25.000.000 ₫ (đã đạt 31.200.000 ₫)",
    ]
    assert en[1] == "Hoa hồng: capped at ₫25,000,000 (earned ₫31,200,000)"
    gated = statement(100_000_000, tiered("graduated", gate=40))
    assert clean(words(gated, VI)) == [
        "commission: chưa đạt ngưỡng: tỷ lệ hoàn thành 33,3 % thấp hơn 40 %"
    ]
    assert clean(words(gated, EN)) == ["commission: gate not met: attainment 33.3% is below 40%"]


def test_flat_rate_deal_tiers_spiffs_and_target_incentive() -> None:
    flat = statement(100_000_000, {"id": "c", "kind": "rate", "rate": "2.5"})
    assert clean(words(flat, VI)) == ["c: 2,5 % của 100.000.000 ₫"]
    assert clean(words(flat, EN)) == ["c: 2.5% of ₫100,000,000"]
    deal = statement(150_000_000, {"id": "c", "kind": "rate", "mode": "graduated",
                     "measure": "deal_amount", "tiers": [{"from": 0, "rate": 0},
                     {"from": 100_000_000, "rate": 10}]})  # fmt: skip
    s, version, facts = deal
    assert clean([Wording(s, version, facts, VI).tier_of(s.lines[1])]) == ["[100.000.000 ₫, ∞)"]
    assert clean(words(deal, EN))[1] == ("c: deal D1, ₫50,000,000 in tier [₫100,000,000, ∞) at 10%")
    spiffs = statement(
        100_000_000,
        {"id": "s", "kind": "spiff", "amount_per_deal": 500_000, "name": "Thưởng cloud"},
        {"id": "p", "kind": "spiff", "percent": 1},
    )
    assert clean(words(spiffs, VI)) == [
        "Thưởng cloud: hợp đồng D1, 500.000 ₫ mỗi hợp đồng",
        "p: hợp đồng D1, 1 % của 100.000.000 ₫",
    ]
    assert clean(words(spiffs, EN))[0] == "Thưởng cloud: deal D1, ₫500,000 per deal"
    target = statement(
        150_000_000,
        {"id": "t", "kind": "target_incentive", "target": 10_000_000,
         "bands": [{"from": 0, "multiplier": 1}, {"from": 40, "multiplier": "1.5"}]},
    )  # fmt: skip
    assert clean(words(target, VI))[1] == (
        "t: 10.000.000 ₫ × 10 % tỷ lệ hoàn thành trong khung [40 %, ∞) × 1,5"
    )
    assert clean(words(target, EN))[1] == (
        "t: ₫10,000,000 × 10% of attainment in band [40%, ∞) × 1.5"
    )


def test_override_draw_and_manual_adjustment() -> None:
    over = statement(390_000_000, {"id": "o", "kind": "override", "rate": 1}, rep_id="mgr")
    assert clean(words(over, VI)) == ["o: 1 % doanh thu ghi nhận cho Nguyễn Văn An (390.000.000 ₫)"]
    assert clean(words(over, EN)) == [
        "o: 1% of the revenue credited to Nguyễn Văn An (₫390,000,000)"
    ]
    draw = statement(50_000_000, {"id": "c", "kind": "rate", "rate": 2},
                     {"id": "d", "kind": "draw", "amount": 5_000_000})  # fmt: skip
    assert clean(words(draw, VI))[1] == ("d: thu nhập 1.000.000 ₫ thấp hơn mức tạm ứng 5.000.000 ₫")
    assert clean(words(draw, EN))[1] == "d: earnings ₫1,000,000 below the draw of ₫5,000,000"
    s, version, facts = draw
    recovery = replace(s.lines[1], kind="draw_recovery", amount=Decimal(-2_000_000),
                       base=Decimal(9_000_000))  # fmt: skip
    assert clean([Wording(s, version, facts, EN).describe(recovery)]) == [
        "d: recovers ₫2,000,000 owed from earnings ₫9,000,000 above the draw of ₫5,000,000"
    ]
    m = ManualAdjustment(event_id="m1", rep_id="an", period="2026-Q1", amount=-250_000,
                         currency="VND", reason="tiền điện thoại", posted_by="finance@vn",
                         posted_date="2026-03-31")  # fmt: skip
    manual = statement(100_000_000, {"id": "c", "kind": "rate", "rate": 2}, extra=(m,))
    assert words(manual, VI)[-1] == "Điều chỉnh thủ công bởi finance@vn: tiền điện thoại"
    assert words(manual, EN)[-1] == "Manual adjustment by finance@vn: tiền điện thoại"


@pytest.mark.parametrize("f", [VI, EN], ids=["vi", "en"])
def test_adjustments_of_closed_periods_and_unknown_kinds(f: Formatter) -> None:
    s, version, facts = statement(100_000_000, {"id": "c", "kind": "rate", "rate": 2})
    computed = Line(2, "prior:2025-Q4", PRIOR, "adjustment for closed period 2025-Q4: ...",
                    Decimal(-7_200_000), base=Decimal(10_500_000))  # fmt: skip
    sealed = Line(3, "prior:2025-Q4", PRIOR, "adjustment for 2025-Q4, as sealed ...",
                  Decimal(-7_200_000))  # fmt: skip
    unknown = Line(4, "x", "kind-from-the-future", "the evaluator's own words", Decimal(1))
    w = Wording(s, version, facts, f)
    texts = clean([w.describe(computed), w.describe(sealed), w.describe(unknown)])
    if f is VI:
        assert texts[0] == (
            "Điều chỉnh cho kỳ đã chốt 2025-Q4: tính lại 10.500.000 ₫ − đã trả 17.700.000 ₫"
        )
        assert texts[1] == "Điều chỉnh cho kỳ 2025-Q4, như đã niêm phong khi chốt kỳ 2026-Q1"
    else:
        assert texts[0] == (
            "Adjustment for closed period 2025-Q4: recomputed ₫10,500,000 − paid ₫17,700,000"
        )
    assert texts[2] == "the evaluator's own words"


def test_kpi_bonus_lines() -> None:
    """A KPI bonus line names the KPI, its value and what it reached, in either language."""
    from incentive_engine.domain.events import ActivityLogged, DealLost, OpportunityCreated

    lost = [
        OpportunityCreated(event_id="o-L1", deal_id="L1", rep_id="an", created_date="2026-01-05",
                           amount=1_000_000, currency="VND", product_group="cloud",
                           customer={"customer_id": "C", "region": "r", "customer_type": "business",
                                     "industry": "i"}),
        DealLost(event_id="l-L1", deal_id="L1", lost_date="2026-02-01", reason="price"),
    ]  # fmt: skip
    win = statement(100_000_000, {"id": "k", "kind": "kpi_bonus", "kpi": "win_rate",
                    "target": 10_000_000, "thresholds": [{"at": 50, "percent": 20}]},
                    extra=tuple(lost))  # fmt: skip
    assert clean(words(win, EN)) == [
        "k: win rate 50.0% (1 of 2 decided deals): threshold ≥ 50% pays 20% of ₫10,000,000"
    ]
    assert clean(words(win, VI)) == [
        "k: tỷ lệ thắng 50,0 % (1 trên 2 cơ hội đã có kết quả): đạt ngưỡng ≥ 50 %, thưởng 20 % "
        "của 10.000.000 ₫"
    ]
    meetings = tuple(
        ActivityLogged(event_id=f"m{i}", rep_id="an", kind="meeting",
                       occurred_at=f"2026-02-02T09:{i:02d}:00+00:00")
        for i in range(15)
    )  # fmt: skip
    bands = statement(1, {"id": "m", "kind": "kpi_bonus", "kpi": "activities",
                      "activity": "meeting", "target": 2_000_000,
                      "bands": [{"at": 10, "percent": 0}, {"at": 20, "percent": 100}]},
                      extra=meetings)  # fmt: skip
    assert clean(words(bands, VI)) == [
        "m: 15 hoạt động (cuộc gặp): khung [10, 20): 50 % của 2.000.000 ₫"
    ]
    assert clean(words(bands, EN)) == [
        "m: 15 activities (meeting): band [10, 20): 50% of ₫2,000,000"
    ]
    team = statement(1, {"id": "t", "kind": "kpi_bonus", "kpi": "leads", "scope": "team",
                     "thresholds": [{"at": 1, "amount": 5}]})  # fmt: skip
    assert clean(words(team, VI)) == [
        "t: 0 khách hàng tiềm năng mới của nhóm TP.HCM 1: dưới ngưỡng đầu tiên (1), "
        "không có khoản trả"
    ]
    none = statement(1, {"id": "w", "kind": "kpi_bonus", "kpi": "win_rate",
                     "thresholds": [{"at": 1, "amount": 5}]}, rep_id="mgr")  # fmt: skip
    assert clean(words(none, EN)) == [
        "w: nothing to pay: no decided deals (won or lost) in 2026-Q1"
    ]
    assert clean(words(none, VI)) == [
        "w: không có khoản trả: không có cơ hội nào thắng hoặc thua trong kỳ 2026-Q1"
    ]


def test_product_lines_margin_and_exclusive_groups() -> None:
    """Lines paid per product line, on margin, or won in an exclusive group say so."""
    from tests.examples.test_rule_precedence_and_lines import (
        D1_LINES,
        M1_LINES,
        MARGIN,
        three_rules,
    )

    facts = fold([rep("an"), won("D1", 300_000_000, rep_id="an", lines=D1_LINES)])
    version = plan(*three_rules("line_amount"))
    s = evaluate(facts, version, "an", Q1)
    texts = clean([Wording(s, version, facts, EN).describe(ln) for ln in s.lines])
    assert texts[2] == "erp_pro: deal D1 line 1, 8% of ₫120,000,000 (chosen over general, software)"
    vi = clean([Wording(s, version, facts, VI).describe(ln) for ln in s.lines])
    assert vi[0] == "general: hợp đồng D1 dòng 3, 2 % của 100.000.000 ₫"
    assert vi[2].endswith("(được chọn thay cho general, software)")
    facts = fold([rep("an"), won("M1", 200_000_000, rep_id="an", lines=M1_LINES)])
    s = evaluate(facts, plan(MARGIN), "an", Q1)
    assert clean([Wording(s, plan(MARGIN), facts, VI).describe(s.lines[0])]) == [
        "margin: hợp đồng M1, 10 % của lợi nhuận gộp 80.000.000 ₫"
    ]
    spiff = {"id": "hw", "kind": "spiff", "amount_per_deal": 1_000_000, "measure": "line_amount"}
    s = evaluate(facts, plan(spiff), "an", Q1)
    assert clean([Wording(s, plan(spiff), facts, EN).describe(s.lines[1])]) == [
        "hw: deal M1 line 2, ₫1,000,000 per line"
    ]
