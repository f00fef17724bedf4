"""Deterministic, plausible consumption and production values.

Everything is a function of (EAN, day) only: a per-EAN parameter set seeded by the
EAN, and a per-day random stream seeded by (EAN, day). Any query window therefore
sees identical values. Values are energy per slice (kWh for electricity, m3 for
gas) and unrounded; `data.py` rounds, versions and aggregates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
import math
import random

from .eans import MockEan, stable_hash
from .timeutil import DAY, local_minutes

# Quantity names produced for a block of slices.
LOAD = "load"  # consumption behind the main meter
GEN = "gen"  # local generation (PV, hydro, wind, CHP, or injected gas)
AUX = "aux"  # auxiliary consumption of the generation installation
SUB = "sub"  # consumption measured by a non-production submeter
INDUCTIVE = "inductive_ratio"
CAPACITIVE = "capacitive_ratio"

_TWO_PI = 2 * math.pi
_SOLAR_NOON_UTC_MIN = 705  # about 11:45 UTC in Brussels


@dataclass(frozen=True, slots=True)
class ProfileParams:
    """Per-EAN sizes, drawn once from the EAN so each model number differs."""

    load_kw: float
    base_ratio: float
    gen_kw: float
    aux_kw: float
    sub_ratio: float
    gas_peak: float
    gas_base: float
    gas_injection: float
    tan_phi: float
    cap_ratio: float


@lru_cache(maxsize=1024)
def params_for(meter: MockEan) -> ProfileParams:
    """Sizes that fit the meter kind: small businesses on digital meters, larger on AMR."""
    rng = random.Random(stable_hash("params", meter.ean))
    if meter.digital:
        load_kw = rng.uniform(8, 60)
        gen_kw = load_kw * rng.uniform(0.6, 1.5) if meter.flow == "both" else 0.0
        gas_peak = rng.uniform(2, 15)
        gas_injection = rng.uniform(1, 3)
    else:
        load_kw = rng.uniform(80, 800)
        gas_peak = rng.uniform(40, 400)
        gas_injection = rng.uniform(50, 200)
        if meter.flow == "injection":
            gen_kw = rng.uniform(200, 2000)
            load_kw = gen_kw * rng.uniform(0.02, 0.08)
        elif meter.submeter == "production":
            gen_kw = load_kw * rng.uniform(0.3, 0.8)
        else:
            gen_kw = 0.0
    return ProfileParams(
        load_kw=load_kw,
        base_ratio=rng.uniform(0.15, 0.35),
        gen_kw=gen_kw,
        aux_kw=gen_kw * rng.uniform(0.003, 0.02),
        sub_ratio=rng.uniform(0.2, 0.5),
        gas_peak=gas_peak,
        gas_base=gas_peak * rng.uniform(0.01, 0.05),
        gas_injection=gas_injection,
        tan_phi=rng.uniform(0.15, 0.45),
        cap_ratio=rng.uniform(0.01, 0.04),
    )


def _build_shape(kind: str) -> tuple[float, ...]:
    """Business load shape per local quarter-hour, as a fraction of the working-hours load."""
    shape = []
    for q in range(96):
        m = q * 15
        if kind == "weekday":
            if m < 360:
                v = 0.0
            elif m < 480:
                v = (m - 360) / 120
            elif 720 <= m < 780:
                v = 0.85
            elif m < 1020:
                v = 1.0
            elif m < 1140:
                v = 1.0 - 0.65 * (m - 1020) / 120
            elif m < 1320:
                v = 0.35 * (1320 - m) / 180
            else:
                v = 0.0
        elif kind == "saturday":
            v = 0.2 if 480 <= m < 780 else 0.02
        else:
            v = 0.0
        shape.append(v)
    return tuple(shape)


_SHAPES = {k: _build_shape(k) for k in ("weekday", "saturday", "sunday")}


def _shape_for(day: date) -> tuple[float, ...]:
    weekday = day.weekday()
    if weekday < 5:
        return _SHAPES["weekday"]
    return _SHAPES["saturday"] if weekday == 5 else _SHAPES["sunday"]


def _season(day: date, peak_doy: int) -> float:
    """Cosine over the year, 1 at `peak_doy`, -1 half a year later."""
    return math.cos(_TWO_PI * (day.timetuple().tm_yday - peak_doy) / 365.25)


@dataclass(frozen=True, slots=True)
class Block:
    """The slices being generated: one local day (electricity) or gas day, and its random stream."""

    day: date
    starts: range
    minutes: tuple[int, ...]  # local minute-of-day of each slice start
    step: int
    rng: random.Random


def electricity_load(params: ProfileParams, block: Block) -> list[float]:
    """Energy (kWh) per slice: base load plus a working-hours bump, a bit higher in winter."""
    day, rng = block.day, block.rng
    shape = _shape_for(day)
    scale = (
        params.load_kw * (1 + 0.12 * _season(day, 15)) * rng.uniform(0.9, 1.1) * block.step / 3600
    )
    base = params.base_ratio
    bump = 1 - base
    uniform = rng.uniform
    return [scale * (base + bump * shape[m // 15]) * uniform(0.92, 1.08) for m in block.minutes]


def solar(params: ProfileParams, block: Block) -> list[float]:
    """Energy (kWh) per slice of a PV installation: a sine between sunrise and sunset, cloudy days."""
    rng, step = block.rng, block.step
    doy = block.day.timetuple().tm_yday
    seasonal = math.sin(_TWO_PI * (doy - 80) / 365.25)
    day_minutes = 60 * (12.2 + 4.3 * seasonal)
    sunrise = _SOLAR_NOON_UTC_MIN - day_minutes / 2
    peak = params.gen_kw * 0.8 * (0.6 + 0.4 * seasonal) * rng.uniform(0.25, 1.0) * step / 3600
    half_step_min = step / 120
    out = []
    uniform = rng.uniform
    for ts in block.starts:
        x = ((ts % DAY) / 60 + half_step_min - sunrise) / day_minutes
        if 0 < x < 1:
            out.append(peak * math.sin(math.pi * x) ** 1.3 * uniform(0.85, 1.0))
        else:
            out.append(0.0)
    return out


def generation(meter: MockEan, params: ProfileParams, block: Block) -> list[float]:
    """Energy (kWh) per slice for the installation kind behind the meter (PV when unspecified)."""
    installation = meter.installation
    kind = installation.type if installation else "PV"
    day, minutes, rng = block.day, block.minutes, block.rng
    hours = block.step / 3600
    uniform = rng.uniform
    if kind == "PV":
        return solar(params, block)
    if kind == "WTR":
        level = params.gen_kw * hours * (0.55 + 0.25 * _season(day, 30)) * uniform(0.85, 1.05)
        return [level * uniform(0.97, 1.03) for _ in minutes]
    if kind == "WND":
        wind = rng.random() ** 1.5
        phase = rng.uniform(0, _TWO_PI)
        top = params.gen_kw * hours
        return [
            min(
                top,
                top * wind * (0.8 + 0.2 * math.sin(_TWO_PI * m / 1440 + phase)) * uniform(0.8, 1.2),
            )
            for m in minutes
        ]
    # WKKA: combined heat and power runs on weekday working hours, harder in winter.
    running = day.weekday() < 5
    level = params.gen_kw * hours * (0.725 + 0.225 * _season(day, 15))
    return [level * uniform(0.95, 1.0) if running and 360 <= m < 1200 else 0.0 for m in minutes]


def auxiliary(params: ProfileParams, gen: list[float], step: int) -> list[float]:
    """Energy (kWh) per slice of auxiliary consumption: standby plus a share of production."""
    standby = params.aux_kw * step / 3600
    return [standby + 0.01 * g for g in gen]


def gas_load(params: ProfileParams, block: Block) -> list[float]:
    """Volume (m3) per slice: heating driven by a seasonal temperature, plus a small base."""
    day, rng = block.day, block.rng
    temperature = 10.5 - 7.5 * _season(day, 20) + rng.uniform(-3, 3)
    heating = max(0.0, 15.5 - temperature) / 20
    hours = block.step / 3600
    # Heating on from 05:00 to 18:00 on weekdays, 07:00 to 17:00 at weekends.
    on_from, on_to, on, off = (300, 1080, 1.0, 0.45) if day.weekday() < 5 else (420, 1020, 0.6, 0.4)
    uniform = rng.uniform
    out = []
    for m in block.minutes:
        shape = on if on_from <= m < on_to else off
        out.append(
            (params.gas_peak * heating * shape + params.gas_base) * hours * uniform(0.9, 1.1)
        )
    return out


def day_quantities(
    meter: MockEan, day: date, start: int, end: int, step: int
) -> dict[str, list[float]]:
    """All physical quantities of one EAN for one block of slices (one local or gas day)."""
    params = params_for(meter)
    rng = random.Random(stable_hash("day", meter.ean, day.toordinal()))
    block = Block(day, range(start, end, step), local_minutes(start, end, step), step, rng)
    n = len(block.minutes)
    out: dict[str, list[float]] = {}
    if meter.gas:
        out[LOAD] = gas_load(params, block)
        if meter.flow != "offtake":
            level = params.gas_injection * step / 3600
            scale = 0.05 if meter.flow == "injection" else 1.0
            out[LOAD] = [v * scale for v in out[LOAD]]
            out[GEN] = [level * rng.uniform(0.9, 1.1) for _ in range(n)]
    else:
        out[LOAD] = electricity_load(params, block)
        if meter.flow != "offtake" or meter.submeter == "production":
            out[GEN] = generation(meter, params, block)
        installation = meter.installation
        if installation is not None:
            out[AUX] = auxiliary(params, out[GEN], step)
    if meter.submeter == "other":
        ratio = params.sub_ratio
        out[SUB] = [v * ratio * rng.uniform(0.8, 1.0) for v in out[LOAD]]
    if meter.reactive:
        out[INDUCTIVE] = [params.tan_phi * rng.uniform(0.8, 1.2) for _ in range(n)]
        out[CAPACITIVE] = [params.cap_ratio * rng.uniform(0.5, 1.5) for _ in range(n)]
    return out
