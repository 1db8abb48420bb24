"""What a person reads about a dispatch task — zh-CN or en (pure).

* ``assigned`` — the task is yours: who, where, and your three links (check in,
  outcome, "I can't go"), each on its own line, last, so SMS previews show the what;
* ``taken`` — someone else took it: no need to go;
* ``moved`` — staff passed your task to someone else.
"""

from dataclasses import dataclass

from fleet.notify.templates import AlertMessage, kind_name, supported_locale

PURPOSES = ("assigned", "taken", "moved")


@dataclass(frozen=True, slots=True)
class TaskLinks:
    check_in: str
    outcome: str
    decline: str


def render_task(
    *,
    locale: str,
    purpose: str,
    kind: str,
    resident_name: str,
    where: str,
    holder: str,
    links: TaskLinks | None,
    target_min: int = 15,
) -> AlertMessage:
    lang = supported_locale(locale)
    what = kind_name(lang, kind)
    if lang == "zh-CN":
        place = where or "地址未登记"
        if purpose == "assigned":
            lines = [
                f"您已接单：{resident_name}（{place}）“{what}”。"
                f"请立即前往，目标 {target_min} 分钟内到达。"
            ]
            if links is not None:
                lines += [
                    f"出发 / 到达签到：{links.check_in}",
                    f"填写处置结果：{links.outcome}",
                    f"无法前往：{links.decline}",
                ]
            return AlertMessage(f"【银护派单】{resident_name}：{what}", "\n".join(lines))
        if purpose == "taken":
            return AlertMessage(
                f"【银护】{resident_name}：{what} 已有人接单",
                f"{resident_name}（{place}）的“{what}”警报已由 {holder} 接单，您无需前往。谢谢！",
            )
        return AlertMessage(
            f"【银护】{resident_name}：{what} 任务已转交",
            f"{resident_name}（{place}）的“{what}”任务已转交 {holder}，您无需再前往。",
        )
    place = where or "no address on file"
    if purpose == "assigned":
        lines = [
            f"This task is yours: {resident_name} ({place}), '{what}'. "
            f"Please go now; the target is to be there within {target_min} minutes."
        ]
        if links is not None:
            lines += [
                f"On my way / I'm here: {links.check_in}",
                f"Record the outcome: {links.outcome}",
                f"I can't go: {links.decline}",
            ]
        return AlertMessage(f"[Silverguard task] {resident_name}: {what}", "\n".join(lines))
    if purpose == "taken":
        return AlertMessage(
            f"[Silverguard] {resident_name}: {what} — taken",
            f"The '{what}' alert of {resident_name} ({place}) has been taken by {holder}. "
            "No need to go. Thank you!",
        )
    return AlertMessage(
        f"[Silverguard] {resident_name}: {what} — passed on",
        f"The '{what}' task of {resident_name} ({place}) has been passed to {holder}. "
        "No need to go.",
    )
