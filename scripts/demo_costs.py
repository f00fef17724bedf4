"""The demo's prices: a day-ahead price helper with history, and its two tariffs.

scripts/develop and scripts/e2e create ``sensor.day_ahead_price``, a template
sensor whose state is the price of the running quarter-hour, and import its
hourly means for the past days, as the recorder keeps them once states are
purged. One tariff is fixed, one prices the Town hall's offtake at that price.
scripts/e2e recomputes the cost statistics from these numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

DEMO_DM = "541440110000000000"
DEMO_GAS = "541441010000000000"
DEMO_AMR_OFFTAKE = "541450010000000000"
DEMO_PV_INJECTION = "541450211000000000"
DEMO_DAILY = "541440100000000000"
DEMO_EXPIRING = "541440010000000001"

PRICE_ENTITY = "sensor.day_ahead_price"
PRICE_NAME = "Day-ahead price"
PRICE_UNIT = "EUR/kWh"
# Days of hourly means imported for the price helper; older costs use the fallback.
PRICE_HISTORY_DAYS = 60
# EUR per kWh of a local quarter-hour q (0..95): cheap at night, dear in the evening.
PRICE_TEMPLATE = (
    "{{ (0.19 + 0.09 * cos(pi * ((now().hour * 4 + now().minute // 15) - 74) / 48)) | round(5) }}"
)
BRUSSELS = ZoneInfo("Europe/Brussels")

DYNAMIC = {"multiplier": 1.06, "adder": 0.012, "fallback": 0.30}
FIXED = {"day": 0.29, "night": 0.22, "injection": 0.035, "gas_m3": 1.05}
CAPACITY_TARIFF = 53.26

DEMO_TARIFFS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "Dynamic contract",
        {
            "eans": [DEMO_DM],
            "offtake": {
                "price": DYNAMIC["fallback"],
                "price_entity": PRICE_ENTITY,
                "multiplier": DYNAMIC["multiplier"],
                "adder": DYNAMIC["adder"],
            },
            "injection": {"price": FIXED["injection"]},
            "gas": {},
            "capacity_tariff": CAPACITY_TARIFF,
        },
    ),
    (
        "Fixed contract",
        {
            "eans": [DEMO_AMR_OFFTAKE, DEMO_PV_INJECTION, DEMO_GAS, DEMO_DAILY, DEMO_EXPIRING],
            "offtake": {"price": FIXED["day"], "night_price": FIXED["night"]},
            "injection": {"price": FIXED["injection"]},
            "gas": {"price": FIXED["gas_m3"], "gas_unit": "m3"},
        },
    ),
)


def quarter_price(moment: datetime) -> float:
    """The template's price (EUR/kWh) of the local quarter-hour holding ``moment``."""
    local = moment.astimezone(BRUSSELS)
    quarter = local.hour * 4 + local.minute // 15
    return round(0.19 + 0.09 * math.cos(math.pi * (quarter - 74) / 48), 5)


def hourly_means(now: datetime, days: int = PRICE_HISTORY_DAYS) -> list[dict[str, Any]]:
    """Statistic rows of the helper's past hours: each the mean of its quarter-hours."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hour = end - timedelta(days=days)
    rows = []
    while hour < end:
        prices = [quarter_price(hour + timedelta(minutes=15 * k)) for k in range(4)]
        mean = sum(prices) / 4
        rows.append(
            {"start": hour.isoformat(), "mean": mean, "min": min(prices), "max": max(prices)}
        )
        hour += timedelta(hours=1)
    return rows


def price_statistic_metadata() -> dict[str, Any]:
    """The helper's statistic, as the recorder keeps it for a measurement sensor."""
    return {
        "has_sum": False,
        "mean_type": 1,
        "name": None,
        "source": "recorder",
        "statistic_id": PRICE_ENTITY,
        "unit_class": None,
        "unit_of_measurement": PRICE_UNIT,
    }


def cost_statistics() -> dict[str, str]:
    """Energy statistic id -> the cost statistic the Energy dashboard uses with it."""
    return {
        f"fluvius:{DEMO_DM}_offtake_total_kwh": f"fluvius:{DEMO_DM}_offtake_cost_eur",
        f"fluvius:{DEMO_DM}_injection_total_kwh": f"fluvius:{DEMO_DM}_injection_compensation_eur",
        f"fluvius:{DEMO_AMR_OFFTAKE}_offtake_total_kwh": (
            f"fluvius:{DEMO_AMR_OFFTAKE}_offtake_cost_eur"
        ),
        f"fluvius:{DEMO_PV_INJECTION}_injection_total_kwh": (
            f"fluvius:{DEMO_PV_INJECTION}_injection_compensation_eur"
        ),
        f"fluvius:{DEMO_GAS}_offtake_total_m3": f"fluvius:{DEMO_GAS}_offtake_cost_eur",
    }


def expected_hour_cost(energy_id: str, kwh: float, hour_mean: float | None) -> tuple[float, bool]:
    """What an hour of a demo energy statistic costs, and whether at the fallback price.

    The Town hall's offtake is priced at the helper's hourly mean (its states
    only start when Home Assistant does); the rest at the fixed prices (the AMR
    and injection meters give no day/night registers: the day price applies).
    """
    if energy_id == f"fluvius:{DEMO_DM}_offtake_total_kwh":
        if hour_mean is None:
            return kwh * DYNAMIC["fallback"], True
        return kwh * (DYNAMIC["multiplier"] * hour_mean + DYNAMIC["adder"]), False
    if energy_id.endswith("_injection_total_kwh"):
        return kwh * FIXED["injection"], False
    if energy_id.endswith("_total_m3"):
        return kwh * FIXED["gas_m3"], False
    return kwh * FIXED["day"], False
