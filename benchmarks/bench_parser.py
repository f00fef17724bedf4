"""Parser benchmark: the msgspec decoder against the previous parser and a pydantic peer.

All parse the same bytes: a 185-day quarter-hour GET energy response of a
digital meter with offtake and injection (185 * 96 = 17 760 slices, 35 520
values). One run times, interleaved so all see the same machine noise, best of N:

- the msgspec decoder alone (``parse_energy``);
- decoder plus aggregation to hourly rows (what the history import does);
- decoder plus a visit of every value as a flat reading (``readings()``);
- the previous hand-written parser (a frozen copy in ``benchmarks/legacy``)
  plus aggregation, and plus the flat readings;
- the pydantic models of ``fluvius-energy-api`` plus a visit of every value.

It also prints the longest single call the decoder makes into msgspec, which
holds the GIL throughout (every other thread, the caller's event loop among
them, waits for it), next to what one call for the whole body takes.

It prints the times and two ratios with their targets: decode plus aggregation
against the previous parse plus aggregation (target 5x), and decode plus
visiting every value against the pydantic peer doing the same (target 10x,
aim 15x). Everything runs with the cyclic garbage collector on, as for any
caller. Figures only; nothing is asserted.

Run from the repository root::

    .venv/bin/python benchmarks/bench_parser.py [--runs 9] [--days 185] [--source simulator]

The peer comes from ``requirements/bench.txt``; install it into the same
virtualenv with ``uv pip install --python .venv/bin/python -r requirements/bench.txt``
(it adds only that package: pydantic, httpx, PyJWT and cryptography are already
there for Home Assistant). Without it, the peer is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
import gc
from operator import attrgetter, itemgetter
from pathlib import Path
import sys
import time
from typing import Any, NamedTuple

import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.legacy.aggregation import (
    HourlyData as LegacyHourlyData,
    aggregate as legacy_aggregate,
    as_pairs,
)
from benchmarks.legacy.parser import parse_energy as legacy_parse_energy
from custom_components.fluvius.aggregation import HourlyData, aggregate
from custom_components.fluvius.api import TimeSlice, decoder, parse_energy

EAN = "541440110000000000"
START = datetime(2024, 6, 30, 22, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_response(days: int = 185) -> bytes:
    """Build a quarter-hour digital-meter response (offtake + injection) as JSON bytes."""
    slices = []
    quarter = timedelta(minutes=15)
    moment = START
    for index in range(days * 96):
        hour = (index // 4) % 24
        solar = max(0.0, 1.0 - abs(hour - 12) / 6)
        offtake = round(0.05 + 0.2 * ((index * 7919) % 13) / 13, 3)
        injection = round(0.6 * solar * (0.5 + ((index * 104729) % 7) / 14), 3)
        end = moment + quarter
        slices.append(
            {
                "start": _stamp(moment),
                "end": _stamp(end),
                "measurements": [
                    {
                        "offtake": {
                            "total": {"value": offtake, "unit": "kWh", "validationState": "READ"}
                        },
                        "injection": {
                            "total": {
                                "value": injection,
                                "unit": "kWh",
                                "validationState": "READ" if index % 50 else "EST",
                            }
                        },
                    }
                ],
            }
        )
        moment = end
    document = {
        "_meta": {"fetchTime": _stamp(moment + timedelta(days=1))},
        "data": {
            "headpoint": {
                "$type": "metering-on-meter",
                "ean": EAN,
                "energyType": "E",
                "physicalMeters": [
                    {"seqNumber": "1", "meterID": "1SAG0000000001", "quarterHourlyEnergy": slices}
                ],
            }
        },
    }
    return orjson.dumps(document)


def response_from_simulator(days: int) -> bytes:
    """Fetch the same kind of response from the local simulator, in-process, as raw bytes."""
    import aiohttp  # noqa: PLC0415 - optional path

    from fluvius_simulator import DEFAULT_CREDENTIALS, FluviusSimulator  # noqa: PLC0415

    async def fetch() -> bytes:
        sim = FluviusSimulator(credentials=DEFAULT_CREDENTIALS)
        base_url = await sim.start(host="127.0.0.1", port=0)
        try:
            sim.add_mandate(EAN)
            creds = DEFAULT_CREDENTIALS
            end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            end -= timedelta(days=5)
            params = {
                "ean": EAN,
                "periodType": "readTime",
                "from": _stamp(end - timedelta(days=days)),
                "to": _stamp(end),
                "granularity": "hourly_quarterhourly",
            }
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    sim.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": creds.client_id,
                        "client_secret": creds.client_secret,
                        "scope": creds.scope,
                    },
                ) as token_response:
                    token = (await token_response.json())["access_token"]
                async with session.get(
                    f"{base_url}/api/mandate/energy",
                    params=params,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Ocp-Apim-Subscription-Key": creds.subscription_key,
                    },
                ) as response:
                    response.raise_for_status()
                    return await response.read()
        finally:
            await sim.stop()

    return asyncio.run(fetch())


class Contender(NamedTuple):
    """One job under test: bytes in, (summary the runs compare, objects to keep alive).

    The runner keeps the second item until the clock has stopped, so no job
    pays for freeing what it parsed (the parsers differ a lot in that, and the
    previous version of this benchmark did not count it either).
    """

    name: str
    run: Callable[[bytes], tuple[Any, Any]]


def _visit(readings: Iterable[Any], value_of: Callable[[Any], Any]) -> tuple[int, float]:
    """Touch every value once: the count and the sum of the values."""
    count = 0
    checksum = 0.0
    for reading in readings:
        count += 1
        value = value_of(reading)
        if value is not None:
            checksum += value
    return count, round(checksum, 3)


_VALUE_FIELD = attrgetter("value")  # Reading (a Struct) and the previous Reading tuple
_VALUE_ITEM = itemgetter(9)  # the peer's flat tuples


def _decode(body: bytes) -> tuple[Any, Any]:
    response = parse_energy(body)
    return response.headpoint is not None, response


def _decode_aggregate(body: bytes) -> tuple[Any, Any]:
    response = parse_energy(body)
    return aggregate([response]), response


def _rows(data: HourlyData) -> tuple[Any, ...]:
    """The rows both aggregations make (costs' quarter-hours and day ends aside)."""
    return data.energy, data.power, as_pairs(data.quarter_hours)


def _legacy_rows(data: LegacyHourlyData) -> tuple[Any, ...]:
    return data.energy, data.power, data.quarter_hours


def _decode_visit(body: bytes) -> tuple[Any, Any]:
    response = parse_energy(body)
    return _visit(response.readings(), _VALUE_FIELD), response


def _legacy_aggregate(body: bytes) -> tuple[Any, Any]:
    response = legacy_parse_energy(body)
    return legacy_aggregate(response.readings()), response


def _legacy_visit(body: bytes) -> tuple[Any, Any]:
    response = legacy_parse_energy(body)
    return _visit(response.readings(), _VALUE_FIELD), response


DECODE = Contender("msgspec decode", _decode)
DECODE_AGGREGATE = Contender("msgspec decode + aggregate", _decode_aggregate)
DECODE_VISIT = Contender("msgspec decode + readings", _decode_visit)
LEGACY_AGGREGATE = Contender("previous parse + aggregate", _legacy_aggregate)
LEGACY_VISIT = Contender("previous parse + readings", _legacy_visit)


def _pydantic_contender() -> Contender | None:
    try:
        from fluvius_energy_api.models.energy import (  # noqa: PLC0415
            GetEnergyResponseApiDataResponse,
        )
    except ImportError:
        return None

    series_fields = ("daily_energy", "hourly_energy", "quarter_hourly_energy")
    directions = ("offtake", "injection", "production", "auxiliary")
    registers = ("total", "day", "night", "reactive", "inductive", "capacitive")

    def flat(ean: Any, sub_ean: Any, meter_id: Any, owner: Any) -> Iterator[tuple[Any, ...]]:
        for resolution in series_fields:
            for time_slice in getattr(owner, resolution, None) or ():
                for measurement in time_slice.measurements or ():
                    for direction in directions:
                        value_set = getattr(measurement, direction)
                        if value_set is None:
                            continue
                        for register in registers:
                            item = getattr(value_set, register)
                            if item is not None:
                                yield (
                                    ean,
                                    sub_ean,
                                    meter_id,
                                    resolution,
                                    direction,
                                    register,
                                    item.unit,
                                    time_slice.start,
                                    time_slice.end,
                                    item.value,
                                    item.validation_state,
                                    item.gas_conversion_factor,
                                )

    def readings(response: Any) -> Iterator[tuple[Any, ...]]:
        headpoint = response.data.headpoint if response.data else None
        if headpoint is None:
            return
        for meter in getattr(headpoint, "physical_meters", None) or ():
            yield from flat(headpoint.ean, None, meter.meter_id, meter)
        yield from flat(headpoint.ean, None, None, headpoint)
        for sub in getattr(headpoint, "sub_headpoints", None) or ():
            yield from flat(headpoint.ean, sub.ean, None, sub)

    def parse_visit(body: bytes) -> tuple[Any, Any]:
        response = GetEnergyResponseApiDataResponse.model_validate_json(body)
        return _visit(readings(response), _VALUE_ITEM), response

    return Contender("fluvius-energy-api (pydantic) + readings", parse_visit)


def best_of(runs: int, contenders: list[Contender], body: bytes) -> tuple[list[float], list[Any]]:
    """Best time per contender and its summary, interleaving the runs."""
    best = [float("inf")] * len(contenders)
    summaries: list[Any] = [None] * len(contenders)
    for _ in range(runs):
        for index, contender in enumerate(contenders):
            gc.collect()
            started = time.perf_counter()
            summary, kept = contender.run(body)
            best[index] = min(best[index], time.perf_counter() - started)
            summaries[index] = summary
            del kept
    return best, summaries


class _TimedDecoder:
    """A decoder whose every call is timed: the calls the GIL is held for."""

    def __init__(self, inner: Any, calls: list[float]) -> None:
        self._inner = inner
        self._calls = calls

    def decode(self, body: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._inner.decode(body)
        finally:
            self._calls.append(time.perf_counter() - started)


def longest_decode_call(body: bytes, runs: int) -> tuple[float, float]:
    """The longest single msgspec call of ``parse_energy`` and one whole-body decode (best of runs)."""
    calls: list[float] = []
    whole: list[float] = []
    envelope, slices = decoder._ENERGY, decoder._SLICES  # noqa: SLF001
    one_call = msgspec.json.Decoder(_WholeBody)
    longest = float("inf")
    for _ in range(runs):
        calls.clear()
        decoder._ENERGY = _TimedDecoder(envelope, calls)  # type: ignore[assignment]  # noqa: SLF001
        decoder._SLICES = _TimedDecoder(slices, calls)  # type: ignore[assignment]  # noqa: SLF001
        try:
            parse_energy(body)
        finally:
            decoder._ENERGY, decoder._SLICES = envelope, slices  # noqa: SLF001
        longest = min(longest, max(calls))
        started = time.perf_counter()
        one_call.decode(body)
        whole.append(time.perf_counter() - started)
    return longest, min(whole)


class _Meter(msgspec.Struct, gc=False):
    quarter_hourly: tuple[TimeSlice, ...] = msgspec.field(name="quarterHourlyEnergy")


class _Headpoint(msgspec.Struct, gc=False):
    physical_meters: tuple[_Meter, ...] = msgspec.field(name="physicalMeters")


class _Data(msgspec.Struct, gc=False):
    headpoint: _Headpoint


class _WholeBody(msgspec.Struct, gc=False):
    """The benchmark body as one decode call into the same slice Structs."""

    data: _Data


def _ratio(name: str, slow: float, fast: float, target: str) -> None:
    print(f"{name:48s} {slow / fast:5.1f}x  (target {target})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per job (best counts)")
    parser.add_argument("--days", type=int, default=185, help="days of quarter-hour data")
    parser.add_argument(
        "--source",
        choices=("generated", "simulator"),
        default="generated",
        help="build the body here or fetch it from fluvius_simulator in-process",
    )
    args = parser.parse_args()

    body = (
        response_from_simulator(args.days)
        if args.source == "simulator"
        else generate_response(args.days)
    )
    print(f"body: {len(body) / 1e6:.2f} MB ({args.source}, {args.days} days), best of {args.runs}")

    contenders = [DECODE, DECODE_AGGREGATE, DECODE_VISIT, LEGACY_AGGREGATE, LEGACY_VISIT]
    peer = _pydantic_contender()
    if peer is None:
        print("fluvius-energy-api is not installed: see requirements/bench.txt")
    else:
        contenders.append(peer)
    times, results = best_of(args.runs, contenders, body)
    for contender, seconds in zip(contenders, times, strict=True):
        print(f"{contender.name:48s} {seconds * 1e3:7.1f} ms")
    by_name = dict(zip((c.name for c in contenders), zip(times, results, strict=True), strict=True))
    agree = _rows(by_name[DECODE_AGGREGATE.name][1]) == _legacy_rows(
        by_name[LEGACY_AGGREGATE.name][1]
    )
    agree &= by_name[DECODE_VISIT.name][1] == by_name[LEGACY_VISIT.name][1]
    print(f"readings (count, sum): {by_name[DECODE_VISIT.name][1]}; hourly rows equal: {agree}")
    longest, whole = longest_decode_call(body, args.runs)
    print(
        f"longest single msgspec call of the decoder: {longest * 1e3:.2f} ms "
        f"(the whole body in one call: {whole * 1e3:.1f} ms)"
    )
    _ratio(
        "previous parse + aggregate / decode + aggregate",
        by_name[LEGACY_AGGREGATE.name][0],
        by_name[DECODE_AGGREGATE.name][0],
        ">= 5x",
    )
    if peer is not None:
        agree &= by_name[peer.name][1] == by_name[DECODE_VISIT.name][1]
        _ratio(
            "pydantic + readings / decode + readings",
            by_name[peer.name][0],
            by_name[DECODE_VISIT.name][0],
            ">= 10x, aim 15x",
        )
    if not agree:
        print("the contenders disagree on the values")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
