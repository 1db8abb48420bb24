"""One-click acknowledge links: ``GET /ack/{token}`` shows, ``POST /ack/{token}`` acknowledges.

No sign-in: the signed link is the credential (fleet.alerts.ack_link). A link works
once, until it expires; a reused, expired or forged link gets a page saying so
(410 or 403), never an error. The GET never changes anything, because chat apps
and mail scanners fetch links to preview them.
"""

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from fleet.alerts import service
from fleet.alerts.ack_link import LinkClaim, LinkError, LinkExpired
from fleet.api.deps import LinksDep, SessionDep
from fleet.db.models import AckLinkUse, Alert, Caregiver, Community, Resident
from fleet.db.session import utcnow
from fleet.db.upsert import insert_ignore
from fleet.notify import ack_pages

router = APIRouter(prefix="/ack", tags=["acknowledge link"])

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _html(body: str, code: int = status.HTTP_200_OK) -> HTMLResponse:
    return HTMLResponse(body, status_code=code, headers=_HEADERS)


def _locale(session: Session, contact_id: str) -> str | None:
    contact = session.get(Caregiver, contact_id)
    return contact.locale if contact is not None else None


def _summary(session: Session, alert: Alert) -> ack_pages.AlertSummary:
    resident = session.get(Resident, alert.resident_id) if alert.resident_id else None
    community = session.get(Community, alert.community_id) if alert.community_id else None
    where = " ".join(
        part
        for part in (community.name if community else "", resident.address if resident else "")
        if part
    )
    return ack_pages.AlertSummary(
        resident_name=resident.display_name if resident else alert.device,
        where=where,
        kind=alert.kind,
        opened_at=alert.opened_at,
    )


def _who(session: Session, actor: str | None) -> str:
    """How the person who acknowledged appears to another contact: their name if they
    are a contact, their role otherwise (never a user name)."""
    if actor and actor.startswith(("contact:", "caregiver:")):
        contact = session.get(Caregiver, actor.split(":", 1)[1])
        if contact is not None:
            return contact.display_name
    return "社区卫生服务中心 / health center"


def _check(session: Session, links: LinksDep, token: str) -> tuple[LinkClaim, Alert] | HTMLResponse:
    try:
        claim = links.check(token, utcnow())
    except LinkExpired as exc:
        return _html(
            ack_pages.refused("expired", _locale(session, exc.claim.contact_id)),
            status.HTTP_410_GONE,
        )
    except LinkError:
        return _html(ack_pages.refused("invalid"), status.HTTP_403_FORBIDDEN)
    alert = session.get(Alert, claim.alert_id)
    if alert is None:  # signed by us for an alert that is gone: treat as invalid
        return _html(ack_pages.refused("invalid"), status.HTTP_403_FORBIDDEN)
    locale = _locale(session, claim.contact_id) or "zh-CN"
    if session.get(AckLinkUse, claim.token_hash) is not None:
        return _html(ack_pages.refused("used", locale), status.HTTP_410_GONE)
    return claim, alert


@router.get("/{token}", response_class=HTMLResponse)
def show(token: str, request: Request, session: SessionDep, links: LinksDep) -> HTMLResponse:
    checked = _check(session, links, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, alert = checked
    locale = _locale(session, claim.contact_id) or "zh-CN"
    summary = _summary(session, alert)
    if alert.acknowledged_at is not None or alert.resolved_at is not None:
        return _html(
            ack_pages.already(
                locale,
                summary,
                alert.acknowledged_at,
                _who(session, alert.acknowledged_by),
                alert.resolved_at is not None,
            )
        )
    return _html(ack_pages.confirm(locale, summary, str(request.url.path)))


@router.post("/{token}", response_class=HTMLResponse)
def use(token: str, session: SessionDep, links: LinksDep) -> HTMLResponse:
    checked = _check(session, links, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, alert = checked
    locale = _locale(session, claim.contact_id) or "zh-CN"
    now = utcnow()
    # The alert first (with its timers: the lock order), then the use of the link.
    service.lock_alert(session, alert.id)
    if not insert_ignore(
        session,
        AckLinkUse.__table__,  # type: ignore[arg-type]
        {
            "token_hash": claim.token_hash,
            "alert_id": alert.id,
            "caregiver_id": claim.contact_id,
            "used_at": now,
        },
        ["token_hash"],
    ):  # the same link used twice at the same moment: the other request won
        session.rollback()
        return _html(ack_pages.refused("used", locale), status.HTTP_410_GONE)
    actor = f"contact:{claim.contact_id}"
    alert = service.acknowledge(session, alert.id, actor, now, via="link")
    session.commit()
    summary = _summary(session, alert)
    if alert.acknowledged_by == actor and alert.acknowledged_at == now:
        return _html(ack_pages.acknowledged(locale, summary))
    return _html(
        ack_pages.already(
            locale,
            summary,
            alert.acknowledged_at,
            _who(session, alert.acknowledged_by),
            alert.resolved_at is not None,
        )
    )
