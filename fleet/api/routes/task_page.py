"""Task links for the person who holds a task: ``GET /task/{token}`` shows, ``POST`` does.

No sign-in: the signed link is the credential (fleet.dispatch.task_link), as with the
acknowledge links. A forged link gets 403, an expired or used one 410, a link of
someone who no longer holds the task 409 with the holder's name, a closed task 409 —
each a page in words. ``I'm on my way`` may be pressed any number of times; checking
in, the outcome and "I can't go" use the link up.

The phone page (console) posts to the same links, adding a location to the check-in.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from fleet.alerts.ack_link import LinkError
from fleet.api.deps import SessionDep, TaskLinksDep
from fleet.db.models import Alert, Caregiver, Community, DispatchTask, Resident, TaskLinkUse
from fleet.db.session import utcnow
from fleet.db.upsert import insert_ignore
from fleet.dispatch import actions, store
from fleet.dispatch.task_link import TaskAction, TaskClaim, TaskLinkExpired
from fleet.dispatch.tasks import Done, Found, HeldByOther, Location, Outcome, TaskError, TaskState
from fleet.errors import Invalid
from fleet.notify import ack_pages, task_pages
from fleet.notify.templates import local

router = APIRouter(prefix="/task", tags=["task link"])

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _html(body: str, code: int = status.HTTP_200_OK) -> HTMLResponse:
    return HTMLResponse(body, status_code=code, headers=_HEADERS)


def _locale(session: Session, contact_id: str) -> str:
    contact = session.get(Caregiver, contact_id)
    return contact.locale if contact is not None else "zh-CN"


def summary(session: Session, task: DispatchTask) -> task_pages.TaskSummary:
    resident = session.get(Resident, task.resident_id) if task.resident_id else None
    community = session.get(Community, task.community_id) if task.community_id else None
    alert = session.get_one(Alert, task.alert_id)
    where = " ".join(
        p for p in (community.name if community else "", resident.address if resident else "") if p
    )
    return task_pages.TaskSummary(
        resident_name=resident.display_name if resident else alert.device,
        where=where,
        kind=task.kind,
        opened_at=alert.opened_at,
    )


def _check(
    session: Session, links: TaskLinksDep, token: str
) -> tuple[TaskClaim, DispatchTask] | HTMLResponse:
    try:
        claim = links.check(token, utcnow())
    except TaskLinkExpired as exc:
        return _html(
            ack_pages.refused("expired", _locale(session, exc.claim.contact_id)),
            status.HTTP_410_GONE,
        )
    except LinkError:
        return _html(ack_pages.refused("invalid"), status.HTTP_403_FORBIDDEN)
    task = session.get(DispatchTask, claim.task_id)
    if task is None:
        return _html(ack_pages.refused("invalid"), status.HTTP_403_FORBIDDEN)
    locale = _locale(session, claim.contact_id)
    if session.get(TaskLinkUse, claim.token_hash) is not None:
        return _html(ack_pages.refused("used", locale), status.HTTP_410_GONE)
    if task.state == TaskState.CLOSED.value:
        return _html(task_pages.said(locale, summary(session, task), "closed"), 409)
    if task.owner_id != claim.contact_id:
        holder = store.holder_name(session, task.owner_id)
        return _html(task_pages.said(locale, summary(session, task), "held", holder=holder), 409)
    return claim, task


@router.get("/{token}", response_class=HTMLResponse)
def show(token: str, request: Request, session: SessionDep, links: TaskLinksDep) -> HTMLResponse:
    checked = _check(session, links, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, task = checked
    locale = _locale(session, claim.contact_id)
    about = summary(session, task)
    path = str(request.url.path)
    if claim.action is TaskAction.CHECK_IN:
        if task.on_site_at is not None:
            return _html(task_pages.said(locale, about, "arrived", when=_at(task.on_site_at)))
        return _html(task_pages.check_in(locale, about, path, task.on_the_way_at is not None))
    if claim.action is TaskAction.OUTCOME:
        return _html(task_pages.outcome_form(locale, about, path))
    return _html(task_pages.decline_form(locale, about, path))


def _at(moment: datetime) -> str:
    return local(moment, "%H:%M")


def _use(session: Session, claim: TaskClaim) -> bool:
    return insert_ignore(
        session,
        TaskLinkUse.__table__,  # type: ignore[arg-type]
        {
            "token_hash": claim.token_hash,
            "task_id": claim.task_id,
            "caregiver_id": claim.contact_id,
            "action": claim.action.value,
            "used_at": utcnow(),
        },
        ["token_hash"],
    )


def _location(lat: str | None, lon: str | None) -> Location | None:
    if not lat or not lon:
        return None
    try:
        return Location(float(lat), float(lon))
    except (ValueError, Invalid):
        return None  # a location is optional: a bad one is left out, not refused


def _outcome(found: str | None, done: list[str], note: str) -> Outcome | None:
    try:
        return Outcome(Found(found or ""), frozenset(Done(d) for d in done), note[:2000])
    except (ValueError, Invalid):
        return None


Field = Annotated[str | None, Form(max_length=2000)]


@router.post("/{token}", response_class=HTMLResponse)
def use(
    token: str,
    request: Request,
    *,
    session: SessionDep,
    links: TaskLinksDep,
    step: Field = None,
    found: Field = None,
    done: Annotated[list[str] | None, Form(max_length=10)] = None,
    note: Field = None,
    lat: Annotated[str | None, Form(max_length=30)] = None,
    lon: Annotated[str | None, Form(max_length=30)] = None,
) -> HTMLResponse:
    checked = _check(session, links, token)
    if isinstance(checked, HTMLResponse):
        return checked
    claim, task = checked
    locale = _locale(session, claim.contact_id)
    about = summary(session, task)
    now = utcnow()
    who = claim.contact_id
    try:
        if claim.action is TaskAction.CHECK_IN and step == "on_the_way":
            actions.set_off(session, task.id, who, now)
            session.commit()
            return _html(task_pages.said(locale, about, "set_off", when=_at(now)))
        outcome = None
        if claim.action is TaskAction.OUTCOME:
            outcome = _outcome(found, done or [], note or "")
            if outcome is None:
                return _html(task_pages.outcome_form(locale, about, str(request.url.path)), 422)
        if not _use(session, claim):  # the same link at the same moment: the other won
            session.rollback()
            return _html(ack_pages.refused("used", locale), status.HTTP_410_GONE)
        if claim.action is TaskAction.CHECK_IN:
            actions.check_in(session, task.id, who, now, _location(lat, lon))
            page = task_pages.said(locale, about, "arrived", when=_at(now))
        elif outcome is not None:
            actions.record_outcome(session, task.id, who, outcome, now)
            page = task_pages.said(locale, about, "recorded")
        else:
            row = actions.decline(session, task.id, who, now)
            page = task_pages.said(
                locale, about, "passed", holder=store.holder_name(session, row.owner_id)
            )
        session.commit()
        return _html(page)
    except HeldByOther as exc:
        session.rollback()
        holder = store.holder_name(session, exc.holder)
        return _html(task_pages.said(locale, about, "held", holder=holder), 409)
    except TaskError as exc:
        session.rollback()
        return _html(task_pages.said(locale, about, "refused", why=exc.message), 409)
