"""A small registry for the alerting tests, written straight to the database: one
community with a grid and its worker, a duty line, residents with caregivers and
bands; and a clock the tests move by hand."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from contract import Event, EventKind, Severity
from fleet.db.models import (
    Caregiver,
    CareLink,
    Community,
    EscalationPolicyRow,
    Grid,
    Resident,
    Town,
    Wristband,
)

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # 10:00 in the district


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Seed:
    community: str = "c-xingfu"
    town: str = "t-north"
    residents: list[str] = field(default_factory=list)
    bands: dict[str, str] = field(default_factory=dict)  # resident -> MAC


def mac(i: int) -> str:
    return f"C2:00:00:00:{i // 256:02X}:{i % 256:02X}"


def seed(
    session: Session,
    *,
    residents: int = 1,
    channels: dict[str, list[str]] | None = None,
    policy: dict[str, Any] | None = None,
) -> Seed:
    """``channels`` by contact id: ``cg-<n>`` (resident n's caregiver), ``gw-worker``,
    ``duty``; contacts not named get one dummy webhook each."""
    channels = channels or {}
    now = T0 - timedelta(days=1)

    def contact(cid: str, kind: str = "family", locale: str = "zh-CN") -> None:
        urls = channels.get(cid, [f"json://127.0.0.1:9/{cid}"])
        session.add(
            Caregiver(
                id=cid,
                display_name=f"联系人{cid}",
                kind=kind,
                locale=locale,
                channels="\n".join(urls),
                town_id="t-north",
                created_at=now,
            )
        )

    s = Seed()
    session.add(Town(id=s.town, name="北街道", created_at=now))
    session.flush()
    contact("gw-worker", "grid_worker")
    contact("duty")
    session.flush()
    session.add(
        Community(
            id=s.community, town_id=s.town, name="幸福社区", created_at=now, duty_contact_id="duty"
        )
    )
    session.flush()
    session.add(
        Grid(
            id="g-1", community_id=s.community, name="一网格", worker_id="gw-worker", created_at=now
        )
    )
    for i in range(1, residents + 1):
        rid = f"r-{i}"
        contact(f"cg-{i}")
        session.flush()
        session.add(
            Resident(
                id=rid,
                display_name=f"居民{i}",
                address=f"1号楼{i}室",
                community_id=s.community,
                grid_id="g-1",
                settings={},
                created_at=now,
            )
        )
        session.flush()
        session.add(CareLink(resident_id=rid, caregiver_id=f"cg-{i}", priority=1))
        session.add(
            Wristband(
                mac=mac(i),
                resident_id=rid,
                community_id=s.community,
                bind_key="00112233445566778899aabbccddeeff",
                state="active",
                created_at=now,
            )
        )
        s.residents.append(rid)
        s.bands[rid] = mac(i)
    if policy is not None:
        session.add(
            EscalationPolicyRow(
                community_id=s.community,
                steps=policy["steps"],
                repeat_every_s=policy["repeat_every_s"],
                updated_at=now,
                updated_by="test",
            )
        )
    session.flush()
    return s


def band_event(
    device: str,
    kind: EventKind = EventKind.FALL,
    *,
    key: int = 1,
    severity: Severity = Severity.CRITICAL,
    at: datetime = T0,
    gateway: str = "gw-01",
    evidence: dict[str, str] | None = None,
) -> Event:
    return Event.incident(
        kind,
        severity,
        device=device,
        key=key,
        gateway=gateway,
        occurred_at=at.timestamp(),
        detected_at=at.timestamp(),
        evidence=dict(evidence or {}),
    )
