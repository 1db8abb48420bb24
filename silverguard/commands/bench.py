"""``silverguard bench ...``: benchmarks that print one JSON line and save it."""

import argparse
from pathlib import Path
from typing import Any


def _edge_radio(args: argparse.Namespace) -> int:
    from silverguard.bench import emit
    from silverguard.bench.edge_radio import run

    emit("edge-radio", run(bands=args.bands, rounds=args.rounds, seconds=args.seconds), args.out)
    return 0


def _alert_latency(args: argparse.Namespace) -> int:
    from silverguard.bench import emit
    from silverguard.bench.alert_latency import run

    figures = run(
        incidents=args.incidents,
        gateways=args.gateways,
        interval_s=args.interval,
        workdir=args.workdir,
    )
    emit("alert-latency", figures, args.out)
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from silverguard.bench import emit
    from silverguard.bench.outbox import run

    emit("outbox", run(events=args.events, directory=args.dir), args.out)
    return 0


def _fleet_ingest(args: argparse.Namespace) -> int:
    from silverguard.bench import emit
    from silverguard.bench.fleet_ingest import run

    figures = run(
        bands=args.bands,
        gateways=args.gateways,
        rate=args.rate,
        seconds=args.seconds,
        batch=args.batch,
        workdir=args.workdir,
    )
    emit("fleet-ingest", figures, args.out)
    return 0


def _event_intake(args: argparse.Namespace) -> int:
    from silverguard.bench import emit
    from silverguard.bench.event_intake import run

    figures = run(
        events=args.events,
        gateways=args.gateways,
        copies=args.copies,
        bands=args.bands,
        workdir=args.workdir,
    )
    emit("event-intake", figures, args.out)
    return 0 if figures["acked"] == figures["messages"] else 1


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    bench = commands.add_parser("bench", help="benchmarks (print one JSON line, save JSON)")
    which = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    radio = which.add_parser("edge-radio", help="gateway radio pipeline: throughput, CPU, memory")
    radio.add_argument("--bands", type=int, default=867)
    radio.add_argument(
        "--rounds", type=int, default=6, help="adverts per band in the throughput runs"
    )
    radio.add_argument(
        "--seconds", type=float, default=20.0, help="length of the real-time district run"
    )
    radio.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    radio.set_defaults(func=_edge_radio)
    latency = which.add_parser(
        "alert-latency",
        help="SOS decided on a gateway -> first notification at the provider, real stack",
    )
    latency.add_argument("--incidents", type=int, default=200, help="SOS presses (one per band)")
    latency.add_argument("--gateways", type=int, default=2)
    latency.add_argument(
        "--interval", type=float, default=0.1, help="seconds between two residents' presses"
    )
    latency.add_argument(
        "--workdir", type=Path, help="keep the servers' files and logs here (default: temporary)"
    )
    latency.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    latency.set_defaults(func=_alert_latency)
    outbox = which.add_parser("outbox", help="gateway outbox: durable puts and acks per second")
    outbox.add_argument("--events", type=int, default=500)
    outbox.add_argument(
        "--dir", type=Path, help="where to put the database (the gateway's storage)"
    )
    outbox.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    outbox.set_defaults(func=_outbox)
    ingest = which.add_parser(
        "fleet-ingest",
        help="telemetry from simulated gateways into InfluxDB through the fleet, against a bare pipe",
    )
    ingest.add_argument("--bands", type=int, default=10_000)
    ingest.add_argument("--gateways", type=int, default=20)
    ingest.add_argument("--rate", type=float, default=12_000.0, help="readings per second offered")
    ingest.add_argument("--seconds", type=float, default=30.0, help="how long the load runs")
    ingest.add_argument("--batch", type=int, default=500, help="readings per telemetry message")
    ingest.add_argument("--workdir", type=Path, help="keep the servers' files and logs here")
    ingest.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    ingest.set_defaults(func=_fleet_ingest)
    events = which.add_parser(
        "event-intake",
        help="a burst of events, each sent by several gateways: stored and acknowledged per second",
    )
    events.add_argument("--events", type=int, default=600, help="distinct events in the burst")
    events.add_argument("--gateways", type=int, default=12)
    events.add_argument("--copies", type=int, default=3, help="gateways sending each event")
    events.add_argument("--bands", type=int, default=867)
    events.add_argument("--workdir", type=Path, help="keep the servers' files and logs here")
    events.add_argument("--out", type=Path, help="where to save the JSON (default bench-results/)")
    events.set_defaults(func=_event_intake)
