"""Keeps the broker in step with the registry: desired configs published retained, and
revocations applied to Mosquitto, retried until they succeed.

Work is found in the database (``desired_version > published_version``, revoked and not
``broker_synced``), not in memory, so a fleet restart or a broker outage loses nothing
and any fleet instance can do it. A publish repeated by two instances is harmless:
the config is retained and the gateway applies a version once.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from contract import Topic, TopicKind, transport
from fleet.db.models import Gateway
from fleet.provisioning.dynsec import Dynsec
from fleet.registry.config_push import build_config
from fleet.registry.vault import Vault

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bool], Awaitable[None]]

_POLL_S = 5.0


class ConfigPublisher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: Vault,
        publish: Publish,
        dynsec: Dynsec,
        *,
        poll_s: float = _POLL_S,
        on_poke: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._publish = publish
        self._dynsec = dynsec
        self._poll_s = poll_s
        self._on_poke = on_poke
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        self.failures = 0
        self.last_error = ""

    def poke(self) -> None:
        """Ask for a pass soon; safe to call from the API's worker threads."""
        if self._on_poke is not None:
            self._on_poke()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            await transport.wait_event(self._wake, self._poll_s)
            self._wake.clear()
            try:
                await self.sync_once()
            except Exception as exc:  # never let one bad pass stop the loop
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("config publisher: pass failed, will retry: %s", self.last_error)

    async def sync_once(self) -> int:
        """Publish every pending config and apply pending revocations; return how many."""
        done = 0
        for gateway_id in await asyncio.to_thread(self._pending_configs):
            built = await asyncio.to_thread(self._build, gateway_id)
            if built is None:
                continue
            version, payload = built
            await self._publish(str(Topic(gateway_id, TopicKind.CONFIG)), payload, True)
            await asyncio.to_thread(self._mark_published, gateway_id, version)
            self.published += 1
            done += 1
            log.info("config: published version %d for %s", version, gateway_id)
        for gateway_id, username in await asyncio.to_thread(self._pending_revocations):
            await self.apply_revocation(gateway_id, username)
            done += 1
        return done

    async def apply_revocation(self, gateway_id: str, username: str | None) -> None:
        """Disable the client in the broker and drop the retained config; then mark done."""
        if username:
            await self._dynsec.disable(username)
        # An empty retained message deletes the retained config from the broker's store.
        await self._publish(str(Topic(gateway_id, TopicKind.CONFIG)), b"", True)
        await asyncio.to_thread(self._mark_synced, gateway_id)
        log.info("revocation of %s applied in the broker", gateway_id)

    def _pending_configs(self) -> list[str]:
        with self._sessions() as session:
            return list(
                session.execute(
                    select(Gateway.id).where(
                        Gateway.state == "enrolled",
                        Gateway.desired_version > Gateway.published_version,
                    )
                ).scalars()
            )

    def _pending_revocations(self) -> list[tuple[str, str | None]]:
        with self._sessions() as session:
            rows = session.execute(
                select(Gateway.id, Gateway.mqtt_username).where(
                    Gateway.state == "revoked", Gateway.broker_synced.is_(False)
                )
            ).all()
            return [(row[0], row[1]) for row in rows]

    def _build(self, gateway_id: str) -> tuple[int, bytes] | None:
        with self._sessions() as session:
            gateway = session.get(Gateway, gateway_id)
            if gateway is None or gateway.state != "enrolled":
                return None
            config = build_config(session, gateway, self._vault)
            return config.version, config.encode()

    def _mark_published(self, gateway_id: str, version: int) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(Gateway)
                .where(Gateway.id == gateway_id, Gateway.published_version < version)
                .values(published_version=version)
            )

    def _mark_synced(self, gateway_id: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(Gateway)
                .where(Gateway.id == gateway_id, Gateway.state == "revoked")
                .values(broker_synced=True)
            )
