"""Merge the responses of consecutive GET energy windows into one response.

GET energy serves at most 185 days per call, so a longer range arrives in
pieces. Slices are concatenated per physical meter (seqNumber + meterID), for
the headpoint itself and per submeter (kind + EAN), de-duplicated by slice
start (the later window wins: it was fetched later) and sorted by start.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .models import EnergyResponse, EnergySeries, Headpoint, PhysicalMeter, SubHeadpoint, TimeSlice


class _SeriesBuilder:
    """Collects the slices of one meter across windows."""

    __slots__ = ("daily", "hourly", "quarter_hourly")

    def __init__(self) -> None:
        self.daily: dict[datetime, TimeSlice] = {}
        self.hourly: dict[datetime, TimeSlice] = {}
        self.quarter_hourly: dict[datetime, TimeSlice] = {}

    def add(self, series: EnergySeries) -> None:
        for target, slices in (
            (self.daily, series.daily),
            (self.hourly, series.hourly),
            (self.quarter_hourly, series.quarter_hourly),
        ):
            for time_slice in slices:
                target[time_slice.start] = time_slice

    def build(self) -> EnergySeries:
        return EnergySeries(
            daily=_sorted(self.daily),
            hourly=_sorted(self.hourly),
            quarter_hourly=_sorted(self.quarter_hourly),
        )


def _sorted(slices: dict[datetime, TimeSlice]) -> tuple[TimeSlice, ...]:
    return tuple(slices[start] for start in sorted(slices))


class _HeadpointBuilder:
    """Collects one headpoint's meters and submeters across windows."""

    __slots__ = ("first", "meters", "series", "subs")

    def __init__(self) -> None:
        self.first: Headpoint | None = None
        self.series = _SeriesBuilder()
        self.meters: dict[tuple[str | None, str | None], tuple[PhysicalMeter, _SeriesBuilder]] = {}
        self.subs: dict[tuple[str, str | None], tuple[SubHeadpoint, _SeriesBuilder]] = {}

    def add(self, headpoint: Headpoint) -> None:
        """Add a window's headpoint; attributes come from the first window that has them."""
        if self.first is None:
            self.first = headpoint
        self.series.add(headpoint.energy)
        for meter in headpoint.physical_meters:
            key = (meter.seq_number, meter.meter_id)
            self.meters.setdefault(key, (meter, _SeriesBuilder()))[1].add(meter.energy)
        for sub in headpoint.sub_headpoints:
            sub_key = (str(sub.kind), sub.ean)
            self.subs.setdefault(sub_key, (sub, _SeriesBuilder()))[1].add(sub.energy)

    def build(self, first: Headpoint) -> Headpoint:
        """The merged headpoint, with the identity of ``first``."""
        return Headpoint(
            type=first.type,
            ean=first.ean,
            energy_type=first.energy_type,
            physical_meters=tuple(
                PhysicalMeter(meter.seq_number, meter.meter_id, builder.build())
                for meter, builder in self.meters.values()
            ),
            energy=self.series.build(),
            sub_headpoints=tuple(
                SubHeadpoint(
                    kind=sub.kind,
                    ean=sub.ean,
                    seq_number=sub.seq_number,
                    vreg_id=sub.vreg_id,
                    installation_type=sub.installation_type,
                    energy=builder.build(),
                )
                for sub, builder in self.subs.values()
            ),
        )


def merge_energy_responses(responses: Iterable[EnergyResponse]) -> EnergyResponse:
    """Merge window responses (oldest first) into one response.

    The headpoint's identity (type, EAN, energy type) and each meter's and
    submeter's attributes come from the first window that has them; the fetch
    time is the latest one seen. Windows without a headpoint contribute nothing.
    """
    fetch_time: datetime | None = None
    builder = _HeadpointBuilder()
    count = 0
    only: EnergyResponse | None = None
    for response in responses:
        count += 1
        only = response
        if response.fetch_time is not None and (
            fetch_time is None or response.fetch_time > fetch_time
        ):
            fetch_time = response.fetch_time
        if response.headpoint is not None:
            builder.add(response.headpoint)
    if count == 1 and only is not None:
        return only
    if builder.first is None:
        return EnergyResponse(fetch_time=fetch_time, headpoint=None)
    return EnergyResponse(fetch_time=fetch_time, headpoint=builder.build(builder.first))
