"""What people read about a task, and that the dispatcher sends it: the holder gets
their three links; someone who was called is told it is taken — zh-CN and en."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleet.alerts import service
from fleet.alerts.ack_link import LinkSigner
from fleet.db.models import Caregiver
from fleet.db.session import make_engine, make_sessionmaker, utcnow
from fleet.dispatch.task_link import TaskLinkSigner
from fleet.notify import task_templates
from fleet.notify.dispatcher import Dispatcher
from silverguard.sim.receiver import Receiver
from tests.fleet.alerting_seed import band_event, seed

LINKS = task_templates.TaskLinks("https://f/task/a", "https://f/task/b", "https://f/task/c")


def test_the_holder_reads_what_where_and_their_three_links():
    zh = task_templates.render_task(
        locale="zh-CN",
        purpose="assigned",
        kind="fall",
        resident_name="张奶奶",
        where="幸福社区 3号楼201",
        holder="网格员李",
        links=LINKS,
    )
    assert zh.title == "【银护派单】张奶奶：跌倒"
    first, *links = zh.body.splitlines()
    assert first == "您已接单：张奶奶（幸福社区 3号楼201）“跌倒”。请立即前往，目标 15 分钟内到达。"
    assert links == [
        "出发 / 到达签到：https://f/task/a",
        "填写处置结果：https://f/task/b",
        "无法前往：https://f/task/c",
    ]
    en = task_templates.render_task(
        locale="en",
        purpose="taken",
        kind="sos",
        resident_name="Mrs Zhang",
        where="",
        holder="Li",
        links=None,
    )
    assert en.body == (
        "The 'SOS call' alert of Mrs Zhang (no address on file) has been taken by Li. "
        "No need to go. Thank you!"
    )


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def dispatching(sessions: sessionmaker[Session]) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(
        sessions,
        instance="t",
        public_url="https://fleet.example.org",
        links=LinkSigner(b"k" * 32, timedelta(hours=24)),
        task_links=TaskLinkSigner(b"t" * 32, timedelta(hours=24)),
        retry_s=0.2,
    )
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_taking_a_task_sends_the_holder_links_and_the_others_the_news(
    sessions: sessionmaker[Session], receiver: Receiver
):
    with sessions.begin() as session:
        s = seed(
            session,
            channels={"cg-1": [receiver.url("family")], "gw-worker": [receiver.url("grid")]},
        )
        session.get_one(Caregiver, "gw-worker").locale = "en"
    with sessions.begin() as session:
        recorded = service.record_event(session, band_event(s.bands["r-1"]), utcnow())
        assert recorded.alert_id is not None
        service.acknowledge(session, recorded.alert_id, "contact:gw-worker", utcnow(), via="link")
    async with dispatching(sessions) as dispatcher:
        dispatcher.wake.set()
        (grid,) = await asyncio.to_thread(receiver.wait_for, 1, path="grid", timeout=10)
        news = await asyncio.to_thread(
            lambda: [
                r
                for r in receiver.wait_for(1, path="family", timeout=10)
                if "接单" in r.body["title"]
            ]
        )
    assert grid.body["title"] == "[Silverguard task] 居民1: fall"
    for action in ("checkin", "outcome", "decline"):
        assert f"https://fleet.example.org/task/t1.1.gw-worker.{action}." in grid.body["message"]
    assert (
        news[0]
        .body["message"]
        .startswith("居民1（幸福社区 1号楼1室）的“跌倒”警报已由 联系人gw-worker 接单")
    )
