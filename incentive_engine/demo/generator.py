"""Seeded, reproducible demo data: a year of a Vietnamese sales organisation's event history.

``generate(reps=30, events=20_000, seed=7, year=2026)`` returns about ``events`` events (never
fewer than the set-up events) in a sensible recording order:

1. the organisation: ``RepHired`` for the director, then the managers (one per team of about
   5–8 reps; teams are named by city: "Hà Nội 1", "TP.HCM 1", "Đà Nẵng 1", ...), then the reps;
2. nine territories (region × customer type × size for businesses), each ``TerritoryDefined``
   and ``TerritoryAssigned`` on 1 January to one rep of that city;
3. a ``QuotaSet`` for every rep and every quarter of the year (1–3 billion VND each);
4. the business, day by day in effective-date order: leads, opportunities moving through the
   PEAK stages (prospect → engage → acquire, then keep after the win), won and lost deals, a
   few amendments and cancellations, the reps' activity (the bulk of the volume), a handful of
   transfers and terminations and one or two territory reassignments.  Pipeline that was open
   on 1 January starts in the last weeks of the previous year.

Everything comes from one ``random.Random(seed)``: no clock, no I/O, and the same arguments give
byte-identical events (event ids ``evt-0000001``, ...).  Referential integrity holds in the
recording order: every rep an event names was hired earlier and is not yet terminated on the
event's effective day (terminations therefore fall in the last quarter, so that every rep keeps
a quota for every quarter); stage changes and losses follow an ``OpportunityCreated``;
amendments and cancellations follow a ``DealWon``.  Activities happen on weekdays (public
holidays and Tết off) between 08:00 and 18:00 Vietnam time, i.e. 01:00–11:00 UTC.

``events`` is met exactly whenever it exceeds the set-up events: the activity volume absorbs
whatever the pipeline leaves.  ``iter_generate`` streams the same events; only the small plan of
the pipeline (not the activities) is held in memory.
"""

from __future__ import annotations

import bisect
import math
import random
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate

from incentive_engine.domain.events import (
    ActivityKind,
    ActivityLogged,
    CompanySize,
    Customer,
    CustomerType,
    DealAmended,
    DealCancelled,
    DealLost,
    DealWon,
    Event,
    LeadCreated,
    LeadQualified,
    LeadSource,
    OpportunityCreated,
    OpportunityStageChanged,
    Ownership,
    QuotaSet,
    RepHired,
    RepTerminated,
    RepTransferred,
    Role,
    Share,
    Stage,
    TerritoryAssigned,
    TerritoryCriteria,
    TerritoryDefined,
    TerritoryReassigned,
)

__all__ = ["generate", "iter_generate"]

MAX_REPS = 10_000
CURRENCY = "VND"

# ------------------------------------------------------------------ vocabulary

_FAMILY_NAMES: tuple[tuple[str, int], ...] = (
    ("Nguyễn", 380), ("Trần", 110), ("Lê", 95), ("Phạm", 70), ("Hoàng", 30), ("Huỳnh", 25),
    ("Phan", 45), ("Vũ", 25), ("Võ", 20), ("Đặng", 20), ("Bùi", 20), ("Đỗ", 14), ("Hồ", 13),
    ("Ngô", 13), ("Dương", 10), ("Lý", 5),
)  # fmt: skip
_MIDDLE_MALE = ("Văn", "Minh", "Đức", "Hoàng", "Quang", "Thanh", "Hữu", "Công", "Tuấn", "Gia")
_MIDDLE_FEMALE = ("Thị", "Ngọc", "Thu", "Minh", "Thanh", "Phương", "Bảo", "Khánh", "Hồng", "Mỹ")
_GIVEN_MALE = (
    "An", "Bình", "Dũng", "Hải", "Hiếu", "Hòa", "Hùng", "Khánh", "Long", "Minh", "Nam", "Phong",
    "Phúc", "Quân", "Sơn", "Trung", "Tuấn", "Đạt", "Thắng", "Việt", "Cường", "Huy", "Khoa",
)  # fmt: skip
_GIVEN_FEMALE = (
    "An", "Châu", "Giang", "Hà", "Hạnh", "Hương", "Lan", "Linh", "Mai", "Ngân", "Nhung",
    "Quỳnh", "Tâm", "Thảo", "Trang", "Vy", "Yến", "Hằng", "Phương", "Thư", "Oanh", "Diệp",
)  # fmt: skip

_CITIES = ("Hà Nội", "TP.HCM", "Đà Nẵng")
_CITY_CODES = {"Hà Nội": "HN", "TP.HCM": "HCM", "Đà Nẵng": "DN"}
_TEAM_CITY_CYCLE = ("Hà Nội", "TP.HCM", "Đà Nẵng", "TP.HCM", "Hà Nội")
"""Cities of successive teams: Hà Nội and TP.HCM get two teams for every one in Đà Nẵng."""
_TEAM_SIZE = 7
_DIRECTOR_TEAM = "Khối Kinh doanh"

_INDUSTRIES = ("Bán lẻ", "Sản xuất", "Tài chính", "Công nghệ", "Giáo dục", "Y tế", "Logistics")
_INDUSTRY_WORDS = {
    "Bán lẻ": ("Thương mại", "Bán lẻ", "Siêu thị"),
    "Sản xuất": ("Sản xuất", "Cơ khí", "Nhựa", "Dệt may"),
    "Tài chính": ("Tài chính", "Đầu tư", "Chứng khoán", "Bảo hiểm"),
    "Công nghệ": ("Công nghệ", "Phần mềm", "Viễn thông", "Giải pháp số"),
    "Giáo dục": ("Giáo dục", "Đào tạo", "Trường Quốc tế"),
    "Y tế": ("Dược phẩm", "Thiết bị Y tế", "Bệnh viện"),
    "Logistics": ("Logistics", "Vận tải", "Giao nhận", "Kho vận"),
}
_BRAND_FIRST = (
    "Minh", "Hoàng", "Phú", "Thành", "An", "Hưng", "Tân", "Việt", "Bình", "Hòa", "Kim",
    "Phương", "Đông", "Trường", "Nam", "Thiên", "Hải", "Đại", "Sao", "Quốc", "Thái", "Gia",
)  # fmt: skip
_BRAND_SECOND = (
    "Phát", "Long", "Việt", "Dương", "Thịnh", "Công", "Khang", "Phú", "Tiến", "Minh", "An",
    "Ngân", "Nam", "Á", "Sơn", "Hà", "Âu", "Hưng", "Lộc", "Thành", "Mỹ", "Bảo",
)  # fmt: skip

_SEGMENTS = ("individual", "sme", "corporation")
_SEGMENT_WEIGHTS = (30, 45, 25)
_SEGMENT_AMOUNTS = {  # VND, inclusive bounds
    "individual": (5_000_000, 50_000_000),
    "sme": (20_000_000, 500_000_000),
    "corporation": (200_000_000, 5_000_000_000),
}
_SEGMENT_CYCLE = {"individual": (6, 25), "sme": (15, 50), "corporation": (30, 110)}
"""Sales cycle in working days."""
_SEGMENT_WIN_RATE = {"individual": 0.5, "sme": 0.4, "corporation": 0.32}
_PRODUCT_GROUPS = ("cloud", "software", "hardware", "services")
_PRODUCT_WEIGHTS = {
    "individual": (35, 35, 22, 8),
    "sme": (30, 30, 20, 20),
    "corporation": (25, 30, 20, 25),
}
_AMOUNT_STEP = 100_000
_QUOTA_STEP = 10_000_000

_LEAD_SOURCES = tuple(LeadSource)
_LEAD_SOURCE_WEIGHTS = (30, 20, 25, 15, 10)  # web, social, sales_team, referral, other
_LOST_REASONS = (
    "Giá cao hơn đối thủ",
    "Khách hàng chọn nhà cung cấp khác",
    "Khách hàng không có ngân sách",
    "Dự án bị hoãn sang năm sau",
    "Không liên lạc được với khách hàng",
    "Sản phẩm chưa đáp ứng yêu cầu kỹ thuật",
    "Thời gian triển khai quá dài",
    "Khách hàng tự phát triển giải pháp nội bộ",
)
_AMEND_REASONS = (
    "Khách hàng mua thêm giấy phép",
    "Điều chỉnh chiết khấu theo phụ lục hợp đồng",
    "Thu hẹp phạm vi dự án",
    "Bổ sung gói dịch vụ triển khai",
    "Điều chỉnh số lượng thiết bị giao hàng",
)
_CANCEL_REASONS = (
    "Khách hàng huỷ hợp đồng",
    "Khách hàng không thanh toán đúng hạn",
    "Trả lại hàng trong thời gian dùng thử",
    "Hợp đồng bị chấm dứt do vi phạm điều khoản",
)
_TERMINATION_REASONS = (
    "Nghỉ việc theo nguyện vọng cá nhân",
    "Chuyển sang công ty khác",
    "Hết hạn hợp đồng lao động",
)
_REASSIGN_REASONS = (
    "Cân bằng lại khối lượng khách hàng giữa các nhân viên",
    "Điều chỉnh địa bàn theo quyết định của Giám đốc kinh doanh",
)
_SPLIT_SHARES = ((60, 40), (50, 50), (70, 30), (80, 20))

_ACTIVITY_KINDS = (
    ActivityKind.CALL_CONNECTED,
    ActivityKind.CALL_UNANSWERED,
    ActivityKind.EMAIL,
    ActivityKind.MEETING,
    ActivityKind.DEMO,
)
_ACTIVITY_CUM_WEIGHTS = tuple(accumulate((30, 25, 25, 12, 8)))
_WORKDAY_SECONDS = 10 * 3600
"""01:00–11:00 UTC is 08:00–18:00 in Vietnam (UTC+7)."""

_TET = {
    2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22), 2024: (2, 10), 2025: (1, 29),
    2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3), 2031: (1, 23),
    2032: (2, 11), 2033: (1, 31), 2034: (2, 19), 2035: (2, 8),
}  # fmt: skip
"""Lunar New Year's day (Tết Nguyên Đán) by year."""

# phases: the order of a day's pipeline records
_P_LEAD, _P_QUALIFY, _P_OPEN, _P_STAGE, _P_WON, _P_LOST, _P_AMEND, _P_CANCEL = range(8)
# org changes
_O_REASSIGN, _O_TRANSFER, _O_TERMINATE = range(3)


# ----------------------------------------------------------------------- model


@dataclass(slots=True)
class _Rep:
    index: int
    rep_id: str
    team: int
    weight: float
    terminated: date | None = None
    transfer: tuple[date, int] | None = None
    """(effective date, new team index)."""

    def active_on(self, day: date) -> bool:
        return self.terminated is None or day <= self.terminated

    def team_on(self, day: date) -> int:
        if self.transfer is not None and day >= self.transfer[0]:
            return self.transfer[1]
        return self.team


@dataclass(slots=True)
class _Team:
    name: str
    city: str
    manager_id: str
    members: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Client:
    customer_id: str
    name: str
    city: str
    segment: str
    industry: str
    ownership: Ownership | None
    existing: bool
    """Bought before this year: never new."""
    models: dict[bool, Customer] = field(default_factory=dict)

    def model(self, is_new: bool) -> Customer:
        found = self.models.get(is_new)
        if found is None:
            business = self.segment != "individual"
            found = Customer(
                customer_id=self.customer_id,
                name=self.name,
                region=self.city,
                customer_type=CustomerType.BUSINESS if business else CustomerType.INDIVIDUAL,
                industry=self.industry,
                size=CompanySize(self.segment) if business else None,
                ownership=self.ownership,
                is_new=is_new,
            )
            self.models[is_new] = found
        return found


@dataclass(slots=True)
class _Deal:
    deal_id: str
    owner: int
    client: int
    amount: int
    product_group: str
    lead: int | None
    source: LeadSource
    created: date
    expected_close: date
    won: date | None = None
    won_amount: int = 0
    won_rep: int | None = None
    splits: tuple[tuple[int, int], ...] | None = None
    amended_amount: int = 0
    amended_splits: tuple[tuple[int, int], ...] | None = None
    is_new: bool = False


@dataclass(slots=True)
class _Lead:
    source: LeadSource
    rep: int | None
    qualifier: int | None
    client: int | None
    city: str
    lead_id: str = ""


class _Calendar:
    """Working days (weekdays that are no public holiday) from 1 October of the year before."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.first = date(year - 1, 10, 1)
        self.last = date(year, 12, 31)
        self.jan1 = date(year, 1, 1)
        holidays = _holidays(year - 1) | _holidays(year)
        days: list[date] = []
        day = self.first
        while day <= self.last:
            if day.weekday() < 5 and day not in holidays:
                days.append(day)
            day += timedelta(days=1)
        self.days = days
        self.first_of_year = next(i for i, d in enumerate(days) if d.year == year)

    def index_on_or_after(self, day: date) -> int:
        """Index of the first working day on or after ``day`` (may be ``len(days)``)."""
        return bisect.bisect_left(self.days, day)

    def day(self, index: int) -> date:
        """The working day at an index; past the end, an estimate in the next year."""
        if index < len(self.days):
            return self.days[max(index, 0)]
        extra = index - len(self.days) + 1
        estimate = self.last + timedelta(days=extra * 7 // 5 + 1)
        while estimate.weekday() >= 5:
            estimate += timedelta(days=1)
        return estimate


def _holidays(year: int) -> set[date]:
    """Vietnamese public holidays: New Year, Tết (about a week), 30/4, 1/5 and 2/9."""
    found = {date(year, 1, 1), date(year, 4, 30), date(year, 5, 1), date(year, 9, 2)}
    if year in _TET:
        tet = date(year, *_TET[year])
        found.update(tet + timedelta(days=k) for k in range(-2, 5))
    return found


# ------------------------------------------------------------------------ names


def _pick_weighted(rng: random.Random, items: Sequence[tuple[str, int]]) -> str:
    return rng.choices([n for n, _ in items], weights=[w for _, w in items])[0]


def _person_name(rng: random.Random) -> tuple[str, str, str]:
    """A Vietnamese (family, middle, given) name of a random gender."""
    family = _pick_weighted(rng, _FAMILY_NAMES)
    if rng.random() < 0.5:
        return family, rng.choice(_MIDDLE_MALE), rng.choice(_GIVEN_MALE)
    return family, rng.choice(_MIDDLE_FEMALE), rng.choice(_GIVEN_FEMALE)


def _ascii(text: str) -> str:
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _company_name(rng: random.Random, industry: str, segment: str, state: bool) -> str:
    word = rng.choice(_INDUSTRY_WORDS[industry])
    brand = f"{rng.choice(_BRAND_FIRST)} {rng.choice(_BRAND_SECOND)}"
    if segment == "corporation":
        if state:
            return f"Tổng công ty {word} {brand}"
        return rng.choice((f"Tập đoàn {brand}", f"Công ty Cổ phần {word} {brand}"))
    return rng.choice((f"Công ty TNHH {word} {brand}", f"Công ty Cổ phần {word} {brand}"))


def _round_to(value: float, step: int) -> int:
    return max(step, round(value / step) * step)


def _amount(rng: random.Random, segment: str) -> int:
    """A log-uniform amount in the segment's range, rounded to 100,000 VND."""
    low, high = _SEGMENT_AMOUNTS[segment]
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    return min(high, max(low, _round_to(value, _AMOUNT_STEP)))


# ---------------------------------------------------------------------- the world


class _World:
    """The organisation, territories, customers and the plan of the year's pipeline."""

    def __init__(self, rng: random.Random, reps: int, events: int, year: int) -> None:
        self.rng = rng
        self.year = year
        self.cal = _Calendar(year)
        self.n_reps = reps
        self.n_teams = max(min(3, reps), math.ceil(reps / _TEAM_SIZE))
        self.rep_width = max(3, len(str(reps)))
        self.mgr_width = max(2, len(str(self.n_teams)))
        self.reps: list[_Rep] = []
        self.teams: list[_Team] = []
        self.setup_count = 1 + self.n_teams + reps + 2 * 3 * len(_CITIES) + 4 * reps
        self.event_width = max(7, len(str(max(events, self.setup_count))))
        self.budget = max(0, events - self.setup_count)
        self.clients: list[_Client] = []
        self.clients_by_city: dict[str, list[int]] = {}
        self.deals: list[_Deal] = []
        self.leads: list[_Lead] = []
        self.plan: dict[date, list[tuple[int, int, int, object]]] = {}
        """Pipeline records by day: (phase, sequence, deal or lead index, extra)."""
        self.org_changes: list[tuple[date, int, int, int | None]] = []
        """(day, kind, rep index, team or territory index): see ``org_event``."""
        self.territory_owner: dict[str, int] = {}
        self.territory_ids: list[str] = []
        self.by_city: dict[str, list[int]] = {}
        self.terminations: list[tuple[date, int]] = []
        """(termination date, rep index), sorted."""
        self.pipeline_start = 0
        self.counter = 0

    def next_id(self) -> str:
        """The next event id."""
        self.counter += 1
        return f"evt-{self.counter:0{self.event_width}d}"

    # -- identifiers

    def rep_id(self, index: int) -> str:
        return f"rep-{index + 1:0{self.rep_width}d}"

    def mgr_id(self, team: int) -> str:
        return f"mgr-{team + 1:0{self.mgr_width}d}"

    # -- organisation

    def hire_date(self, first_year: int, last: date) -> date:
        start = date(first_year, 1, 1)
        day = start + timedelta(days=self.rng.randrange((last - start).days + 1))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return day

    def build_org(self) -> None:
        """Teams (cycling over the cities) and their reps, in contiguous blocks."""
        per_city: dict[str, int] = {}
        for t in range(self.n_teams):
            city = _TEAM_CITY_CYCLE[t % len(_TEAM_CITY_CYCLE)]
            per_city[city] = per_city.get(city, 0) + 1
            self.teams.append(_Team(f"{city} {per_city[city]}", city, self.mgr_id(t)))
        for r in range(self.n_reps):
            team = r * self.n_teams // self.n_reps
            self.teams[team].members.append(r)
            self.reps.append(_Rep(r, self.rep_id(r), team, self.rng.uniform(0.6, 1.4)))
        self.by_city = {city: self.city_reps(city) for city in _CITIES}

    def hiring_events(self) -> Iterator[Event]:
        """The director, then the managers, then the reps, all hired before the year."""
        rng, year = self.rng, self.year
        self.build_org()
        people: list[tuple[str, Role, int | None]] = [("dir-01", Role.DIRECTOR, None)]
        people += [(self.mgr_id(t), Role.MANAGER, t) for t in range(self.n_teams)]
        people += [(rep.rep_id, Role.REP, rep.team) for rep in self.reps]
        emails: dict[str, int] = {}
        for person_id, role, team in people:
            family, middle, given = _person_name(rng)
            # the usual Vietnamese company address: given name + initials, e.g. annv
            handle = f"{_ascii(given)}{_ascii(family)[0]}{_ascii(middle)[0]}"
            emails[handle] = emails.get(handle, 0) + 1
            if emails[handle] > 1:
                handle = f"{handle}{emails[handle]}"
            if team is None:
                hired = self.hire_date(year - 12, date(year - 5, 12, 31))
                team_name, manager = _DIRECTOR_TEAM, None
            elif role is Role.MANAGER:
                hired = self.hire_date(year - 10, date(year - 2, 12, 31))
                team_name, manager = self.teams[team].name, "dir-01"
            else:
                hired = self.hire_date(year - 6, date(year - 1, 9, 30))
                team_name, manager = self.teams[team].name, self.teams[team].manager_id
            yield RepHired(
                event_id=self.next_id(),
                rep_id=person_id,
                name=f"{family} {middle} {given}",
                team=team_name,
                manager_id=manager,
                role=role,
                hire_date=hired,
                email=f"{handle}@congty.example",
            )

    def city_reps(self, city: str) -> list[int]:
        """Reps whose original team is in the city."""
        return [r for t in self.teams if t.city == city for r in t.members]

    def territory_events(self) -> Iterator[Event]:
        """Nine territories (city × individual / SME / corporation), each owned by one rep."""
        rng, jan1 = self.rng, self.cal.jan1
        territories: list[tuple[str, str, TerritoryCriteria, str]] = []
        for city in _CITIES:
            code = _CITY_CODES[city]
            for segment in _SEGMENTS:
                if segment == "individual":
                    tid, name = f"T-{code}-IND", f"{city} · Cá nhân"
                    criteria = TerritoryCriteria(region=city, customer_type=CustomerType.INDIVIDUAL)
                else:
                    sme = segment == "sme"
                    tid = f"T-{code}-BUS-{'SME' if sme else 'CORP'}"
                    name = f"{city} · Doanh nghiệp · {'SME' if sme else 'Tập đoàn'}"
                    criteria = TerritoryCriteria(
                        region=city, customer_type=CustomerType.BUSINESS, size=CompanySize(segment)
                    )
                territories.append((tid, name, criteria, city))
        for tid, name, criteria, _ in territories:
            yield TerritoryDefined(
                event_id=self.next_id(),
                territory_id=tid,
                name=name,
                criteria=criteria,
                effective_date=jan1,
            )
        anyone = list(range(self.n_reps))
        rng.shuffle(anyone)
        local = {city: self.by_city[city][:] for city in _CITIES}
        for city in _CITIES:
            rng.shuffle(local[city])
        for i, (tid, _, _, city) in enumerate(territories):
            # a city's reps own its territories; a city without a team borrows anyone
            pool = local[city]
            owner = pool[i % 3 % len(pool)] if pool else anyone[i % len(anyone)]
            self.territory_ids.append(tid)
            self.territory_owner[tid] = owner
            yield TerritoryAssigned(
                event_id=self.next_id(),
                territory_id=tid,
                rep_id=self.rep_id(owner),
                effective_date=jan1,
            )

    def quota_events(self) -> Iterator[Event]:
        """A quota of 1–3 billion VND for every rep and quarter (quarter by quarter)."""
        rng = self.rng
        # stronger reps (who get more deals and log more activity) carry bigger quotas
        levels = [1.0e9 * (0.6 + 0.9 * rep.weight) * rng.uniform(0.85, 1.15) for rep in self.reps]
        seasonal = (0.9, 1.0, 1.0, 1.1)  # Tết in Q1, the year-end push in Q4
        for q in range(4):
            for rep, level in zip(self.reps, levels, strict=True):
                amount = min(3.0e9, max(1.0e9, level * seasonal[q] * rng.uniform(0.95, 1.05)))
                yield QuotaSet(
                    event_id=self.next_id(),
                    subject_id=rep.rep_id,
                    period=f"{self.year}-Q{q + 1}",
                    amount=Decimal(_round_to(amount, _QUOTA_STEP)),
                    currency=CURRENCY,
                )

    # -- the year's org changes

    def plan_org_changes(self) -> None:
        """Territory reassignments and transfers mid-year, terminations in the last quarter.

        Territory owners neither leave nor move, so that ownership stays with active reps in
        the territory's city; leavers leave in the last quarter, so that no quota (the last
        one starts on 1 October) names a rep after their termination.
        """
        rng, cal, year = self.rng, self.cal, self.year
        if self.n_reps < 2:
            return
        n_reassign = 2 if self.n_reps >= 10 else 1
        n_leave = round(self.n_reps * 0.06) if self.n_reps >= 5 else 0
        n_move = self.n_reps // 15 if self.n_teams > 1 else 0
        if (n_reassign + n_leave + n_move) * 40 > self.budget:
            return
        owners = set(self.territory_owner.values())
        mid_year = [d for d in cal.days if d.year == year and 5 <= d.month <= 8]
        for t in sorted(rng.sample(range(len(self.territory_ids)), n_reassign)):
            tid = self.territory_ids[t]
            current = self.territory_owner[tid]
            city = self.teams[self.reps[current].team].city
            pool = [r for r in self.by_city[city] if r != current and r not in owners]
            pool = pool or [r for r in range(self.n_reps) if r != current and r not in owners]
            pool = pool or [r for r in range(self.n_reps) if r != current]
            new = rng.choice(pool)
            owners.add(new)
            self.territory_owner[tid] = new
            self.org_changes.append((rng.choice(mid_year), _O_REASSIGN, new, t))
        movable = [r for r in range(self.n_reps) if r not in owners]
        rng.shuffle(movable)
        leavers, movers = movable[:n_leave], movable[n_leave : n_leave + n_move]
        last_quarter = [d for d in cal.days if d.year == year and d.month >= 10][:-10]
        for r in leavers:
            rep = self.reps[r]
            rep.terminated = rng.choice(last_quarter)
            self.org_changes.append((rep.terminated, _O_TERMINATE, r, None))
        in_year = cal.days[cal.first_of_year + 20 : -20]
        for r in movers:
            rep = self.reps[r]
            city = self.teams[rep.team].city
            others = [t for t in range(self.n_teams) if t != rep.team]
            same_city = [t for t in others if self.teams[t].city == city]
            target = rng.choice(same_city or others)
            rep.transfer = (rng.choice(in_year), target)
            self.org_changes.append((rep.transfer[0], _O_TRANSFER, r, target))
        self.terminations = sorted(
            (rep.terminated, rep.index) for rep in self.reps if rep.terminated is not None
        )

    def org_event(self, day: date, kind: int, rep: int, ref: int | None) -> Event:
        """The event of a planned org change."""
        rng = self.rng
        if kind == _O_REASSIGN:
            assert ref is not None
            return TerritoryReassigned(
                event_id=self.next_id(),
                territory_id=self.territory_ids[ref],
                rep_id=self.rep_id(rep),
                effective_date=day,
                reason=rng.choice(_REASSIGN_REASONS),
            )
        if kind == _O_TRANSFER:
            assert ref is not None
            team = self.teams[ref]
            return RepTransferred(
                event_id=self.next_id(),
                rep_id=self.rep_id(rep),
                effective_date=day,
                team=team.name,
                manager_id=team.manager_id,
            )
        return RepTerminated(
            event_id=self.next_id(),
            rep_id=self.rep_id(rep),
            termination_date=day,
            reason=rng.choice(_TERMINATION_REASONS),
        )

    # -- customers and pipeline

    def build_clients(self, count: int) -> None:
        rng = self.rng
        weights = [len(self.by_city[c]) + 1 for c in _CITIES]
        width = max(5, len(str(count)))
        names: set[str] = set()
        for i in range(count):
            city = rng.choices(_CITIES, weights=weights)[0]
            segment = rng.choices(_SEGMENTS, weights=_SEGMENT_WEIGHTS)[0]
            industry = rng.choice(_INDUSTRIES)
            ownership: Ownership | None = None
            if segment == "individual":
                name = " ".join(_person_name(rng))
                existing = rng.random() < 0.15
            else:
                state = rng.random() < (0.3 if segment == "corporation" else 0.05)
                ownership = Ownership.STATE if state else Ownership.PRIVATE
                for _ in range(5):
                    name = _company_name(rng, industry, segment, state)
                    if name not in names:
                        break
                existing = rng.random() < 0.3
            names.add(name)
            self.clients.append(
                _Client(
                    f"cus-{i + 1:0{width}d}", name, city, segment, industry, ownership, existing
                )
            )
            self.clients_by_city.setdefault(city, []).append(i)

    def plan_pipeline(self) -> int:
        """Plan leads and deals within the budget; return how many events they make."""
        rng, cal = self.rng, self.cal
        budget = self.budget - len(self.org_changes)
        target = min(round(budget * 0.35 / 5.6), 60 * self.n_reps)
        if target <= 0:
            return 0
        cap = int(budget * 0.45)
        self.build_clients(max(30, round(target * 0.7)))
        start = self.pipeline_start = cal.index_on_or_after(date(self.year - 1, 11, 17))
        created = sorted(rng.randrange(start, len(cal.days)) for _ in range(target))
        rep_cum = list(accumulate(rep.weight for rep in self.reps))
        deal_width = max(5, len(str(target)))
        used = 0
        for ci in created:
            records, extra_leads = self._plan_deal(ci, rep_cum, deal_width)
            if records is None or used + len(records) > cap:
                if records is not None:  # over budget: forget this deal and its leads
                    self.deals.pop()
                    del self.leads[len(self.leads) - extra_leads :]
                continue
            used += len(records)
            for day, phase, seq, ref, extra in records:
                self.plan.setdefault(day, []).append((phase, seq, ref, extra))
        self._mark_new()
        return used

    def _pick_owner(self, day: date, rep_cum: list[float]) -> int | None:
        for _ in range(20):
            r = self.rng.choices(range(self.n_reps), cum_weights=rep_cum)[0]
            if self.reps[r].active_on(day):
                return r
        return None

    def _colleague(self, owner: int, day: date) -> int | None:
        """An active teammate of the owner on a day (else anyone active in the city)."""
        t = self.reps[owner].team_on(day)
        team = self.teams[t]
        reps = self.reps
        pool = [
            r
            for r in team.members
            if r != owner and reps[r].active_on(day) and reps[r].team_on(day) == t
        ]
        if not pool:
            pool = [
                r for r in self.by_city[team.city] if r != owner and self.reps[r].active_on(day)
            ]
        return self.rng.choice(pool) if pool else None

    def _plan_deal(
        self, ci: int, rep_cum: list[float], width: int
    ) -> tuple[list[tuple[date, int, int, int, object]] | None, int]:
        """The records of one deal (and its leads), or None if nobody can own it."""
        rng, cal = self.rng, self.cal
        n = len(cal.days)
        day = cal.days[ci]
        owner = self._pick_owner(day, rep_cum)
        if owner is None:
            return None, 0
        rep = self.reps[owner]
        city = self.teams[rep.team_on(day)].city
        if rng.random() < 0.9 and self.clients_by_city.get(city):
            client = rng.choice(self.clients_by_city[city])
        else:
            client = rng.randrange(len(self.clients))
        c = self.clients[client]
        segment = c.segment
        d = len(self.deals)
        records: list[tuple[date, int, int, int, object]] = []
        extra_leads = 0

        lead: int | None = None
        source = LeadSource.SALES_TEAM
        if rng.random() < 0.75:
            source = rng.choices(_LEAD_SOURCES, weights=_LEAD_SOURCE_WEIGHTS)[0]
            li = max(0, ci - rng.randint(0, 10))
            qi = rng.randint(li, ci)
            assigned = owner if rng.random() < 0.8 else None
            lead = len(self.leads)
            self.leads.append(_Lead(source, assigned, owner, client, c.city))
            extra_leads += 1
            records.append((cal.days[li], _P_LEAD, lead, lead, None))
            records.append((cal.days[qi], _P_QUALIFY, lead, lead, None))
        if rng.random() < 0.5:  # a lead that never qualifies
            li = rng.randrange(max(self.pipeline_start, ci - 30), min(n, ci + 30))
            lday = cal.days[li]
            other = self._pick_owner(lday, rep_cum) if rng.random() < 0.6 else None
            other_client = rng.randrange(len(self.clients)) if rng.random() < 0.5 else None
            region = (
                self.clients[other_client].city if other_client is not None else rng.choice(_CITIES)
            )
            src = rng.choices(_LEAD_SOURCES, weights=_LEAD_SOURCE_WEIGHTS)[0]
            self.leads.append(_Lead(src, other, None, other_client, region))
            extra_leads += 1
            records.append((lday, _P_LEAD, len(self.leads) - 1, len(self.leads) - 1, None))

        cycle = rng.randint(*_SEGMENT_CYCLE[segment])
        ei = ci + max(1, round(cycle * rng.uniform(0.15, 0.3)))
        ai = max(ei + 1, ci + round(cycle * rng.uniform(0.5, 0.7)))
        close = max(ai + 1, ci + cycle)
        # the pipeline open on 1 January closes in the year, not before it
        year_start = cal.first_of_year + rng.randint(0, 10)
        close = max(close, year_start)
        product = rng.choices(_PRODUCT_GROUPS, weights=_PRODUCT_WEIGHTS[segment])[0]
        amount = _amount(rng, segment)
        expected = cal.day(ci + cycle + rng.randint(-3, 5))
        deal = _Deal(
            f"deal-{d + 1:0{width}d}",
            owner,
            client,
            amount,
            product,
            lead,
            source,
            day,
            max(expected, day),
            is_new=not c.existing,
        )
        self.deals.append(deal)
        records.append((day, _P_OPEN, d, d, None))

        won = rng.random() < _SEGMENT_WIN_RATE[segment]
        if won:
            stages = [(ei, Stage.ENGAGE), (ai, Stage.ACQUIRE)]
            for i, stage in stages:
                if i < n:
                    records.append((cal.days[i], _P_STAGE, d, d, stage))
            if close < n:
                self._plan_win(deal, cal.days[close], records, d)
                # after the win the customer moves to the keep stage
                keep = close + rng.randint(1, 8)
                cancel_records = [r for r in records if r[1] == _P_CANCEL]
                if keep < n and (not cancel_records or cal.days[keep] < cancel_records[0][0]):
                    records.append((cal.days[keep], _P_STAGE, d, d, Stage.KEEP))
        else:
            lost_after = rng.choices((0, 1, 2), weights=(30, 40, 30))[0]
            stages = [(ei, Stage.ENGAGE), (ai, Stage.ACQUIRE)][:lost_after]
            for i, stage in stages:
                if i < n:
                    records.append((cal.days[i], _P_STAGE, d, d, stage))
            previous = stages[-1][0] if stages else ci
            following = (ei, ai, close)[lost_after]
            li = max(rng.randint(previous + 1, max(previous + 1, following)), year_start)
            if li < n:
                records.append((cal.days[li], _P_LOST, d, d, rng.choice(_LOST_REASONS)))
        return records, extra_leads

    def _plan_win(
        self,
        deal: _Deal,
        close_day: date,
        records: list[tuple[date, int, int, int, object]],
        d: int,
    ) -> None:
        rng, cal = self.rng, self.cal
        deal.won = close_day
        amount = deal.amount
        if rng.random() < 0.3:  # negotiated at the close
            amount = _round_to(amount * rng.uniform(0.85, 1.1), _AMOUNT_STEP)
        deal.won_amount = amount
        owner = deal.owner
        if not self.reps[owner].active_on(close_day):  # handed over to a colleague
            colleague = self._colleague(owner, close_day)
            owner = colleague if colleague is not None else -1
        roll = rng.random()
        if owner < 0 or roll < 0.05:
            deal.won_rep = None  # credited by territory
        elif roll < 0.10 and (partner := self._colleague(owner, close_day)) is not None:
            first, second = rng.choice(_SPLIT_SHARES)
            deal.won_rep = owner
            deal.splits = ((owner, first), (partner, second))
        else:
            deal.won_rep = owner
        records.append((close_day, _P_WON, d, d, None))
        ci = cal.index_on_or_after(close_day)
        roll = rng.random()
        if roll < 0.04:
            ai = ci + rng.randint(3, 30)
            if ai < len(cal.days):
                day = cal.days[ai]
                deal.amended_amount = _round_to(
                    deal.won_amount * rng.choice((rng.uniform(1.05, 1.3), rng.uniform(0.7, 0.95))),
                    _AMOUNT_STEP,
                )
                if deal.splits and all(self.reps[r].active_on(day) for r, _ in deal.splits):
                    deal.amended_splits = tuple((r, 50) for r, _ in deal.splits)
                records.append((day, _P_AMEND, d, d, rng.choice(_AMEND_REASONS)))
        elif roll < 0.07:
            xi = ci + rng.randint(3, 45)
            if xi < len(cal.days):
                records.append((cal.days[xi], _P_CANCEL, d, d, rng.choice(_CANCEL_REASONS)))

    def _mark_new(self) -> None:
        """A deal is new business when its customer had no won deal before it."""
        first_win: dict[int, tuple[date, int]] = {}
        for i, deal in enumerate(self.deals):
            if deal.won is not None:
                key = (deal.won, i)
                if deal.client not in first_win or key < first_win[deal.client]:
                    first_win[deal.client] = key
        for i, deal in enumerate(self.deals):
            if self.clients[deal.client].existing:
                deal.is_new = False
                continue
            first = first_win.get(deal.client)
            if deal.won is not None:
                deal.is_new = first == (deal.won, i)
            else:
                deal.is_new = first is None or first[0] >= deal.created

    # -- activities

    def activity_counts(self, total: int) -> list[int]:
        """How many activities each working day of the year gets (summing to ``total``)."""
        rng, cal = self.rng, self.cal
        days = cal.days[cal.first_of_year :]
        weights: list[float] = []
        quarter_ends = {date(self.year, m, 1) - timedelta(days=1) for m in (4, 7, 10)}
        quarter_ends.add(date(self.year, 12, 31))
        everyone = sum(rep.weight for rep in self.reps)
        left = [(day, self.reps[r].weight) for day, r in self.terminations]
        for day in days:
            active = everyone - sum(w for gone, w in left if gone < day)
            push = 1.25 if any(0 <= (end - day).days < 14 for end in quarter_ends) else 1.0
            weights.append(active * push * rng.uniform(0.85, 1.15))
        whole = sum(weights) or 1.0
        counts: list[int] = []
        done = 0
        running = 0.0
        for w in weights:
            running += w
            upto = round(running / whole * total)
            counts.append(upto - done)
            done = upto
        counts[-1] += total - done
        return counts


# ---------------------------------------------------------------------- streaming


def iter_generate(
    *, reps: int = 30, events: int = 20_000, seed: int = 7, year: int = 2026
) -> Iterator[Event]:
    """Same events, streamed (so a 1,000,000-event benchmark does not hold them all in memory)."""
    if not 1 <= reps <= MAX_REPS:
        raise ValueError(f"reps must be 1..{MAX_REPS}, not {reps}")
    if events < 0:
        raise ValueError(f"events must not be negative, not {events}")
    if not 2000 <= year <= 2100:
        raise ValueError(f"year must be 2000..2100, not {year}")
    return _stream(random.Random(seed), reps, events, year)


def generate(
    *, reps: int = 30, events: int = 20_000, seed: int = 7, year: int = 2026
) -> list[Event]:
    """A reproducible year of a Vietnamese sales organisation's events, about ``events`` long."""
    return list(iter_generate(reps=reps, events=events, seed=seed, year=year))


def _stream(rng: random.Random, reps: int, events: int, year: int) -> Iterator[Event]:
    world = _World(rng, reps, events, year)
    yield from world.hiring_events()
    yield from world.territory_events()
    yield from world.quota_events()
    world.plan_org_changes()
    pipeline = world.plan_pipeline()
    activities = max(0, world.budget - len(world.org_changes) - pipeline)
    yield from _Builder(world).run(world.activity_counts(activities))


class _Builder:
    """Turns the plan into events, day by day."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self.leads = 0
        self.lead_width = max(6, len(str(len(world.leads))))
        self.open_deals: list[list[tuple[str, str]]] = [[] for _ in world.reps]
        self.client_ids = [c.customer_id for c in world.clients]
        self.city_client_ids = {
            city: [world.clients[i].customer_id for i in idx]
            for city, idx in world.clients_by_city.items()
        }
        self.active_key = -1
        self.active: list[_Rep] = []
        self.active_cum: list[float] = []

    def run(self, counts: list[int]) -> Iterator[Event]:
        """Every day from the first planned record to 31 December, in recording order."""
        world, cal = self.world, self.world.cal
        changes: dict[date, list[tuple[date, int, int, int | None]]] = {}
        for change in world.org_changes:
            changes.setdefault(change[0], []).append(change)
        first = min([cal.jan1, *world.plan.keys()])
        activity_days = dict(zip(cal.days[cal.first_of_year :], counts, strict=True))
        day = first
        while day <= cal.last:
            late: list[tuple[date, int, int, int | None]] = []
            for change in changes.get(day, ()):
                if change[1] == _O_TERMINATE:  # the last working day: after the day's work
                    late.append(change)
                else:
                    yield world.org_event(*change)
            records = world.plan.get(day)
            if records:
                records.sort(key=lambda r: (r[0], r[1]))
                for phase, _, ref, extra in records:
                    yield self.pipeline_event(day, phase, ref, extra)
            n = activity_days.get(day, 0)
            if n:
                yield from self.activities(day, n)
            for change in late:
                yield world.org_event(*change)
            day += timedelta(days=1)

    def pipeline_event(self, day: date, phase: int, ref: int, extra: object) -> Event:
        """The event of one planned pipeline record."""
        world = self.world
        rep_id = world.rep_id
        if phase == _P_LEAD:
            lead = world.leads[ref]
            self.leads += 1  # lead ids are numbered in the order leads arrive
            lead.lead_id = f"lead-{self.leads:0{self.lead_width}d}"
            return LeadCreated(
                event_id=world.next_id(),
                lead_id=lead.lead_id,
                source=lead.source,
                created_date=day,
                rep_id=rep_id(lead.rep) if lead.rep is not None else None,
                customer_id=self.client_ids[lead.client] if lead.client is not None else None,
                region=lead.city,
            )
        if phase == _P_QUALIFY:
            lead = world.leads[ref]
            return LeadQualified(
                event_id=world.next_id(),
                lead_id=lead.lead_id,
                qualified_date=day,
                rep_id=rep_id(lead.qualifier) if lead.qualifier is not None else None,
            )
        deal = world.deals[ref]
        client = world.clients[deal.client]
        if phase == _P_OPEN:
            self.open_deals[deal.owner].append((deal.deal_id, client.customer_id))
            return OpportunityCreated(
                event_id=world.next_id(),
                deal_id=deal.deal_id,
                rep_id=rep_id(deal.owner),
                created_date=day,
                amount=Decimal(deal.amount),
                currency=CURRENCY,
                expected_close_date=deal.expected_close,
                product_group=deal.product_group,
                customer=client.model(deal.is_new),
                lead_id=world.leads[deal.lead].lead_id if deal.lead is not None else None,
                lead_source=deal.source,
            )
        if phase == _P_STAGE:
            assert isinstance(extra, Stage)
            return OpportunityStageChanged(
                event_id=world.next_id(), deal_id=deal.deal_id, stage=extra, changed_date=day
            )
        if phase == _P_WON:
            self._close(deal, client.customer_id)
            return DealWon(
                event_id=world.next_id(),
                deal_id=deal.deal_id,
                rep_id=rep_id(deal.won_rep) if deal.won_rep is not None else None,
                splits=self._shares(deal.splits),
                amount=Decimal(deal.won_amount),
                currency=CURRENCY,
                close_date=day,
                product_group=deal.product_group,
                customer=client.model(deal.is_new),
                lead_source=deal.source,
            )
        assert isinstance(extra, str)
        if phase == _P_LOST:
            self._close(deal, client.customer_id)
            return DealLost(
                event_id=world.next_id(), deal_id=deal.deal_id, lost_date=day, reason=extra
            )
        if phase == _P_AMEND:
            return DealAmended(
                event_id=world.next_id(),
                deal_id=deal.deal_id,
                amended_date=day,
                amount=Decimal(deal.amended_amount),
                currency=CURRENCY,
                splits=self._shares(deal.amended_splits),
                reason=extra,
            )
        return DealCancelled(
            event_id=world.next_id(), deal_id=deal.deal_id, cancelled_date=day, reason=extra
        )

    def _shares(self, splits: tuple[tuple[int, int], ...] | None) -> tuple[Share, ...] | None:
        if not splits:
            return None
        return tuple(Share(rep_id=self.world.rep_id(r), share=Decimal(s)) for r, s in splits)

    def _close(self, deal: _Deal, customer_id: str) -> None:
        """The deal is no longer open: activities stop naming it."""
        with_owner = self.open_deals[deal.owner]
        entry = (deal.deal_id, customer_id)
        if entry in with_owner:
            with_owner.remove(entry)

    def _active_on(self, day: date) -> tuple[list[_Rep], list[float]]:
        """Reps employed on a day, with cumulative activity weights (cached between leavers)."""
        world = self.world
        key = bisect.bisect_left(world.terminations, (day,))
        if key != self.active_key:
            self.active_key = key
            self.active = [rep for rep in world.reps if rep.active_on(day)]
            self.active_cum = list(accumulate(rep.weight for rep in self.active))
        return self.active, self.active_cum

    def activities(self, day: date, n: int) -> Iterator[Event]:
        """``n`` activities of the reps employed on a working day, in time order."""
        world = self.world
        rng = world.rng
        active, cum = self._active_on(day)
        if not active:
            return
        who = rng.choices(active, cum_weights=cum, k=n)
        kinds = rng.choices(_ACTIVITY_KINDS, cum_weights=_ACTIVITY_CUM_WEIGHTS, k=n)
        seconds = [rng.randrange(_WORKDAY_SECONDS) for _ in range(n)]
        order = sorted(range(n), key=lambda i: (seconds[i], who[i].index))
        base = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
        teams = world.teams
        city_clients = self.city_client_ids
        all_clients = self.client_ids
        open_deals = self.open_deals
        next_id = world.next_id
        for i in order:
            rep = who[i]
            deal_id: str | None = None
            customer_id: str | None = None
            roll = rng.random()
            mine = open_deals[rep.index]
            if roll < 0.45 and mine:
                deal_id, customer_id = mine[rng.randrange(len(mine))]
            elif roll < 0.8 and all_clients:
                pool = city_clients.get(teams[rep.team_on(day)].city) or all_clients
                customer_id = pool[rng.randrange(len(pool))]
            yield ActivityLogged(
                event_id=next_id(),
                rep_id=rep.rep_id,
                kind=kinds[i],
                occurred_at=base + timedelta(seconds=seconds[i]),
                customer_id=customer_id,
                deal_id=deal_id,
            )


# ------------------------------------------------------------------ source times

_SETUP_TYPES = (RepHired, TerritoryDefined, QuotaSet)
"""The organisation, territories and quotas: set up in the old CRM before the year starts."""
_NIGHTLY_EXPORT = time(11, 0)
"""18:00 Vietnam time (UTC+7): when the old CRM's nightly export ran."""


def planned_at(year: int = 2026) -> datetime:
    """When the year was planned in the old CRM (quotas, territories, plans): 15 December
    of the year before, 09:00 Vietnam time."""
    return datetime(year - 1, 12, 15, 2, 0, tzinfo=UTC)


def source_times(
    events: Iterable[Event], *, seed: int = 7, year: int = 2026
) -> dict[str, datetime]:
    """When the organisation's old CRM learned each event (event id -> instant), for loading
    the generated year as backfilled history with honest times.

    The set-up (hires, territories, their first owners, quotas) was entered on 15 December of
    the year before, or on its effective day when earlier; the business of each day reached
    the export one to four days later (the lag drawn per day, never earlier than the day
    before's, so that what was known at any instant names only what was known before it);
    a territory reassignment was keyed in three to six weeks after it took effect.
    Seeded by ``seed`` alone (not the events' generator): no clock, no I/O."""
    rng = random.Random(f"source-times-{seed}")
    planned = planned_at(year)
    found: dict[str, datetime] = {}
    lags: dict[date, int] = {}
    running: datetime | None = None
    for event in events:
        day = event.effective_day
        if isinstance(event, TerritoryReassigned):
            late = datetime.combine(day + timedelta(days=rng.randint(21, 42)), _NIGHTLY_EXPORT)
            found[event.event_id] = late.replace(tzinfo=UTC)
            continue
        if isinstance(event, _SETUP_TYPES) or (
            isinstance(event, TerritoryAssigned) and running is None
        ):
            start = datetime.combine(day, time(2, 0), tzinfo=UTC)
            found[event.event_id] = min(planned, start)
            continue
        lag = lags.get(day)
        if lag is None:
            lag = lags[day] = rng.choice((1, 1, 2, 2, 3, 4))
        when = datetime.combine(day + timedelta(days=lag), _NIGHTLY_EXPORT, tzinfo=UTC)
        running = when if running is None else max(running, when)
        found[event.event_id] = running
    return found
