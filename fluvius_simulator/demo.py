"""A demo set of mandates covering each meter kind, for scripts and manual testing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .timeutil import format_utc

if TYPE_CHECKING:
    from .app import FluviusSimulator


@dataclass(frozen=True, slots=True)
class DemoMandate:
    """One demo access; `expires_in` None keeps the default three-year validity."""

    ean: str
    description: str
    # The site name scripts/develop and scripts/e2e give the EAN in the options.
    site: str
    expires_in: timedelta | None = None

    def body(self, now: datetime) -> dict[str, str]:
        """The POST mock-mandate / POST /_simulator/mandates body for this access."""
        body = {"status": "Approved", "ean": self.ean}
        if self.expires_in is not None:
            body["mandateExpirationDate"] = format_utc(now + self.expires_in)
        return body


DEMO_MANDATES: tuple[DemoMandate, ...] = (
    DemoMandate(
        "541440110000000000",
        "digital meter, electricity, quarter-hour, offtake + injection",
        "Town hall",
    ),
    DemoMandate("541441010000000000", "digital meter, gas, hourly", "Town hall"),
    DemoMandate("541450010000000000", "AMR, electricity offtake, quarter-hour", "Depot Kortrijk"),
    DemoMandate(
        "541450211000000000",
        "AMR, electricity injection, quarter-hour, PV production + auxiliary submeters",
        "Solar park",
    ),
    DemoMandate("541440100000000000", "digital meter, electricity, daily only", "Library"),
    DemoMandate(
        "541440010000000001",
        "digital meter, electricity offtake, expires in 30 days (ToBeRenewed)",
        "Sports hall",
        expires_in=timedelta(days=30),
    ),
)


DEMO_SITE_NAMES: dict[str, str] = {demo.ean: demo.site for demo in DEMO_MANDATES}


def install_demo(sim: FluviusSimulator) -> None:
    """Create every demo mandate on a simulator."""
    now = sim.now()
    for demo in DEMO_MANDATES:
        sim.add_mandate(
            demo.ean,
            mandate_expiration_date=now + demo.expires_in if demo.expires_in else None,
        )
