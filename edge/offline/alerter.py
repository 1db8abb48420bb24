"""Offline alerting: when the uplink has been down too long, the gateway's own modem
sends the caregivers an SMS for each critical event still waiting in the outbox.

The fleet's notifications are better (escalation, acknowledgement links, several
channels), so this is a fallback: only after ``offline_after_s`` without the broker,
only for the configured severities, and each event at most once per number. The event
is then rewritten in the outbox with ``notified_locally=True`` (and what was sent in
its evidence), so when the link is back the fleet knows a caregiver was already told.

The caregivers' numbers come from the pushed config, sealed to this gateway; they are
kept in memory only and never logged.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from contract import Event, WireError, decode, encode
from edge.config_push import DesiredConfig
from edge.offline.gsm import ModemError
from edge.outbox import Outbox
from edge.settings import ModemSettings

log = logging.getLogger(__name__)

_SWEEP_S = 2.0
_RETRY_MIN_S = 15.0
_RETRY_MAX_S = 600.0


class SmsSender(Protocol):
    def send(self, numbers: list[str], text: str) -> Awaitable[list[int | ModemError]]: ...


_KIND_ZH = {
    "sos": "紧急求救(SOS)",
    "fall": "疑似跌倒",
    "inactivity": "长时间未活动",
    "missed_dose": "漏服药物",
    "no_water": "全天未用水",
    "water_running": "长时间用水不止",
    "no_power_use": "长时间未用电",
    "not_worn": "未佩戴手环",
    "not_seen": "手环失联",
}
_KIND_EN = {
    "sos": "SOS call",
    "fall": "possible fall",
    "inactivity": "no movement for a long time",
    "missed_dose": "missed medication",
    "no_water": "no water used today",
    "water_running": "water running for hours",
    "no_power_use": "no power used for hours",
    "not_worn": "wristband not worn",
    "not_seen": "wristband not seen",
}


def sms_text(event: Event, locale: str) -> str:
    """One SMS (70 UCS2 / 160 GSM characters at most) for one event."""
    at = time.strftime("%H:%M", time.localtime(event.occurred_at))
    if locale.lower().startswith("en"):
        kind = _KIND_EN.get(event.kind.value, event.kind.value.replace("_", " "))
        return (
            f"Silverguard URGENT: {kind} at {at} from the person you care for "
            f"(band {event.device[-5:]}). The gateway is offline: please go or call now."
        )
    kind = _KIND_ZH.get(event.kind.value, "紧急警报")
    return (
        f"【银护】紧急告警：您照护的老人{at}{kind}(手环{event.device[-5:]})。"
        "网关离线，请立即前往或致电确认。"
    )


@dataclass(frozen=True, slots=True)
class Recipients:
    resident: str
    numbers: tuple[str, ...]
    locale: str = "zh-CN"


@dataclass
class _Attempt:
    sent_to: set[int] = field(default_factory=set)  # indexes into the numbers
    failures: int = 0
    next_try: float = 0.0


@dataclass
class SmsCounters:
    sent: int = 0  # messages accepted by the network
    failed: int = 0  # messages the modem could not send
    events_notified: int = 0
    events_without_contacts: int = 0
    last_error: str = ""
    last_sent_at: float | None = None


class OfflineAlerter:
    def __init__(
        self,
        settings: ModemSettings,
        outbox: Outbox,
        sender: SmsSender,
        offline_for: Callable[[], float],
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_s: float = _SWEEP_S,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._sender = sender
        self._offline_for = offline_for
        self._clock = clock
        self._sweep_s = sweep_s
        self._severities = set(settings.severities)
        self._by_band: dict[str, Recipients] = {}
        self._attempts: dict[str, _Attempt] = {}
        self._no_contacts_logged: set[str] = set()
        self.counters = SmsCounters()
        self.looks = 0  # how often it looked whether the link was down long enough

    # -- config section ------------------------------------------------------------------

    def apply_config(self, desired: DesiredConfig) -> None:
        """Who to text for which band: bands -> resident -> the resident's numbers."""
        residents = {r.resident: r for r in desired.config.residents}
        by_band: dict[str, Recipients] = {}
        for band in desired.config.bands:
            if band.resident is None:
                continue
            numbers = desired.contacts.get(band.resident)
            if not numbers:
                continue
            resident = residents.get(band.resident)
            locale = resident.sms_locale if resident is not None else "zh-CN"
            by_band[band.mac.upper()] = Recipients(band.resident, tuple(numbers), locale)
        self._by_band = by_band

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_s)
            self.looks += 1
            if self._offline_for() < self._settings.offline_after_s:
                continue
            try:
                await self.sweep()
            except Exception:
                # Whatever went wrong, the next sweep tries again; the gateway goes on.
                log.exception("offline SMS: sweep failed")

    async def sweep(self) -> int:
        """Text the caregivers for every due event; return how many SMS went out."""
        sent = 0
        now = self._clock()
        seen: set[str] = set()
        for entry in self._outbox.pending("event", limit=1000):
            if entry.event_id is None:
                continue
            try:
                event = decode(entry.payload, Event)
            except WireError:
                continue  # not ours to judge here; the fleet parks it
            if event.severity.value not in self._severities:
                continue
            seen.add(event.id)
            recipients = self._by_band.get(event.device.upper())
            if recipients is None:
                if event.id not in self._no_contacts_logged:
                    self._no_contacts_logged.add(event.id)
                    self.counters.events_without_contacts += 1
                    log.warning(
                        "offline SMS: no caregiver numbers for device %s (event %s)",
                        event.device,
                        event.id,
                    )
                continue
            attempt = self._attempts.get(event.id)
            if event.notified_locally and (
                attempt is None or len(attempt.sent_to) >= len(recipients.numbers)
            ):
                continue  # done (before a restart, or every number reached)
            attempt = self._attempts.setdefault(event.id, _Attempt())
            if attempt.next_try > now:
                continue
            sent += await self._notify(event, recipients, attempt)
            if self._offline_for() < self._settings.offline_after_s:
                break  # the link is back: the fleet takes over
        else:
            # Events that left the outbox (acknowledged by the fleet) need no memory.
            self._attempts = {k: v for k, v in self._attempts.items() if k in seen}
        return sent

    async def _notify(self, event: Event, recipients: Recipients, attempt: _Attempt) -> int:
        todo = [i for i in range(len(recipients.numbers)) if i not in attempt.sent_to]
        results = await self._sender.send(
            [recipients.numbers[i] for i in todo], sms_text(event, recipients.locale)
        )
        errors = []
        for index, result in zip(todo, results, strict=True):
            if isinstance(result, ModemError):
                errors.append(str(result))
            else:
                attempt.sent_to.add(index)
        newly_sent = len(todo) - len(errors)
        self.counters.sent += newly_sent
        self.counters.failed += len(errors)
        if newly_sent:
            self.counters.last_sent_at = time.time()
        if attempt.sent_to and newly_sent:
            self._mark(event, len(attempt.sent_to), len(recipients.numbers))
        # Positions and counts only: the numbers themselves stay out of the journal.
        log.warning(
            "offline SMS for %s event %s (resident %s): %d of %d caregivers reached%s",
            event.kind,
            event.id,
            recipients.resident,
            len(attempt.sent_to),
            len(recipients.numbers),
            f"; {errors[0]}" if errors else "",
        )
        if errors:
            self.counters.last_error = errors[0]
            attempt.failures += 1
            attempt.next_try = self._clock() + min(
                _RETRY_MIN_S * 2 ** (attempt.failures - 1), _RETRY_MAX_S
            )
        return newly_sent

    def _mark(self, event: Event, reached: int, of: int) -> None:
        first = not event.notified_locally
        marked = msgspec.structs.replace(
            event,
            notified_locally=True,
            evidence={
                **event.evidence,
                "local_sms_reached": reached,
                "local_sms_of": of,
                "local_sms_at": round(time.time(), 3),
            },
        )
        if self._outbox.replace_event(event.id, encode(marked)) and first:
            self.counters.events_notified += 1
