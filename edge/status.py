"""The gateway's local status: a file it rewrites every few seconds, and its reader.

``data_dir/status.json`` says what only the running process knows (uplink state,
config version, reject counters, SMS, watchdog). ``silverguard gateway status``
reads it together with the outbox database, which it opens read-only, so the
backlog is exact and the command works whether the gateway runs or not.
"""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.files import write_atomically
from edge.outbox import KindBacklog, read_backlog

STATUS_FILE = "status.json"
OUTBOX_FILE = "outbox.db"


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    """Replace the status file atomically (a reader never sees half a file); no fsync:
    it is rewritten every few seconds and worthless after a power cut."""
    payload = json.dumps(status, ensure_ascii=False, indent=1).encode()
    write_atomically(data_dir / STATUS_FILE, payload, mode=0o644, sync=False)


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
    status: dict[str, Any] | None  # None: the gateway never wrote one
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
            "status": self.status,
        }


def read_gateway_status(data_dir: Path, now: float | None = None) -> GatewayStatusReport:
    now = now if now is not None else time.time()
    status: dict[str, Any] | None = None
    age: float | None = None
    status_error = ""
    try:
        loaded = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            status = loaded
            written = loaded.get("written_at")
            age = max(0.0, now - written) if isinstance(written, int | float) else None
    except FileNotFoundError:
        pass
    except PermissionError:
        status_error = "permission denied: run as root or as the gateway's user"
    except (OSError, ValueError) as exc:
        status_error = str(exc)
    running = False
    if status is not None and age is not None:
        interval = status.get("interval_s", 5.0)
        fresh = age <= 3 * (interval if isinstance(interval, int | float) else 5.0) + 5
        running = fresh and _pid_alive(status.get("pid"))
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
    s = report.status or {}
    lines = []
    gateway = s.get("gateway", "?")
    if report.running:
        state = f"running / 运行中 (pid {s.get('pid')}, status written {_ago(report.age_s)} ago)"
    elif report.status_error:
        state = f"unknown / 未知 (status.json: {report.status_error})"
    elif report.status is None:
        state = "not running / 未运行 (it never wrote a status file here)"
    else:
        state = f"NOT RUNNING / 未运行 (last status {_clock(s.get('written_at'))})"
    lines.append(f"gateway 网关 {gateway}: {state}")
    lines.append(f"  data dir 数据目录   {report.data_dir}")

    up = s.get("uplink") or {}
    if up:
        link = f"{up.get('state', '?')} since {_clock(up.get('since'))}"
        link += f" to {up.get('broker', '?')}{' (TLS)' if up.get('tls') else ' (no TLS)'}"
        lines.append(f"  uplink 上行链路     {link}")
        detail = f"last connected {_clock(up.get('last_connected'))}; "
        detail += f"last heartbeat {_clock(up.get('last_heartbeat'))}; "
        detail += f"reconnects {up.get('reconnects', 0)}; backoff {up.get('backoff_s', 0):.1f} s"
        lines.append(f"                      {detail}")
        if up.get("state") != "connected" and up.get("last_error"):
            lines.append(f"                      last error: {up['last_error']}")
        if up.get("publish_refused"):
            lines.append(
                f"                      broker refused {up['publish_refused']} publishes (ACL?)"
            )

    if report.backlog is not None:
        parts = []
        for kind, label in (("event", "events 事件"), ("telemetry", "telemetry 遥测")):
            b = report.backlog[kind]
            oldest = f", oldest {_ago(b.oldest_age_s(now))}" if b.count else ""
            parts.append(f"{label} {b.count}{oldest} ({b.bytes / 1024:.1f} KiB)")
        lines.append(f"  outbox 待发队列     {'; '.join(parts)}")
        lines.append(f"                      telemetry thinned (all time) {report.thinned_total}")
    else:
        lines.append(f"  outbox 待发队列     unreadable: {report.outbox_error}")

    cfg = s.get("config") or {}
    if cfg:
        version = cfg.get("version")
        text = f"version {version} running" if version is not None else "no pushed config yet"
        if cfg.get("rejected_version") is not None or cfg.get("error"):
            text += f"; version {cfg.get('rejected_version')} REJECTED: {cfg.get('error')}"
        lines.append(f"  config 配置         {text}")
        for part in cfg.get("set_aside") or []:
            lines.append(
                f"                      set aside 未生效: {part.get('section')} "
                f"{part.get('name')}: {part.get('reason')}"
            )

    radio = s.get("radio") or {}
    if radio:
        rejects = radio.get("rejects") or {}
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(rejects.items())) or "none"
        lines.append(
            f"  radio 无线          {radio.get('adverts_seen', 0)} adverts seen, "
            f"{radio.get('adverts_per_s', 0)}/s, {radio.get('devices_heard', 0)} devices; "
            f"rejected: {rejected}"
        )
    meters = s.get("meters") or {}
    if meters.get("meters_configured"):
        lines.append(
            f"  meters 水电表       {meters.get('meters_configured')} configured, "
            f"{meters.get('meters_online', 0)} online, {meters.get('meters_offline', 0)} offline; "
            f"{meters.get('meter_polls_failed', 0)} of {meters.get('meter_polls', 0)} polls failed"
        )
    sms = s.get("sms")
    if sms:
        text = (
            f"modem {sms.get('port')}: {sms.get('sent', 0)} sent, {sms.get('failed', 0)} failed, "
            f"{sms.get('events_notified', 0)} events notified locally; "
            f"after {sms.get('offline_after_s')} s offline"
        )
        if sms.get("last_error"):
            text += f"; last error: {sms['last_error']}"
        lines.append(f"  offline SMS 离线短信 {text}")
    dog = s.get("watchdog") or {}
    if dog:
        health = (
            "healthy" if dog.get("healthy") else f"UNHEALTHY: {', '.join(dog.get('stale', []))}"
        )
        where = "systemd watchdog on" if dog.get("systemd") else "not under systemd's watchdog"
        lines.append(f"  watchdog 看门狗     {health} ({where})")
    return "\n".join(lines)
