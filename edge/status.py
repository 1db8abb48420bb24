"""The gateway's local status: a file it rewrites every few seconds, and its reader.

``data_dir/status.json`` says what only the running process knows (uplink state,
config version, reject counters, SMS, watchdog). ``silverguard gateway status``
reads it together with the outbox database, which it opens read-only, so the
backlog is exact and the command works whether the gateway runs or not.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from edge.outbox import OUTBOX_FILE, KindBacklog, read_backlog
from edge.status_file import STATUS_FILE, StatusFile, read_status


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


@dataclass(frozen=True, slots=True)
class GatewayStatusReport:
    data_dir: Path
    status: StatusFile | None  # None: the gateway never wrote one (or it is unreadable)
    running: bool
    age_s: float | None  # how old the status file is
    backlog: dict[str, KindBacklog] | None  # None: no readable outbox
    thinned_total: int
    outbox_error: str = ""
    status_error: str = ""  # why status.json could not be read, if it exists

    def as_json(self, now: float) -> dict[str, Any]:
        outbox: dict[str, Any] = {"error": self.outbox_error} if self.outbox_error else {}
        for kind, backlog in (self.backlog or {}).items():
            outbox[kind] = {
                "count": backlog.count,
                "bytes": backlog.bytes,
                "oldest_age_s": backlog.oldest_age_s(now),
            }
        outbox["thinned_total"] = self.thinned_total
        return {
            "data_dir": str(self.data_dir),
            "running": self.running,
            "status_age_s": self.age_s,
            "status_error": self.status_error,
            "outbox": outbox,
            "status": msgspec.to_builtins(self.status) if self.status is not None else None,
        }


def read_gateway_status(data_dir: Path, now: float | None = None) -> GatewayStatusReport:
    now = now if now is not None else time.time()
    status: StatusFile | None = None
    age: float | None = None
    status_error = ""
    try:
        status = read_status(data_dir / STATUS_FILE)
        age = max(0.0, now - status.written_at)
    except FileNotFoundError:
        pass
    except PermissionError:
        status_error = "permission denied: run as root or as the gateway's user"
    except (OSError, ValueError) as exc:
        status_error = str(exc)
    running = False
    if status is not None and age is not None:
        fresh = age <= 3 * status.interval_s + 5
        running = fresh and _pid_alive(status.pid)
    backlog: dict[str, KindBacklog] | None = None
    thinned = 0
    error = ""
    try:
        backlog, thinned = read_backlog(data_dir / OUTBOX_FILE)
    except Exception as exc:  # sqlite3.Error, permissions: say so, show the rest
        error = str(exc)
    return GatewayStatusReport(
        data_dir, status, running, age, backlog, thinned, error, status_error
    )


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _clock(ts: object) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def render(report: GatewayStatusReport, now: float | None = None) -> str:
    """The status as a technician reads it on the box (English, with Chinese labels)."""
    now = now if now is not None else time.time()
    s = report.status
    lines = []
    if report.running and s is not None:
        state = f"running / 运行中 (pid {s.pid}, status written {_ago(report.age_s)} ago)"
    elif report.status_error:
        state = f"unknown / 未知 (status.json: {report.status_error})"
    elif s is None:
        state = "not running / 未运行 (it never wrote a status file here)"
    else:
        state = f"NOT RUNNING / 未运行 (last status {_clock(s.written_at)})"
    lines.append(f"gateway 网关 {s.gateway if s else '?'}: {state}")
    lines.append(f"  data dir 数据目录   {report.data_dir}")
    if s is not None:
        lines += _uplink_lines(s)
    lines += _outbox_lines(report, now)
    if s is not None:
        lines += _detail_lines(s)
    return "\n".join(lines)


def _uplink_lines(s: StatusFile) -> list[str]:
    up = s.uplink
    link = (
        f"{up.state} since {_clock(up.since)} to {up.broker}{' (TLS)' if up.tls else ' (no TLS)'}"
    )
    lines = [f"  uplink 上行链路     {link}"]
    detail = f"last connected {_clock(up.last_connected)}; "
    detail += f"last heartbeat {_clock(up.last_heartbeat)}; "
    detail += f"reconnects {up.reconnects}; backoff {up.backoff_s:.1f} s"
    lines.append(f"                      {detail}")
    if up.state != "connected" and up.last_error:
        lines.append(f"                      last error: {up.last_error}")
    if up.publish_refused:
        lines.append(f"                      broker refused {up.publish_refused} publishes (ACL?)")
    return lines


def _outbox_lines(report: GatewayStatusReport, now: float) -> list[str]:
    if report.backlog is None:
        return [f"  outbox 待发队列     unreadable: {report.outbox_error}"]
    parts = []
    for kind, label in (("event", "events 事件"), ("telemetry", "telemetry 遥测")):
        b = report.backlog[kind]
        oldest = f", oldest {_ago(b.oldest_age_s(now))}" if b.count else ""
        parts.append(f"{label} {b.count}{oldest} ({b.bytes / 1024:.1f} KiB)")
    return [
        f"  outbox 待发队列     {'; '.join(parts)}",
        f"                      telemetry thinned (all time) {report.thinned_total}",
    ]


def _detail_lines(s: StatusFile) -> list[str]:
    cfg = s.config
    text = f"version {cfg.version} running" if cfg.version is not None else "no pushed config yet"
    if cfg.rejected_version is not None or cfg.error:
        text += f"; version {cfg.rejected_version} REJECTED: {cfg.error}"
    lines = [f"  config 配置         {text}"]
    lines += [
        f"                      set aside 未生效: {p.section} {p.name}: {p.reason}"
        for p in cfg.set_aside
    ]
    radio = s.radio
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(radio.rejects.items())) or "none"
    lines.append(
        f"  radio 无线          {radio.adverts_seen} adverts seen, {radio.adverts_per_s}/s, "
        f"{radio.devices_heard} devices; rejected: {rejected}"
    )
    meters = s.meters
    if meters.get("meters_configured"):
        lines.append(
            f"  meters 水电表       {meters.get('meters_configured')} configured, "
            f"{meters.get('meters_online', 0)} online, {meters.get('meters_offline', 0)} offline; "
            f"{meters.get('meter_polls_failed', 0)} of {meters.get('meter_polls', 0)} polls failed"
        )
    if s.sms is not None:
        sms = s.sms
        text = (
            f"modem {sms.port}: {sms.sent} sent, {sms.failed} failed, "
            f"{sms.events_notified} events notified locally; after {sms.offline_after_s} s offline"
        )
        if sms.last_error:
            text += f"; last error: {sms.last_error}"
        lines.append(f"  offline SMS 离线短信 {text}")
    dog = s.watchdog
    health = "healthy" if dog.healthy else f"UNHEALTHY: {', '.join(dog.stale)}"
    where = "systemd watchdog on" if dog.systemd else "not under systemd's watchdog"
    lines.append(f"  watchdog 看门狗     {health} ({where})")
    return lines
