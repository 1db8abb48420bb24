"""The pages a task link opens, in the contact's language (pure HTML, no script).

GET pages only show (chat apps fetch links to preview them); their forms POST back to
the same link. Made for a phone held in one hand: big buttons, one column.
"""

import html
from dataclasses import dataclass
from datetime import datetime

from fleet.dispatch.tasks import Done, Found
from fleet.notify.templates import kind_name, local, supported_locale

_STYLE = (
    "body{font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;"
    "max-width:32rem;margin:1rem auto;padding:0 1rem;line-height:1.5}"
    "h1{font-size:1.3rem}button{font-size:1.2rem;padding:.8rem;border-radius:.5rem;"
    "border:0;background:#1565c0;color:#fff;width:100%;margin:.4rem 0}"
    "button.go{background:#2e7d32}button.no{background:#6d4c41}"
    "label{display:block;padding:.5rem 0;font-size:1.1rem}textarea{width:100%;min-height:4rem}"
    "fieldset{border:1px solid #ccc;border-radius:.5rem;margin:.6rem 0}.muted{color:#555}"
)

FOUND = {
    "zh-CN": {
        Found.FALL_INJURED: "跌倒，有受伤",
        Found.FALL_UNINJURED: "跌倒，未受伤",
        Found.FALSE_ALARM: "误报",
        Found.NOT_AT_HOME: "不在家",
        Found.OTHER: "其他情况",
    },
    "en": {
        Found.FALL_INJURED: "fall with injury",
        Found.FALL_UNINJURED: "fall without injury",
        Found.FALSE_ALARM: "false alarm",
        Found.NOT_AT_HOME: "not at home",
        Found.OTHER: "something else",
    },
}
DONE = {
    "zh-CN": {
        Done.HELPED_UP: "扶起老人",
        Done.CALLED_FAMILY: "已联系家属",
        Done.AMBULANCE_120: "已拨打 120",
        Done.HOSPITAL: "已送医",
    },
    "en": {
        Done.HELPED_UP: "helped up",
        Done.CALLED_FAMILY: "called family",
        Done.AMBULANCE_120: "called an ambulance (120)",
        Done.HOSPITAL: "taken to hospital",
    },
}

_TEXT = {
    "zh-CN": {
        "title": "银护派单",
        "task": "{who}（{where}）“{what}”，{when} 报警。",
        "on_the_way": "我已出发",
        "on_site": "我已到达（签到）",
        "checkin_hint": "到达老人家门口后点击“我已到达”。",
        "found": "现场情况",
        "done": "采取的措施",
        "note": "备注",
        "submit": "提交处置结果",
        "decline": "我无法前往",
        "decline_hint": "任务将立即转交下一位负责人。",
        "set_off": "已记录出发时间 {when}。到达后请再次打开此链接签到。",
        "arrived": "已签到，到达时间 {when}。请在处置后填写结果。",
        "recorded": "处置结果已记录，任务已结束。谢谢！",
        "passed": "已转交给 {holder}。谢谢告知。",
        "held": "此任务由 {holder} 负责，您不能提交。",
        "closed": "该任务已结束。",
        "refused": "无法完成此操作：{why}",
        "no_address": "地址未登记",
        "help": "如需帮助，请联系社区卫生服务中心。",
    },
    "en": {
        "title": "Silverguard task",
        "task": "{who} ({where}), '{what}', raised at {when} (Beijing time).",
        "on_the_way": "I'm on my way",
        "on_site": "I'm here (check in)",
        "checkin_hint": "Press 'I'm here' at the resident's door.",
        "found": "What you found",
        "done": "What you did",
        "note": "Note",
        "submit": "Record the outcome",
        "decline": "I can't go",
        "decline_hint": "The task passes at once to the next person.",
        "set_off": "Set off at {when}. Open this link again at the door to check in.",
        "arrived": "Checked in at {when}. Please record the outcome when you are done.",
        "recorded": "Outcome recorded; the task is closed. Thank you!",
        "passed": "Passed to {holder}. Thank you for telling us.",
        "held": "This task is held by {holder}; you cannot submit it.",
        "closed": "This task is closed.",
        "refused": "This cannot be done: {why}",
        "no_address": "no address on file",
        "help": "For help, call the community health center.",
    },
}


@dataclass(frozen=True, slots=True)
class TaskSummary:
    resident_name: str
    where: str
    kind: str
    opened_at: datetime


def _page(lang: str, heading: str, parts: list[str]) -> str:
    t = _TEXT[lang]
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(t['title'])}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(heading)}</h1>{''.join(parts)}</body></html>"
    )


def _p(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def _about(lang: str, task: TaskSummary) -> str:
    t = _TEXT[lang]
    return _p(
        t["task"].format(
            who=task.resident_name,
            where=task.where or t["no_address"],
            what=kind_name(lang, task.kind),
            when=local(task.opened_at),
        )
    )


def check_in(locale: str, task: TaskSummary, action: str, set_off: bool) -> str:
    lang = supported_locale(locale)
    t = _TEXT[lang]
    url = html.escape(action)
    buttons = ""
    if not set_off:
        buttons += (
            f'<form method="post" action="{url}"><input type="hidden" name="step" '
            f'value="on_the_way"><button type="submit">{html.escape(t["on_the_way"])}'
            "</button></form>"
        )
    buttons += (
        f'<form method="post" action="{url}"><input type="hidden" name="step" value="on_site">'
        f'<button class="go" type="submit">{html.escape(t["on_site"])}</button></form>'
    )
    return _page(lang, t["title"], [_about(lang, task), buttons, _p(t["checkin_hint"], "muted")])


def outcome_form(locale: str, task: TaskSummary, action: str) -> str:
    lang = supported_locale(locale)
    t = _TEXT[lang]
    found = "".join(
        f'<label><input type="radio" name="found" value="{f.value}" required> '
        f"{html.escape(name)}</label>"
        for f, name in FOUND[lang].items()
    )
    done = "".join(
        f'<label><input type="checkbox" name="done" value="{d.value}"> {html.escape(name)}</label>'
        for d, name in DONE[lang].items()
    )
    form = (
        f'<form method="post" action="{html.escape(action)}">'
        f"<fieldset><legend>{html.escape(t['found'])}</legend>{found}</fieldset>"
        f"<fieldset><legend>{html.escape(t['done'])}</legend>{done}</fieldset>"
        f'<label>{html.escape(t["note"])}<textarea name="note" maxlength="2000"></textarea></label>'
        f'<button class="go" type="submit">{html.escape(t["submit"])}</button></form>'
    )
    return _page(lang, t["title"], [_about(lang, task), form])


def decline_form(locale: str, task: TaskSummary, action: str) -> str:
    lang = supported_locale(locale)
    t = _TEXT[lang]
    form = (
        f'<form method="post" action="{html.escape(action)}">'
        f'<button class="no" type="submit">{html.escape(t["decline"])}</button></form>'
    )
    return _page(lang, t["title"], [_about(lang, task), form, _p(t["decline_hint"], "muted")])


def said(locale: str, task: TaskSummary, what: str, **values: str) -> str:
    """A page after a move: ``set_off``, ``arrived``, ``recorded``, ``passed``,
    ``held``, ``closed``, ``refused``."""
    lang = supported_locale(locale)
    t = _TEXT[lang]
    return _page(lang, t[what].format(**values), [_about(lang, task), _p(t["help"], "muted")])
