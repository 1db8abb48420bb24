"""What a contact reads: who, what, where, when, and how to acknowledge — zh-CN or en.

Messages go out over SMS as well as chat apps, so the first line says everything
that matters and the acknowledge link comes last, on its own line.
"""

from dataclasses import dataclass
from datetime import datetime

from fleet import clock

# Times in messages are the district's local time (fleet setting ``timezone``).

KIND_NAMES = {
    "zh-CN": {
        "sos": "紧急求助（SOS）",
        "fall": "跌倒",
        "fall_cancelled": "跌倒报警已被本人取消",
        "inactivity": "长时间无活动",
        "activity_resumed": "已恢复活动",
        "missed_dose": "漏服药物",
        "medication_taken": "已服药",
        "low_battery": "手环电量低",
        "not_worn": "手环未佩戴",
        "not_seen": "手环失联",
        "no_water": "未用水",
        "water_running": "长时间流水",
        "no_power_use": "长时间未用电",
        "meter_offline": "表计离线",
        "gateway_offline": "网关离线，辖区居民暂无保护",
    },
    "en": {
        "sos": "SOS call",
        "fall": "fall",
        "fall_cancelled": "fall alarm cancelled by the resident",
        "inactivity": "no movement for a long time",
        "activity_resumed": "moving again",
        "missed_dose": "missed medication",
        "medication_taken": "medication taken",
        "low_battery": "wristband battery low",
        "not_worn": "wristband not worn",
        "not_seen": "wristband not heard",
        "no_water": "no water used",
        "water_running": "water running for hours",
        "no_power_use": "no power used for a long time",
        "meter_offline": "meter offline",
        "gateway_offline": "gateway offline: the residents it covers are unprotected",
    },
}

_ROLE = {
    "zh-CN": {
        "caregivers": "您是该居民登记的照护人。",
        "grid_worker": "您是该居民所在网格的网格员。",
        "duty_line": "社区卫生服务中心值班电话。",
    },
    "en": {
        "caregivers": "You are registered as this resident's caregiver.",
        "grid_worker": "You are the grid worker of this resident's grid.",
        "duty_line": "Community health center duty line.",
    },
}


@dataclass(frozen=True, slots=True)
class AlertMessage:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DigestItem:
    resident_name: str
    kind: str
    at: datetime


def supported_locale(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh-CN"


def local(at: datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return clock.local_text(at, fmt)


def kind_name(locale: str, kind: str) -> str:
    return KIND_NAMES[supported_locale(locale)].get(kind, kind)


def render(
    *,
    locale: str,
    kind: str,
    resident_name: str,
    address: str,
    opened_at: datetime,
    ack_url: str,
    community: str = "",
    escalated: bool = False,
    role: str = "",
    follow_ups: tuple[FollowUp, ...] = (),
) -> AlertMessage:
    lang = supported_locale(locale)
    what = kind_name(lang, kind)
    when = local(opened_at)
    where = " ".join(part for part in (community, address) if part)
    role_line = _ROLE[lang].get(role.split(":", 1)[0], "")
    if lang == "zh-CN":
        lines = [
            f"{resident_name}（{where or '地址未登记'}）于 {when} 触发“{what}”警报。"
            "请立即联系或前往查看。"
        ]
        if escalated:
            lines.append("【升级通知】此前通知的人员尚未确认。")
        if role_line:
            lines.append(role_line)
        lines += [f"后续：{local(f.at, '%H:%M:%S')} {kind_name(lang, f.kind)}" for f in follow_ups]
        lines.append(f"确认接单：{ack_url}")
        title = f"【银护警报】{resident_name}：{what}"
        if escalated:
            title = f"【银护警报·升级】{resident_name}：{what}"
        return AlertMessage(title=title, body="\n".join(lines))
    lines = [
        f"{resident_name} ({where or 'no address on file'}) raised '{what}' at {when} "
        "(Beijing time). Please call or go there now."
    ]
    if escalated:
        lines.append("ESCALATED: nobody called before has acknowledged yet.")
    if role_line:
        lines.append(role_line)
    lines += [
        f"Since then: {local(f.at, '%H:%M:%S')} {kind_name(lang, f.kind)}" for f in follow_ups
    ]
    lines.append(f"Acknowledge: {ack_url}")
    prefix = "[Silverguard ESCALATED]" if escalated else "[Silverguard]"
    return AlertMessage(title=f"{prefix} {resident_name}: {what}", body="\n".join(lines))


def render_digest(*, locale: str, day: str, items: list[DigestItem]) -> AlertMessage:
    lang = supported_locale(locale)
    if lang == "zh-CN":
        lines = [
            f"- {local(i.at, '%m-%d %H:%M')} {i.resident_name}：{kind_name(lang, i.kind)}"
            for i in items
        ]
        return AlertMessage(
            title=f"【银护日报】{day} 共 {len(items)} 条提醒",
            body="以下提醒无需紧急处理，请在方便时查看：\n" + "\n".join(lines),
        )
    lines = [
        f"- {local(i.at, '%m-%d %H:%M')} {i.resident_name}: {kind_name(lang, i.kind)}"
        for i in items
    ]
    return AlertMessage(
        title=f"[Silverguard digest] {day}: {len(items)} notice(s)",
        body="Nothing urgent; please look when convenient:\n" + "\n".join(lines),
    )
