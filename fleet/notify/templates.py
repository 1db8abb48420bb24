"""What a caregiver reads: who, what, where, when, and how to acknowledge — zh-CN or en."""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# The district runs on China Standard Time; messages show local time.
CST = timezone(timedelta(hours=8), "CST")

_KIND_NAMES = {
    "zh-CN": {
        "sos": "紧急求助（SOS）",
        "fall": "跌倒",
        "inactivity": "长时间无活动",
        "missed_dose": "漏服药物",
        "low_battery": "手环电量低",
        "not_worn": "手环未佩戴",
        "not_seen": "手环失联",
        "no_water": "未用水",
        "water_running": "长时间流水",
        "no_power_use": "长时间未用电",
        "meter_offline": "表计离线",
    },
    "en": {
        "sos": "SOS call",
        "fall": "fall",
        "inactivity": "no movement for a long time",
        "missed_dose": "missed medication",
        "low_battery": "wristband battery low",
        "not_worn": "wristband not worn",
        "not_seen": "wristband not heard",
        "no_water": "no water used",
        "water_running": "water running for hours",
        "no_power_use": "no power used for a long time",
        "meter_offline": "meter offline",
    },
}


@dataclass(frozen=True, slots=True)
class AlertMessage:
    title: str
    body: str


def supported_locale(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh-CN"


def render(
    *,
    locale: str,
    kind: str,
    resident_name: str,
    address: str,
    opened_at: datetime,
    ack_url: str,
) -> AlertMessage:
    lang = supported_locale(locale)
    what = _KIND_NAMES[lang].get(kind, kind)
    when = opened_at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
    if lang == "zh-CN":
        return AlertMessage(
            title=f"【银护警报】{resident_name}：{what}",
            body=(
                f"{resident_name}（{address or '地址未登记'}）于 {when} 触发“{what}”警报。"
                f"请立即联系或前往查看。\n确认接单：{ack_url}"
            ),
        )
    return AlertMessage(
        title=f"[Silverguard] {resident_name}: {what}",
        body=(
            f"{resident_name} ({address or 'no address on file'}) raised '{what}' at {when} "
            f"(Beijing time). Please call or go there now.\nAcknowledge: {ack_url}"
        ),
    )
