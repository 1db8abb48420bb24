"""``silverguard meters ...``: check a meter's wiring from the gateway's own serial port."""

import argparse
import asyncio
import json
import sys
from typing import Any


async def _read_once(args: argparse.Namespace) -> dict[str, Any]:
    from contract.meters import MeterConfig
    from edge.meters import dlt645
    from edge.meters.bus import Bus
    from edge.meters.health import MeterHealth

    address = str(args.address).strip()
    declared: dict[str, Any] = {
        "id": f"{args.protocol}-{address}"[:63],
        "flat": "cli",
        "port": args.port,
        "protocol": args.protocol,
        # An Eastron SDM120 is the common case on a DIN rail; say so in --help.
        "profile": args.profile or ("sdm120" if args.protocol == "modbus" else None),
        "baud": args.baud,
        "parity": args.parity,
        "timeout_s": args.timeout,
        "retries": args.retries,
    }
    discovered: dict[str, Any] = {}
    wildcard = args.protocol == "dlt645" and address.upper() == dlt645.WILDCARD_ADDRESS
    # Validate everything but the address first, so a wildcard can be resolved.
    meter = MeterConfig(**declared, address="000000000000" if wildcard else address)
    bus = Bus.for_meters([meter])
    try:
        if wildcard:
            from edge.meters.dlt645_transport import Dlt645Transport

            assert isinstance(bus.transport, Dlt645Transport)
            address = await bus.transport.read_address()
            discovered["address"] = address
            meter = MeterConfig(**declared, address=address)
        health = MeterHealth(meter.id, meter.flat, "cli", offline_after_s=1e9, started_at=0.0)
        values = await bus.read_meter(meter, health)
    finally:
        bus.close()
    return {**discovered, **{name: round(value, 6) for name, value in values.items()}}


def _read(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from edge.meters.errors import MeterError

    try:
        result = asyncio.run(_read_once(args))
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(f"silverguard meters read: {problems}", file=sys.stderr)
        return 2
    except MeterError as exc:
        print(f"silverguard meters read: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import time

    from firmware_mocks.meters.dlt645_slave import Dlt645Meter
    from firmware_mocks.meters.modbus_slave import ModbusMeter, water_registers
    from firmware_mocks.meters.pty_bus import PtyBus
    from firmware_mocks.meters.usage import FlatUsage, MeterTotals

    totals = MeterTotals(FlatUsage(seed=args.seed), time.time())
    with PtyBus(args.protocol) as bus:
        if args.protocol == "modbus":
            bus.add(ModbusMeter(1, lambda: totals.electricity(time.time())))
            bus.add(ModbusMeter(2, lambda: totals.water(time.time()), water_registers))
            hint = "--protocol modbus --address 1   (water: --address 2 --profile water)"
        else:
            bus.add(Dlt645Meter("000012345678", lambda: totals.electricity(time.time())))
            hint = "--protocol dlt645 --address 000012345678 --parity N"
        print(f"simulated {args.protocol} meters on {bus.port}", flush=True)
        print(f"try: silverguard meters read --port {bus.port} {hint}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    meters = commands.add_parser("meters", help="utility meters on the gateway's serial ports")
    actions = meters.add_subparsers(dest="meters_command", required=True, metavar="ACTION")
    read = actions.add_parser(
        "read",
        help="read one meter once and print its values as JSON",
        description=(
            "Read one meter once and print one JSON object (energy_kwh, power_w, "
            "voltage_v; or volume_m3, flow_m3h for water). For checking the wiring: "
            "exits non-zero with the reason when the meter does not answer."
        ),
    )
    read.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB0")
    read.add_argument("--protocol", required=True, choices=("modbus", "dlt645"))
    read.add_argument(
        "--address",
        required=True,
        help=(
            "Modbus: device id 1-247. DL/T 645: the 12-digit number printed on the meter, "
            "or AAAAAAAAAAAA to ask the only meter on the bus for its number"
        ),
    )
    read.add_argument("--profile", help="Modbus register map: sdm120 (default) or water")
    read.add_argument("--baud", type=int, help="default: 9600 (modbus), 2400 (dlt645)")
    read.add_argument("--parity", choices=("N", "E", "O"), help="default: N (modbus), E (dlt645)")
    read.add_argument("--timeout", type=float, default=1.0, help="seconds per answer")
    read.add_argument("--retries", type=int, default=2, help="extra attempts per value")
    read.set_defaults(func=_read)

    simulate = actions.add_parser(
        "simulate",
        help="serve simulated meters on a pseudo-terminal (no hardware needed)",
        description=(
            "Serve simulated meters, driven by a resident's daily routine, on a new "
            "pseudo-terminal until Ctrl-C; prints the port to point the gateway or "
            "'meters read' at. Pseudo-terminals cannot do even parity: use parity N."
        ),
    )
    simulate.add_argument("--protocol", choices=("modbus", "dlt645"), default="modbus")
    simulate.add_argument("--seed", type=int, default=1, help="which simulated flat")
    simulate.set_defaults(func=_simulate)
