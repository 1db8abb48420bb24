"""The reference for ``bench fleet-ingest``: the least a consumer can do with the same
messages — subscribe to the gateways' telemetry, turn every reading into a line of
line protocol with f-strings, write them to InfluxDB in batches. No validation, no
registry, no source selection, no spill: what the fleet's ingest is measured against.

Run as its own process (like the fleet), so both get a core of their own:
``python -m silverguard.bench.bare_pipe --mqtt HOST:PORT --user U --password P
--influx URL --db NAME``.
"""

import argparse
import asyncio
import json
from typing import Any

import aiomqtt
import httpx

from contract.topics import TopicKind, subscription

_BATCH = 5000  # InfluxData's advice for /write


def _lines(payload: bytes) -> list[str]:
    batch = json.loads(payload)
    gateway = batch.get("gateway", "")
    out = []
    for r in batch.get("readings", []):
        fields = ",".join(
            f"{k}={_value(v)}" for k, v in (r.get("fields") or {}).items() if v is not None
        )
        if r.get("rssi") is not None:
            fields += ("," if fields else "") + f"rssi={r['rssi']}i"
        if fields:
            out.append(
                f"{r.get('kind', 'wristband')},device={r['device']},gateway={gateway} "
                f"{fields} {round(r['ts'] * 1000)}"
            )
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        return repr(v)
    return '"' + str(v).replace('"', '\\"') + '"'


async def run(args: argparse.Namespace) -> None:
    host, _, port = args.mqtt.rpartition(":")
    pending: list[str] = []
    arrived = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as http:

        async def writer() -> None:
            nonlocal pending
            while True:
                await arrived.wait()
                arrived.clear()
                while pending:
                    chunk, pending = pending[:_BATCH], pending[_BATCH:]
                    await http.post(
                        f"{args.influx}/write",
                        params={"db": args.db, "precision": "ms"},
                        content="\n".join(chunk).encode(),
                    )

        task = asyncio.create_task(writer())
        async with aiomqtt.Client(
            host,
            int(port),
            username=args.user,
            password=args.password,
            identifier=args.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
        ) as client:
            await client.subscribe(subscription(TopicKind.TELEMETRY), qos=1)
            print("ready", flush=True)
            async for message in client.messages:
                pending += _lines(bytes(message.payload))  # type: ignore[arg-type]
                arrived.set()
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mqtt", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--client-id", required=True, help="the account's pinned client id")
    parser.add_argument("--influx", required=True)
    parser.add_argument("--db", required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
