"""Parser benchmark: our ``parse_energy`` against the pydantic models of ``fluvius-energy-api``.

Both parse the same bytes: a 185-day quarter-hour GET energy response of a
digital meter with offtake and injection (185 * 96 = 17 760 slices, 35 520
values), then iterate every value as a flat reading. Runs alternate between
the two parsers so both see the same machine noise; the best of N runs per
parser is reported (parse and iterate times, readings per second) with the ratio.
Both run with the cyclic garbage collector on, as for any caller (the history
import pauses it around a window's parse and aggregation: see ``gc_pause``).

Run from the repository root::

    .venv/bin/python benchmarks/bench_parser.py [--runs 9] [--days 185] [--source simulator]

The baseline comes from ``requirements/bench.txt``; install it into the same
virtualenv with ``uv pip install --python .venv/bin/python -r requirements/bench.txt``
(it adds only that package: pydantic, httpx, PyJWT and cryptography are already
there for Home Assistant). Without it, only our parser is measured.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
import gc
from pathlib import Path
import sys
import time
from typing import Any, NamedTuple

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.fluvius.api import parse_energy

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
    """A parser under test: bytes -> response, response -> flat readings."""

    name: str
    parse: Callable[[bytes], Any]
    readings: Callable[[Any], Iterable[Any]]


OURS = Contender("ours (parse_energy)", parse_energy, lambda response: response.readings())


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

    return Contender(
        "fluvius-energy-api (pydantic)",
        GetEnergyResponseApiDataResponse.model_validate_json,
        readings,
    )


class Timing(NamedTuple):
    """Best times of one contender, in seconds, and what it produced."""

    total: float
    parse: float
    iterate: float
    readings: int
    checksum: float


def run_once(contender: Contender, body: bytes) -> Timing:
    """Parse, then iterate every reading once; time both."""
    gc.collect()
    started = time.perf_counter()
    response = contender.parse(body)
    parsed = time.perf_counter()
    count = 0
    checksum = 0.0
    for reading in contender.readings(response):
        count += 1
        value = reading[9]
        if value is not None:
            checksum += value
    done = time.perf_counter()
    return Timing(done - started, parsed - started, done - parsed, count, round(checksum, 3))


def best_of(runs: int, contenders: list[Contender], body: bytes) -> list[Timing]:
    """Best times per contender, interleaving the runs so both see the same machine noise."""
    best: list[Timing | None] = [None] * len(contenders)
    for _ in range(runs):
        for index, contender in enumerate(contenders):
            timing = run_once(contender, body)
            previous = best[index]
            if previous is None:
                best[index] = timing
            else:
                best[index] = Timing(
                    min(previous.total, timing.total),
                    min(previous.parse, timing.parse),
                    min(previous.iterate, timing.iterate),
                    timing.readings,
                    timing.checksum,
                )
    return [timing for timing in best if timing is not None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per parser (best counts)")
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

    contenders = [OURS]
    baseline = _pydantic_contender()
    if baseline is None:
        print("fluvius-energy-api is not installed: see requirements/bench.txt")
    else:
        contenders.append(baseline)
    timings = best_of(args.runs, contenders, body)
    for contender, timing in zip(contenders, timings, strict=True):
        print(
            f"{contender.name:30s} {timing.readings} readings in {timing.total * 1e3:6.1f} ms "
            f"(parse {timing.parse * 1e3:6.1f} + iterate {timing.iterate * 1e3:5.1f}) "
            f"= {timing.readings / timing.total:9,.0f} readings/s"
        )
    if len(timings) < 2:
        return 0
    ours_timing, theirs_timing = timings
    ours_result = (ours_timing.readings, ours_timing.checksum)
    if ours_result != (theirs_timing.readings, theirs_timing.checksum):
        print("the parsers disagree on the readings")
        return 1
    print(f"ratio: ours is {theirs_timing.total / ours_timing.total:.2f}x as fast")
    return 0


if __name__ == "__main__":
    sys.exit(main())
