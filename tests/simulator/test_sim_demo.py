"""The demo mandate set and the command line."""

from __future__ import annotations

import pytest

from fluvius_simulator import DEMO_MANDATES, FluviusSimulator, install_demo
from fluvius_simulator.__main__ import _parse_args

from .conftest import START, Api


async def test_demo_mandates(api: Api, sim: FluviusSimulator) -> None:
    install_demo(sim)
    assert {d.ean for d in DEMO_MANDATES} == set(sim.mandates)
    assert "541450211000000000" in sim.mandates
    reply = await api.get("/api/mandate", params={"renewalStatus": "ToBeRenewed"})
    (expiring,) = reply.json()["data"]["mandates"]
    assert expiring["ean"] == "541440010000000001"
    body = next(d for d in DEMO_MANDATES if d.expires_in).body(START)
    assert body == {
        "status": "Approved",
        "ean": "541440010000000001",
        "mandateExpirationDate": "2025-12-20T12:00:00Z",
    }


def test_cli_arguments() -> None:
    args = _parse_args(["--port", "8123", "--demo"])
    assert (args.host, args.port, args.demo) == ("127.0.0.1", 8123, True)
    with pytest.raises(SystemExit):
        _parse_args(["--port", "not-a-number"])
