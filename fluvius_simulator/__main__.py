"""Run the simulator from the command line: `python -m fluvius_simulator --port 8099 --demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from .app import FluviusSimulator
from .credentials import DEFAULT_CREDENTIALS
from .demo import DEMO_MANDATES, install_demo


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fluvius_simulator", description="Local Fluvius API sandbox simulator"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8099, help="port (default 8099, 0 = any)")
    parser.add_argument("--demo", action="store_true", help="create the demo mandates")
    parser.add_argument(
        "--token-lifetime", type=int, default=3600, help="access token lifetime in seconds"
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    sim = FluviusSimulator(token_lifetime=args.token_lifetime)
    if args.demo:
        install_demo(sim)
    base_url = await sim.start(host=args.host, port=args.port)
    creds = DEFAULT_CREDENTIALS
    lines = [
        "Fluvius simulator running (Ctrl-C to stop)",
        f"  base URL:          {base_url}",
        f"  token URL:         {sim.token_url}",
        f"  tenant id:         {creds.tenant_id}",
        f"  client id:         {creds.client_id}",
        f"  client secret:     {creds.client_secret}",
        f"  scope:             {creds.scope}",
        f"  subscription key:  {creds.subscription_key}",
        f"  control surface:   {base_url}/_simulator/stats, /_simulator/faults, /_simulator/mandates",
    ]
    if args.demo:
        lines.append("  demo mandates:")
        lines.extend(f"    {d.ean}  {d.description}" for d in DEMO_MANDATES)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
