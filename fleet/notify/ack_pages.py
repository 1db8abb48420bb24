"""The pages an acknowledge link opens, in the contact's language (pure HTML).

The GET page only shows the alert and a button: chat apps (WeChat, DingTalk) and mail
scanners fetch links to preview them, and such a fetch must not acknowledge anything.
The button POSTs back to the same link, which then does.
"""

import html
from dataclasses import dataclass
from datetime import datetime

from fleet.notify.templates import kind_name, local, supported_locale

_STYLE = (
    "body{font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;"
    "max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
    "h1{font-size:1.4rem}button{font-size:1.3rem;padding:.8rem 1.6rem;border-radius:.5rem;"
    "border:0;background:#c62828;color:#fff;width:100%}.muted{color:#555}"
)

_TEXT = {
    "zh-CN": {
        "title": "银护警报",
        "confirm": "我来处理（确认接单）",
        "confirm_hint": "确认后，系统将停止向其他人升级通知。",
        "raised": "{who}（{where}）于 {when} 触发“{what}”警报。",
        "done": "已确认，谢谢！请尽快联系或前往查看。",
        "already": "该警报已于 {when} 由 {by} 确认。",
        "resolved": "该警报已处理完毕。",
        "used": "此链接已经使用过。",
        "expired": "此链接已过期。",
        "invalid": "此链接无效。",
        "help": "如需帮助，请联系社区卫生服务中心。",
        "no_address": "地址未登记",
    },
    "en": {
        "title": "Silverguard alert",
        "confirm": "I'm on it (acknowledge)",
        "confirm_hint": "Once you acknowledge, nobody else will be called for this alert.",
        "raised": "{who} ({where}) raised '{what}' at {when} (Beijing time).",
        "done": "Acknowledged, thank you. Please call or go there now.",
        "already": "This alert was acknowledged at {when} by {by}.",
        "resolved": "This alert has been resolved.",
        "used": "This link has already been used.",
        "expired": "This link has expired.",
        "invalid": "This link is not valid.",
        "help": "For help, call the community health center.",
        "no_address": "no address on file",
    },
}


@dataclass(frozen=True, slots=True)
class AlertSummary:
    resident_name: str
    where: str
    kind: str
    opened_at: datetime


def _page(lang: str, heading: str, paragraphs: list[str], form_action: str | None = None) -> str:
    t = _TEXT[lang]
    body = [f"<h1>{html.escape(heading)}</h1>"]
    body += [f"<p>{html.escape(p)}</p>" for p in paragraphs]
    if form_action is not None:
        body.append(
            f'<form method="post" action="{html.escape(form_action)}">'
            f'<button type="submit">{html.escape(t["confirm"])}</button></form>'
            f'<p class="muted">{html.escape(t["confirm_hint"])}</p>'
        )
    lang_attr = "zh-CN" if lang == "zh-CN" else "en"
    return (
        f'<!doctype html><html lang="{lang_attr}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(t['title'])}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _raised(lang: str, alert: AlertSummary) -> str:
    t = _TEXT[lang]
    return t["raised"].format(
        who=alert.resident_name,
        where=alert.where or t["no_address"],
        what=kind_name(lang, alert.kind),
        when=local(alert.opened_at),
    )


def confirm(locale: str, alert: AlertSummary, action: str) -> str:
    lang = supported_locale(locale)
    return _page(lang, _TEXT[lang]["title"], [_raised(lang, alert)], form_action=action)


def acknowledged(locale: str, alert: AlertSummary) -> str:
    lang = supported_locale(locale)
    return _page(lang, _TEXT[lang]["done"], [_raised(lang, alert)])


def already(
    locale: str, alert: AlertSummary, when: datetime | None, by: str, resolved: bool
) -> str:
    lang = supported_locale(locale)
    t = _TEXT[lang]
    lines = []
    if when is not None:
        lines.append(t["already"].format(when=local(when), by=by))
    if resolved or not lines:
        lines.append(t["resolved"])
    return _page(lang, t["title"], [*lines, _raised(lang, alert)])


def refused(reason: str, locale: str | None = None) -> str:
    """A link that acknowledges nothing: ``used``, ``expired`` or ``invalid``. Without
    a known contact (a forged link) the page is in both languages."""
    if locale is None:
        zh, en = _TEXT["zh-CN"], _TEXT["en"]
        return _page(
            "zh-CN",
            f"{zh[reason]} / {en[reason]}",
            [zh["help"], en["help"]],
        )
    lang = supported_locale(locale)
    t = _TEXT[lang]
    return _page(lang, t[reason], [t["help"]])
