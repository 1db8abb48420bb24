"""The daily digest: low-priority news batched into one message per contact and day.

Battery low, band not worn or not heard, a meter offline, a fall the resident
cancelled in time: caregivers want to know, not to be woken. Such events wait in
``digest_entries``; once a day, at ``digest_time`` local time, each contact with
waiting entries gets one digest (a ``digests`` row, unique per contact and day, so
exactly one fleet instance makes it) delivered over each of their channels.
Falls and SOS never go here (fleet.alerts.incidents).
"""

from datetime import datetime, time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet import clock
from fleet.alerts.escalation import channel_ref, channel_scheme, channel_urls
from fleet.db.models import Caregiver, Delivery, Digest, DigestEntry
from fleet.db.upsert import insert_ignore


def make_due(session: Session, now: datetime, digest_time: time) -> int:
    """Make today's digests once the digest time has passed; return deliveries made."""
    local_now = now.astimezone(clock.zone())
    if local_now.time() < digest_time:
        return 0
    day = local_now.date()
    cut = datetime.combine(day, digest_time, clock.zone())
    waiting = session.execute(
        select(DigestEntry.caregiver_id)
        .where(DigestEntry.digest_id.is_(None), DigestEntry.created_at < cut)
        .distinct()
    ).scalars()
    made = 0
    for caregiver_id in list(waiting):
        if not insert_ignore(
            session,
            Digest.__table__,  # type: ignore[arg-type]
            {"caregiver_id": caregiver_id, "day": day.isoformat(), "items": 0, "created_at": now},
            ["caregiver_id", "day"],
        ):
            continue  # another instance made it
        digest = session.execute(
            select(Digest).where(Digest.caregiver_id == caregiver_id, Digest.day == day.isoformat())
        ).scalar_one()
        assigned = session.execute(
            update(DigestEntry)
            .where(
                DigestEntry.caregiver_id == caregiver_id,
                DigestEntry.digest_id.is_(None),
                DigestEntry.created_at < cut,
            )
            .values(digest_id=digest.id)
        )
        digest.items = int(getattr(assigned, "rowcount", 0) or 0)
        caregiver = session.get(Caregiver, caregiver_id)
        for url in channel_urls(caregiver) if caregiver else []:
            session.add(
                Delivery(
                    digest_id=digest.id,
                    caregiver_id=caregiver_id,
                    channel_ref=channel_ref(url),
                    channel_scheme=channel_scheme(url),
                    status="pending",
                    attempts=0,
                    due_at=now,
                    created_at=now,
                )
            )
            made += 1
    return made
