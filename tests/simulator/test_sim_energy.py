"""GET energy over HTTP: validation, access, shapes, DST, gas, arrival and corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from fluvius_simulator import BlockInfo, FluviusSimulator

from .conftest import (
    Api,
    Clock,
    daily_slices,
    fine_slices,
    flatten,
    headpoint_of,
    truth_rows,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
DM_BOTH = "541440110000000000"  # digital, electricity, quarter-hour, offtake + injection
DM_OFFTAKE = "541440010000000000"
DM_DAILY = "541440100000000000"  # digital, electricity, daily access only
DM_GAS = "541441010000000000"
AMR_OFFTAKE = "541450010000000000"
AMR_PV = "541450211000000000"  # AMR injection with PV production + auxiliary

FMT = "%Y-%m-%dT%H:%M:%SZ"


def utc(text: str) -> datetime:
    return datetime.strptime(text, FMT).replace(tzinfo=UTC)


def local_day(year: int, month: int, day: int) -> tuple[str, str]:
    """UTC bounds of a Brussels calendar day, formatted for the API."""
    start = datetime(year, month, day, tzinfo=BRUSSELS)
    end = datetime.combine(start.date() + timedelta(days=1), start.time(), BRUSSELS)
    return start.astimezone(UTC).strftime(FMT), end.astimezone(UTC).strftime(FMT)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"ean": None}, "'ean'"),
        ({"periodType": None}, "periodType"),
        ({"from": None}, "'from'"),
        ({"periodType": "measureTime"}, "periodType"),
        ({"from": "2025-01-01T00:00:00"}, "'from'"),
        ({"from": "2025-01-01"}, "'from'"),
        ({"to": "2025-01-02T00:00:00.000Z"}, "'to'"),
        ({"to": "2025-01-01T00:00:00Z"}, "later than"),
        ({"to": "2024-12-31T00:00:00Z"}, "later than"),
        ({"to": "2025-07-05T00:00:01Z"}, "185 days"),
        ({"from": "2022-11-19T22:59:59Z", "to": "2022-11-20T23:00:00Z"}, "3 years"),
        ({"granularity": "monthly"}, "granularity"),
        ({"granularity": "daily,daily,daily"}, "at most 2"),
        ({"complexEnergyTypes": "apparent"}, "complexEnergyTypes"),
        ({"ean": "5414"}, "18 digits"),
    ],
)
async def test_bad_requests(
    api: Api, sim: FluviusSimulator, params: dict[str, str | None], fragment: str
) -> None:
    """Each case changes (or, with None, drops) one parameter of a valid query."""
    sim.add_mandate(DM_DAILY)
    query: dict[str, str | None] = {
        "ean": DM_DAILY,
        "periodType": "readTime",
        "from": "2025-01-01T00:00:00Z",
        "to": "2025-01-02T00:00:00Z",
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    reply = await api.get("/api/mandate/energy", params=query)
    assert reply.status == 400, reply.body
    body = reply.json()
    assert body["Code"] == "InvalidParameters"
    assert any(fragment in m for m in body["ValidationErrorMessages"]), body


async def test_limits_that_pass(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(DM_DAILY)
    # Exactly 185 days is allowed.
    reply = await api.energy(DM_DAILY, "2025-01-01T00:00:00Z", "2025-07-05T00:00:00Z")
    assert reply.status == 200
    # The oldest readTime start is local midnight three years back (= the default dataPeriodFrom).
    reply = await api.energy(DM_DAILY, "2022-11-19T23:00:00Z", "2022-11-21T23:00:00Z")
    assert len(daily_slices(headpoint_of(reply))) == 2
    # insertTime windows are not limited to three years back.
    reply = await api.energy(
        DM_DAILY, "2022-01-01T00:00:00Z", "2022-01-02T00:00:00Z", period_type="insertTime"
    )
    assert reply.status == 200
    # Case-insensitive names and values, and an ignored referenceNumber.
    reply = await api.get(
        "/api/mandate/energy",
        params={
            "EAN": DM_DAILY,
            "PeriodType": "READTIME",
            "From": "2025-01-01T23:00:00Z",
            "To": "2025-01-02T23:00:00Z",
            "referenceNumber": "REF-1",
        },
    )
    assert len(daily_slices(headpoint_of(reply))) == 1


async def test_no_valid_access(api: Api, sim: FluviusSimulator) -> None:
    window = ("2025-01-01T23:00:00Z", "2025-01-02T23:00:00Z")
    reply = await api.energy(DM_BOTH, *window)
    assert reply.status == 404
    assert reply.json()["Code"] == "NoValidAccess"
    for status in ("Requested", "Rejected"):
        sim.add_mandate(DM_BOTH, status=status)
        assert (await api.energy(DM_BOTH, *window)).status == 404
    sim.add_mandate(DM_BOTH, status="Finished")
    assert (await api.energy(DM_BOTH, *window)).status == 200
    # A daily-only access has no quarter-hours.
    sim.add_mandate(DM_DAILY)
    reply = await api.energy(DM_DAILY, *window, granularity="hourly_quarterhourly")
    assert (reply.status, reply.json()["Code"]) == (404, "NoValidAccess")
    reply = await api.energy(DM_DAILY, *window, granularity="daily,hourly_quarterhourly")
    assert reply.status == 404


async def test_granularity_defaults_and_forms(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(DM_BOTH)
    sim.add_mandate(DM_DAILY)
    window = local_day(2025, 2, 12)
    meter = headpoint_of(await api.energy(DM_BOTH, *window))["physicalMeters"][0]
    assert set(meter) == {"seqNumber", "meterID", "dailyEnergy", "quarterHourlyEnergy"}
    assert meter["meterID"].startswith("1SAG")
    meter = headpoint_of(await api.energy(DM_DAILY, *window))["physicalMeters"][0]
    assert set(meter) == {"seqNumber", "meterID", "dailyEnergy"}
    meter = headpoint_of(await api.energy(DM_BOTH, *window, granularity="daily"))["physicalMeters"][
        0
    ]
    assert "quarterHourlyEnergy" not in meter
    repeated = await api.energy(DM_BOTH, *window, granularity=["daily", "hourly_quarterhourly"])
    comma = await api.energy(DM_BOTH, *window, granularity="daily,hourly_quarterhourly")
    omitted = await api.energy(DM_BOTH, *window)
    assert repeated.body == comma.body == omitted.body


async def test_empty_period(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(DM_BOTH)
    reply = await api.energy(DM_BOTH, "2025-12-01T00:00:00Z", "2025-12-02T00:00:00Z")
    meter = headpoint_of(reply)["physicalMeters"][0]
    assert meter["dailyEnergy"] == []
    assert meter["quarterHourlyEnergy"] == []


# ---------------------------------------------------------------- electricity shapes


@pytest.mark.parametrize(
    ("day", "count"), [((2025, 3, 30), 92), ((2025, 10, 26), 100), ((2025, 2, 12), 96)]
)
async def test_dst_days_and_daily_sums(
    api: Api, sim: FluviusSimulator, day: tuple[int, int, int], count: int
) -> None:
    sim.add_mandate(DM_BOTH)
    start, end = local_day(*day)
    head = headpoint_of(await api.energy(DM_BOTH, start, end))
    quarters = fine_slices(head)
    assert len(quarters) == count
    assert quarters[0]["start"] == start
    assert quarters[-1]["end"] == end
    for a, b in itertools.pairwise(quarters):
        assert a["end"] == b["start"]
        assert utc(a["end"]) - utc(a["start"]) == timedelta(minutes=15)
    (daily,) = daily_slices(head)
    assert (daily["start"], daily["end"]) == (start, end)
    (registers,) = daily["measurements"]
    for direction in ("offtake", "injection"):
        assert set(registers[direction]) == {"day", "night"}
        day_sum = night_sum = 0.0
        for q in quarters:
            local = utc(q["start"]).astimezone(BRUSSELS)
            value = q["measurements"][0][direction]["total"]["value"]
            if local.weekday() < 5 and 7 <= local.hour < 22:
                day_sum += value
            else:
                night_sum += value
        assert registers[direction]["day"]["value"] == pytest.approx(day_sum, abs=1e-6)
        assert registers[direction]["night"]["value"] == pytest.approx(night_sum, abs=1e-6)


async def test_digital_meter_values(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(DM_BOTH)
    sim.add_mandate(DM_OFFTAKE)
    head = headpoint_of(await api.energy(DM_BOTH, *local_day(2025, 6, 21)))
    assert head["$type"] == "metering-on-meter"
    assert head["energyType"] == "E"
    injected = 0.0
    for q in fine_slices(head):
        (m,) = q["measurements"]
        assert set(m) == {"offtake", "injection"}
        for direction in m.values():
            assert set(direction) == {"total"}
            assert direction["total"]["unit"] == "kWh"
            assert direction["total"]["validationState"] in {"READ", "EST"}
            assert direction["total"]["value"] >= 0
        hour = utc(q["start"]).hour
        if hour < 2 or hour >= 21:  # night: no solar production
            assert m["injection"]["total"]["value"] == 0
            assert m["offtake"]["total"]["value"] > 0
        injected += m["injection"]["total"]["value"]
        # Offtake and injection are net values: never both at once.
        assert min(m["offtake"]["total"]["value"], m["injection"]["total"]["value"]) == 0
    assert injected > 0  # a midsummer Saturday exports solar power
    head = headpoint_of(await api.energy(DM_OFFTAKE, *local_day(2025, 6, 21)))
    assert {d for q in fine_slices(head) for d in q["measurements"][0]} == {"offtake"}


async def test_amr_daily_total_is_sum(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(AMR_OFFTAKE)
    head = headpoint_of(await api.energy(AMR_OFFTAKE, *local_day(2025, 5, 7)))
    assert head["$type"] == "metering-on-headpoint"
    quarters = head["quarterHourlyEnergy"]
    (daily,) = head["dailyEnergy"]
    total = sum(q["measurements"][0]["offtake"]["total"]["value"] for q in quarters)
    assert daily["measurements"][0]["offtake"]["total"]["value"] == pytest.approx(total, abs=1e-6)
    assert {q["measurements"][0]["offtake"]["total"]["validationState"] for q in quarters} <= {
        "VAL",
        "NVAL",
    }
    assert "subHeadpoints" not in head


async def test_reactive_only_when_asked_on_amr(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(AMR_PV)
    sim.add_mandate(DM_BOTH)
    window = local_day(2025, 5, 7)
    plain = headpoint_of(await api.energy(AMR_PV, *window))
    assert set(plain["quarterHourlyEnergy"][0]["measurements"][0]["injection"]) == {"total"}
    active = await api.energy(AMR_PV, *window, complexEnergyTypes="active")
    assert headpoint_of(active) == plain
    for form in ("active,reactive", ["active", "reactive"]):
        head = headpoint_of(await api.energy(AMR_PV, *window, complexEnergyTypes=form))
        for key in ("quarterHourlyEnergy", "dailyEnergy"):
            registers = head[key][0]["measurements"][0]["injection"]
            assert set(registers) == {"total", "inductive", "capacitive"}
            assert registers["inductive"]["unit"] == "kVArh"
            assert registers["capacitive"]["unit"] == "kVArh"
        for sub in head["subHeadpoints"]:
            for q in sub["quarterHourlyEnergy"]:
                for direction in q["measurements"][0].values():
                    assert set(direction) == {"total"}
    # No effect on a digital meter.
    dm_plain = await api.energy(DM_BOTH, *window)
    dm_reactive = await api.energy(DM_BOTH, *window, complexEnergyTypes="active,reactive")
    assert dm_plain.body == dm_reactive.body


SUBMETER_CASES = [
    ("541450211000000000", [("submetering-production", "PV"), ("submetering-auxiliary", "PV")]),
    ("541450211000000150", [("submetering-production", "PV")]),
    ("541450211000000250", [("submetering-production", "WTR"), ("submetering-auxiliary", "WTR")]),
    ("541450211000000350", [("submetering-production", "WTR")]),
    ("541450211000000450", [("submetering-production", "WND"), ("submetering-auxiliary", "WND")]),
    ("541450211000000550", [("submetering-production", "WND")]),
    ("541450211000000650", [("submetering-production", "WKKA")]),
    ("541450011000000099", [("submetering-production", "PV"), ("submetering-auxiliary", "PV")]),
    ("541450012000000000", [("submetering-offtake", "NDGR")]),
    ("541451012000000000", [("submetering-offtake", "NDGR")]),
    ("541450210000000000", []),
    ("541450010000000000", []),
]
_SUB_DIRECTION = {
    "submetering-production": "production",
    "submetering-auxiliary": "auxiliary",
    "submetering-offtake": "offtake",
}


@pytest.mark.parametrize(("ean", "expected"), SUBMETER_CASES)
async def test_submeters_per_ean_digit(
    api: Api, sim: FluviusSimulator, ean: str, expected: list[tuple[str, str]]
) -> None:
    sim.add_mandate(ean)
    head = headpoint_of(await api.energy(ean, *local_day(2025, 6, 10)))
    subs = head.get("subHeadpoints", [])
    assert [(s["$type"], s["type"]) for s in subs] == expected
    main_direction = "injection" if ean[6] == "2" else "offtake"
    fine_key = "hourlyEnergy" if ean[5] == "1" else "quarterHourlyEnergy"
    assert {d for q in head[fine_key] for d in q["measurements"][0]} == {main_direction}
    sub_eans = {s["ean"] for s in subs}
    assert len(sub_eans) == len(subs)
    assert ean not in sub_eans
    assert len({s["seqNumber"] for s in subs}) <= 1
    for sub in subs:
        assert len(sub["ean"]) == 18
        assert sub["ean"].isdigit()
        assert sub["vregId"]
        direction = _SUB_DIRECTION[sub["$type"]]
        assert len(sub[fine_key]) == len(head[fine_key])
        for key in (fine_key, "dailyEnergy"):
            for s in sub[key]:
                (m,) = s["measurements"]
                assert set(m) == {direction}
                assert set(m[direction]) == {"total"}  # never day/night
                assert m[direction]["total"]["value"] >= 0


async def test_pv_production_only_in_daylight(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(AMR_PV)
    head = headpoint_of(await api.energy(AMR_PV, *local_day(2025, 6, 10)))
    production = head["subHeadpoints"][0]["quarterHourlyEnergy"]
    by_hour: dict[int, float] = {}
    for q in production:
        hour = utc(q["start"]).hour
        by_hour[hour] = (
            by_hour.get(hour, 0.0) + q["measurements"][0]["production"]["total"]["value"]
        )
    assert by_hour[0] == by_hour[1] == by_hour[22] == 0
    assert by_hour[11] > 0


# ---------------------------------------------------------------- gas


async def test_gas_shapes_and_day_boundaries(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(DM_GAS)
    head = headpoint_of(await api.energy(DM_GAS, *local_day(2025, 1, 16)))
    assert head["energyType"] == "G"
    meter = head["physicalMeters"][0]
    assert meter["meterID"].startswith("7FLO")
    assert set(meter) == {"seqNumber", "meterID", "dailyEnergy", "hourlyEnergy"}
    hours = meter["hourlyEnergy"]
    assert len(hours) == 24
    assert all(utc(h["end"]) - utc(h["start"]) == timedelta(hours=1) for h in hours)
    # The gas day runs 06:00 -> 06:00 local: 05:00Z in winter.
    (daily,) = meter["dailyEnergy"]
    assert (daily["start"], daily["end"]) == ("2025-01-16T05:00:00Z", "2025-01-17T05:00:00Z")
    for slice_ in [*hours, daily]:
        m3, kwh = slice_["measurements"]
        m3 = m3["offtake"]["total"]
        kwh = kwh["offtake"]["total"]
        assert (m3["unit"], kwh["unit"]) == ("m3", "kWh")
        assert "gasConversionFactor" not in m3
        assert kwh["gasConversionFactor"] == "D"
        if m3["value"] > 1:
            assert 10.7 < kwh["value"] / m3["value"] < 11.7
    summer = headpoint_of(await api.energy(DM_GAS, *local_day(2025, 7, 16)))
    (daily,) = summer["physicalMeters"][0]["dailyEnergy"]
    assert (daily["start"], daily["end"]) == ("2025-07-16T04:00:00Z", "2025-07-17T04:00:00Z")
    # The daily value is the sum of the gas day's hours.
    gas_day = headpoint_of(
        await api.energy(DM_GAS, "2025-07-16T04:00:00Z", "2025-07-17T04:00:00Z")
    )["physicalMeters"][0]
    for index in (0, 1):
        total = sum(
            h["measurements"][index]["offtake"]["total"]["value"] for h in gas_day["hourlyEnergy"]
        )
        value = gas_day["dailyEnergy"][0]["measurements"][index]["offtake"]["total"]["value"]
        assert value == pytest.approx(total, abs=1e-6)
    # Winter needs far more gas than summer.
    winter_m3 = sum(h["measurements"][0]["offtake"]["total"]["value"] for h in hours)
    summer_m3 = gas_day["dailyEnergy"][0]["measurements"][0]["offtake"]["total"]["value"]
    assert winter_m3 > 3 * summer_m3


async def test_gas_conversion_factor_provisional_then_definitive(
    api: Api, sim: FluviusSimulator, clock: Clock
) -> None:
    clock.set(datetime(2025, 11, 3, 12, tzinfo=UTC))
    sim.add_mandate(DM_GAS)
    window = ("2025-10-10T04:00:00Z", "2025-10-11T04:00:00Z")

    def pairs(head: dict[str, Any]) -> list[tuple[float, float, str]]:
        out = []
        for h in head["physicalMeters"][0]["hourlyEnergy"]:
            m3, kwh = (m["offtake"]["total"] for m in h["measurements"])
            out.append((m3["value"], kwh["value"], kwh["gasConversionFactor"]))
        return out

    before = pairs(headpoint_of(await api.energy(DM_GAS, *window)))
    assert {p[2] for p in before} == {"P"}
    factors = {round(kwh / m3, 2) for m3, kwh, _ in before if m3 > 1}
    assert len(factors) == 1  # one provisional factor for the month
    # The definitive factor applies from the 5th of the next month, 00:00 Brussels.
    clock.set(datetime(2025, 11, 4, 22, 59, 59, tzinfo=UTC))
    await api.fetch_token()
    assert pairs(headpoint_of(await api.energy(DM_GAS, *window))) == before
    clock.set(datetime(2025, 11, 4, 23, 0, tzinfo=UTC))
    after = pairs(headpoint_of(await api.energy(DM_GAS, *window)))
    assert {p[2] for p in after} == {"D"}
    assert [p[0] for p in after] == [p[0] for p in before]  # m3 unchanged
    assert [p[1] for p in after] != [p[1] for p in before]  # kWh corrected
    # The switch is a new version: the October gas days reappear with insertTime.
    reply = await api.energy(
        DM_GAS, "2025-11-04T23:00:00Z", "2025-11-04T23:00:01Z", period_type="insertTime"
    )
    days = headpoint_of(reply)["physicalMeters"][0]["dailyEnergy"]
    starts = [d["start"] for d in days]
    assert "2025-10-10T04:00:00Z" in starts
    assert len(days) >= 28
    assert all(s.startswith(("2025-09-30T04", "2025-10")) for s in starts)
    assert {d["measurements"][1]["offtake"]["total"]["gasConversionFactor"] for d in days} == {"D"}


# ---------------------------------------------------------------- arrival and versions


async def test_read_time_vs_insert_time(api: Api, sim: FluviusSimulator, clock: Clock) -> None:
    sim.add_mandate(DM_BOTH)
    day = local_day(2025, 11, 12)
    (block,) = sim.blocks(DM_BOTH, utc(day[0]), utc(day[0]) + timedelta(hours=1))
    assert block.end == utc(day[1])
    assert timedelta(hours=1) <= block.arrival - block.end <= timedelta(hours=72)
    clock.set(block.arrival - timedelta(seconds=1))
    await api.fetch_token()
    head = headpoint_of(await api.energy(DM_BOTH, *day))
    assert fine_slices(head) == []
    assert daily_slices(head) == []
    clock.set(block.arrival)
    await api.fetch_token()
    read = headpoint_of(await api.energy(DM_BOTH, *day))
    assert len(fine_slices(read)) == 96
    arrival = block.arrival
    inserted = headpoint_of(
        await api.energy(
            DM_BOTH,
            (arrival - timedelta(minutes=1)).strftime(FMT),
            (arrival + timedelta(minutes=1)).strftime(FMT),
            period_type="insertTime",
        )
    )
    assert inserted == read
    earlier = headpoint_of(
        await api.energy(
            DM_BOTH,
            (arrival - timedelta(hours=2)).strftime(FMT),
            arrival.strftime(FMT),  # exclusive
            period_type="insertTime",
        )
    )
    assert day[0] not in {q["start"] for q in fine_slices(earlier)}


async def test_insert_time_returns_late_days(api: Api, sim: FluviusSimulator) -> None:
    """The seed's example: an insertTime window brings whatever arrived in it."""
    sim.add_mandate(DM_BOTH)
    blocks = sim.blocks(DM_BOTH, utc("2025-10-01T00:00:00Z"), utc("2025-11-01T00:00:00Z"))
    window_start, window_end = utc("2025-10-15T00:00:00Z"), utc("2025-10-18T00:00:00Z")
    expected = [
        b.start.strftime(FMT)
        for b in blocks
        if window_start <= max(b.arrival, b.correction_arrival or b.arrival) < window_end
    ]
    reply = await api.energy(
        DM_BOTH, window_start.strftime(FMT), window_end.strftime(FMT), period_type="insertTime"
    )
    assert [d["start"] for d in daily_slices(headpoint_of(reply))] == expected
    assert len(expected) >= 2
    assert utc(expected[0]) < window_start  # measured before the window, inserted in it


@pytest.mark.parametrize(
    "case", [(DM_BOTH, "EST", "READ"), (AMR_PV, "NVAL", "VAL")], ids=["digital", "amr"]
)
async def test_corrections(
    api: Api, sim: FluviusSimulator, clock: Clock, case: tuple[str, str, str]
) -> None:
    ean, estimated, final = case
    sim.add_mandate(ean)
    blocks = sim.blocks(ean, utc("2025-01-01T00:00:00Z"), utc("2025-11-01T00:00:00Z"))
    corrected = [b for b in blocks if b.correction_arrival is not None]
    assert 0.02 < len(corrected) / len(blocks) < 0.1
    block = corrected[0]
    assert timedelta(hours=24) <= block.correction_arrival - block.arrival <= timedelta(hours=48)
    window = (block.start.strftime(FMT), block.end.strftime(FMT))
    final_values = sorted(
        truth_rows(
            sim.truth(ean, block.start, block.end, granularity="quarter_hourly", final=True)
        ),
        key=_row_key,
    )

    clock.set(block.arrival)
    await api.fetch_token()
    first = sorted(
        flatten(headpoint_of(await api.energy(ean, *window)), "quarterHourlyEnergy"), key=_row_key
    )
    states = {row[7] for row in first}
    assert states == {estimated, final}
    changed = [a for a, b in zip(first, final_values, strict=True) if a != b]
    assert changed
    assert all(row[7] == estimated for row in changed)
    assert any(
        abs(a[6] - b[6]) > 0.02 * b[6]
        for a, b in zip(first, final_values, strict=True)
        if a[7] == estimated and b[6] > 0.1
    )
    (daily,) = flatten(
        headpoint_of(await api.energy(ean, *window, granularity="daily")), "dailyEnergy"
    )[:1]
    assert daily[7] in {estimated, final}

    assert block.correction_arrival is not None
    clock.set(block.correction_arrival)
    await api.fetch_token()
    second = sorted(
        flatten(headpoint_of(await api.energy(ean, *window)), "quarterHourlyEnergy"), key=_row_key
    )
    assert second == final_values
    # The corrected quarter-hours (and the day's daily values) moved to the second
    # insert time; the others kept the first. insertTime gives each exactly once.
    corrected_starts = {row[4] for row in changed}
    around = timedelta(minutes=1)
    old = await api.energy(
        ean,
        (block.arrival - around).strftime(FMT),
        (block.arrival + around).strftime(FMT),
        period_type="insertTime",
    )
    old_head = headpoint_of(old)
    kept = {row[4] for row in flatten(old_head, "quarterHourlyEnergy")}
    assert window[0] not in {row[4] for row in flatten(old_head, "dailyEnergy")}
    new = await api.energy(
        ean,
        (block.correction_arrival - around).strftime(FMT),
        (block.correction_arrival + around).strftime(FMT),
        period_type="insertTime",
    )
    new_head = headpoint_of(new)
    rows = [
        r for r in flatten(new_head, "quarterHourlyEnergy") if block.start <= utc(r[4]) < block.end
    ]
    assert {r[4] for r in rows} == corrected_starts
    assert kept.isdisjoint(corrected_starts)
    assert len(kept & {r[4] for r in final_values}) + len(corrected_starts) == block_size(block)
    assert sorted(rows, key=_row_key) == [r for r in final_values if r[4] in corrected_starts]
    assert window[0] in {row[4] for row in flatten(new_head, "dailyEnergy")}


def block_size(block: BlockInfo) -> int:
    """Quarter-hours of a block (92 or 100 on DST days)."""
    return int((block.end - block.start) / timedelta(minutes=15))


def _row_key(row: tuple[Any, ...]) -> tuple[str, str, str, str, str]:
    """Order flattened rows by slice, then stream (the API lists owners one by one)."""
    return (row[4], row[0] or "", row[1], row[2], row[3])


# ---------------------------------------------------------------- mandate period


async def test_data_period_clipping(api: Api, sim: FluviusSimulator) -> None:
    sim.add_mandate(
        DM_BOTH,
        data_period_from="2025-06-01T22:00:00Z",
        data_period_to="2025-06-03T22:00:00Z",
    )
    window = ("2025-05-31T22:00:00Z", "2025-06-05T22:00:00Z")
    head = headpoint_of(await api.energy(DM_BOTH, *window))
    assert len(fine_slices(head)) == 2 * 96
    assert [d["start"] for d in daily_slices(head)] == [
        "2025-06-01T22:00:00Z",
        "2025-06-02T22:00:00Z",
    ]
    sim.set_data_period_to(DM_BOTH, utc("2025-06-02T22:00:00Z"))
    head = headpoint_of(await api.energy(DM_BOTH, *window))
    assert len(fine_slices(head)) == 96
    assert fine_slices(head)[-1]["end"] == "2025-06-02T22:00:00Z"


async def test_expired_mandate_releases_nothing_new(
    api: Api, sim: FluviusSimulator, clock: Clock
) -> None:
    sim.add_mandate(DM_BOTH, mandate_expiration_date=clock.now + timedelta(days=1))
    clock.advance(days=10)
    await api.fetch_token()
    head = headpoint_of(await api.energy(DM_BOTH, "2025-11-15T23:00:00Z", "2025-11-29T23:00:00Z"))
    released = [d["end"] for d in daily_slices(head)]
    assert released
    assert all(utc(end) < utc("2025-11-21T12:00:00Z") for end in released)


# ---------------------------------------------------------------- truth and determinism


@pytest.mark.parametrize(
    ("ean", "granularity", "key"),
    [
        (DM_BOTH, "quarter_hourly", "quarterHourlyEnergy"),
        (DM_BOTH, "daily", "dailyEnergy"),
        (DM_GAS, "hourly", "hourlyEnergy"),
        (DM_GAS, "daily", "dailyEnergy"),
        (AMR_PV, "quarter_hourly", "quarterHourlyEnergy"),
        (AMR_PV, "daily", "dailyEnergy"),
        ("541451012000000003", "hourly", "hourlyEnergy"),
    ],
)
async def test_api_matches_truth(
    api: Api, sim: FluviusSimulator, ean: str, granularity: str, key: str
) -> None:
    sim.add_mandate(ean)
    start, end = "2025-11-14T23:00:00Z", "2025-11-20T23:00:00Z"  # includes unarrived days
    api_granularity = "daily" if granularity == "daily" else "hourly_quarterhourly"
    head = headpoint_of(await api.energy(ean, start, end, granularity=api_granularity))
    rows = flatten(head, key)
    assert rows
    expected = truth_rows(sim.truth(ean, utc(start), utc(end), granularity=granularity))
    assert sorted(rows, key=repr) == sorted(expected, key=repr)
    everything = sim.truth(
        ean, utc(start), utc(end), granularity=granularity, include_unarrived=True
    )
    assert len(everything) > len(expected)


async def test_same_window_same_bytes(api: Api, sim: FluviusSimulator, clock: Clock) -> None:
    sim.add_mandate(AMR_PV)
    window = ("2025-09-01T22:00:00Z", "2025-09-04T22:00:00Z")
    first = await api.energy(AMR_PV, *window, complexEnergyTypes="active,reactive")
    second = await api.energy(AMR_PV, *window, complexEnergyTypes="active,reactive")
    assert first.body == second.body
    clock.advance(seconds=5)
    third = await api.energy(AMR_PV, *window, complexEnergyTypes="active,reactive")
    assert third.body != first.body
    strip = lambda r: orjson.loads(r.body)["data"]  # noqa: E731
    assert strip(third) == strip(first)
    # A sub-window sees exactly the same values.
    inner = await api.energy(AMR_PV, "2025-09-02T22:00:00Z", "2025-09-03T22:00:00Z")
    inner_rows = flatten(headpoint_of(inner), "quarterHourlyEnergy")
    outer_rows = flatten(headpoint_of(first), "quarterHourlyEnergy")
    assert set(inner_rows) <= set(outer_rows)
    assert len(inner_rows) == 96 * 3  # main + production + auxiliary


# ---------------------------------------------------------------- late data of any age


@pytest.mark.parametrize("age_days", [1, 5, 20, 150])
async def test_scheduled_correction_arrives_alone(
    api: Api, sim: FluviusSimulator, clock: Clock, age_days: int
) -> None:
    """A correction of any age: insertTime holds its quarter-hour and the day's daily values only."""
    sim.add_mandate(DM_BOTH)
    moment = (clock.now - timedelta(days=age_days)).replace(minute=15, second=0, microsecond=0)
    (block,) = sim.blocks(DM_BOTH, moment, moment + timedelta(minutes=15))
    # A day-old quarter-hour may not have arrived yet: correct it once it has.
    clock.set(max(clock.now, block.arrival + timedelta(minutes=1)))
    arrival = clock.now + timedelta(hours=1)
    sim.schedule_correction(DM_BOTH, moment, factor=1.5, arrival=arrival)
    stamp = moment.strftime(FMT)
    window = (block.start.strftime(FMT), block.end.strftime(FMT))

    await api.fetch_token()
    before = flatten(headpoint_of(await api.energy(DM_BOTH, *window)), "quarterHourlyEnergy")
    estimated = [row for row in before if row[4] == stamp]
    assert {row[7] for row in estimated} == {"EST"}

    clock.set(arrival + timedelta(minutes=1))
    await api.fetch_token()
    reply = await api.energy(
        DM_BOTH, arrival.strftime(FMT), clock.now.strftime(FMT), period_type="insertTime"
    )
    head = headpoint_of(reply)
    rows = flatten(head, "quarterHourlyEnergy")
    assert {row[4] for row in rows} == {stamp}
    final = truth_rows(sim.truth(DM_BOTH, moment, moment + timedelta(minutes=15), final=True))
    assert sorted(rows, key=_row_key) == sorted(final, key=_row_key)
    assert all(
        abs(a[6] - b[6] * 1.5) < 0.002
        for a, b in zip(sorted(estimated, key=_row_key), sorted(final, key=_row_key), strict=True)
    )
    assert [d["start"] for d in daily_slices(head)] == [window[0]]


@pytest.mark.parametrize("age_days", [1, 5, 20, 150])
async def test_scheduled_late_day_arrives_whole(
    api: Api, sim: FluviusSimulator, clock: Clock, age_days: int
) -> None:
    """A day that arrives weeks late comes whole in the insertTime window it arrives in."""
    sim.add_mandate(DM_BOTH)
    day = (clock.now - timedelta(days=age_days + 1)).astimezone(BRUSSELS).date()
    arrival = clock.now + timedelta(hours=1)
    sim.schedule_arrival(DM_BOTH, day, arrival)
    window = local_day(day.year, day.month, day.day)

    await api.fetch_token()
    assert fine_slices(headpoint_of(await api.energy(DM_BOTH, *window))) == []
    clock.set(arrival + timedelta(minutes=1))
    await api.fetch_token()
    head = headpoint_of(
        await api.energy(
            DM_BOTH, arrival.strftime(FMT), clock.now.strftime(FMT), period_type="insertTime"
        )
    )
    starts = {s["start"] for s in fine_slices(head)}
    day_start, day_end = utc(window[0]), utc(window[1])
    assert len(starts) == (day_end - day_start) // timedelta(minutes=15)
    assert all(window[0] <= s < window[1] for s in starts)
    assert [d["start"] for d in daily_slices(head)] == [window[0]]
