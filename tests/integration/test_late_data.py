"""Late data of any age, arriving by insertTime, ends up as a fresh import would have it.

For each meter kind, the simulator corrects single quarter-hours (or hours) and
delivers whole days late, 1, 5, 20 and 150 days after they were measured. After
the poll that brings them, every statistic (energy, power) and the monthly peaks
must equal, row by row, what clearing everything and importing afresh gives.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.fluvius.const import ENERGY_UPDATE_INTERVAL
from fluvius_simulator import FluviusSimulator

from .fault_harness import Snapshot, snapshot
from .helpers import BRUSSELS, settle, setup_entry

NOW = datetime(2026, 3, 10, 9, 17, tzinfo=dt_util.UTC)
AGES = (1, 5, 20, 150)
METERS = {
    "digital_both": "541440110000000000",
    "digital_daily": "541440100000000000",
    "amr_offtake": "541450010000000000",
    "amr_production": "541450211000000000",
    "gas_digital": "541441010000000000",
}


def schedule(sim: FluviusSimulator, ean: str, arrival: datetime) -> list[datetime]:
    """Corrections and late days of every age, all arriving around ``arrival``.

    A correction needs its block to have arrived first, so a day-old one comes
    just after its block. Returns the moments the poll must have reached.
    """
    arrivals = []
    step = timedelta(hours=1) if ean[5] == "1" else timedelta(minutes=15)
    for age in AGES:
        moment = (arrival - timedelta(days=age)).astimezone(BRUSSELS).replace(
            hour=10, minute=0, second=0, microsecond=0
        ) + step
        (block,) = sim.blocks(ean, moment, moment + step)
        corrected_at = max(arrival, block.arrival + timedelta(minutes=30))
        sim.schedule_correction(ean, moment, count=1, factor=1.4, arrival=corrected_at)
        late_day = (arrival - timedelta(days=age + 2)).astimezone(BRUSSELS).date()
        sim.schedule_arrival(ean, late_day, arrival)
        arrivals += [corrected_at, arrival]
    return arrivals


def assert_same_rows(got: Snapshot, fresh: Snapshot) -> None:
    """Row by row, with the float noise a re-based sum may carry."""
    assert sorted(got) == sorted(fresh)
    for statistic_id, rows in fresh.items():
        mine = got[statistic_id]
        assert [row[0] for row in mine] == [row[0] for row in rows], statistic_id
        for a, b in zip(mine, rows, strict=True):
            assert a[1:] == pytest.approx(b[1:], abs=1e-5), (statistic_id, a, b)


@pytest.mark.parametrize("ean", list(METERS.values()), ids=list(METERS))
async def test_late_data_of_any_age_equals_a_fresh_import(
    hass: HomeAssistant,
    simulator: FluviusSimulator,
    freezer: FrozenDateTimeFactory,
    ean: str,
) -> None:
    freezer.move_to(NOW)
    arrival = NOW + timedelta(days=3, hours=2)
    reached = max(schedule(simulator, ean, arrival))
    simulator.add_mandate(ean)
    entry: MockConfigEntry = await setup_entry(hass, simulator, options={"history_months": 6})
    importer = entry.runtime_data.importer
    before = await snapshot(hass)

    # Hourly polls until everything has arrived, then one more.
    simulator.reset_stats()
    polls = 0
    while dt_util.utcnow() <= reached + ENERGY_UPDATE_INTERVAL:
        freezer.tick(ENERGY_UPDATE_INTERVAL)
        await entry.runtime_data.energy.async_refresh()
        await settle(hass)
        polls += 1
    polled = await snapshot(hass)
    assert polled != before, "the late data changed nothing"
    # One insertTime call per poll; readTime only for the days corrected in part.
    # (A token the frozen clock cannot age is refused once per poll: count answers only.)
    calls = [r for r in simulator.requests if r.path.endswith("/energy") and r.status == 200]
    inserts = [r for r in calls if r.query.get("periodType") == ["insertTime"]]
    assert len(inserts) == polls
    # The simulator's own corrections (a few days in a hundred) count too.
    own = [
        block
        for block in simulator.blocks(ean, NOW - timedelta(days=40), dt_util.utcnow())
        if block.correction_arrival is not None and block.correction_arrival > NOW
    ]
    partial = 0 if ean == METERS["digital_daily"] else len(AGES) + len(own)
    assert len(calls) - len(inserts) <= partial
    peaks = dict(importer.peaks.peaks(ean))

    mandate = entry.runtime_data.mandates.data.by_ean[ean]
    await importer.async_clear([ean])
    await settle(hass)
    assert not any(rows for rows in (await snapshot(hass)).values())
    entry.runtime_data.history.async_start(ean, mandate)
    await settle(hass)
    assert importer.states.history_done(ean)
    assert_same_rows(polled, await snapshot(hass))
    assert dict(importer.peaks.peaks(ean)) == peaks
