"""Risk tags (风险标签): the table (fleet/risk/tags.toml, data staff can read) and the
pure evaluator that turns one resident's facts of a day into tags with evidence.

A tag holds when its fact passes its threshold. Each tag found carries its evidence
(the fact's value, in both languages) and the day since which it has held without a
break (carried over from the day before, else today). There is no score without the
tags behind it: :func:`weight` only orders the board, and the board shows the tags.
"""

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from fleet.risk.facts import FACTS, Facts, FactValue

TABLE = Path(__file__).parent / "tags.toml"
SOURCES = ("band", "medication", "meters", "alerts", "registry", "reports")
Op = Literal[">=", "<=", "is"]


class TagTableError(ValueError):
    """A tags file that cannot be used; the message names the tag and the problem."""


@dataclass(frozen=True, slots=True)
class Tag:
    id: str
    source: str
    fact: str
    op: Op
    threshold: float | bool
    weight: int
    name_zh: str
    name_en: str
    evidence_zh: str
    evidence_en: str

    def holds(self, value: FactValue) -> bool:
        if value is None:
            return False  # no data is not a risk, and not an all-clear either
        if self.op == "is":
            return bool(value) is self.threshold
        number = float(value)
        if self.op == ">=":
            return number >= float(self.threshold)
        return number <= float(self.threshold)


@dataclass(frozen=True, slots=True)
class TagHit:
    tag: str
    value: FactValue
    since: date
    evidence_zh: str
    evidence_en: str
    weight: int


def _fmt(value: FactValue) -> str:
    if isinstance(value, float):
        return f"{value:.0%}" if 0 <= value <= 1 else f"{value:g}"
    return str(value)


def load(path: Path = TABLE) -> tuple[Tag, ...]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TagTableError(f"{path}: {exc}") from None
    tags: list[Tag] = []
    for n, entry in enumerate(raw.get("tag", []), start=1):
        where = f"{path.name}, tag {n} ({entry.get('id', '?')})"
        try:
            tag = Tag(
                id=str(entry["id"]),
                source=str(entry["source"]),
                fact=str(entry["fact"]),
                op=entry["op"],
                threshold=entry["threshold"],
                weight=int(entry["weight"]),
                name_zh=str(entry["name_zh"]),
                name_en=str(entry["name_en"]),
                evidence_zh=str(entry["evidence_zh"]),
                evidence_en=str(entry["evidence_en"]),
            )
        except KeyError as exc:
            raise TagTableError(f"{where}: missing {exc}") from None
        if tag.source not in SOURCES:
            raise TagTableError(f"{where}: source must be one of {', '.join(SOURCES)}")
        if tag.fact not in FACTS:
            raise TagTableError(f"{where}: unknown fact {tag.fact!r}; known: {', '.join(FACTS)}")
        if tag.op not in (">=", "<=", "is"):
            raise TagTableError(f"{where}: op must be >=, <= or is")
        if (tag.op == "is") != isinstance(tag.threshold, bool):
            raise TagTableError(f"{where}: 'is' takes true/false, >= and <= take a number")
        if any(t.id == tag.id for t in tags):
            raise TagTableError(f"{where}: the id is used twice")
        tags.append(tag)
    return tuple(tags)


def evaluate(
    table: Sequence[Tag],
    facts: Facts,
    today: date,
    previous: Mapping[str, date] | None = None,
) -> list[TagHit]:
    """The tags that hold for these facts, heaviest first. ``previous``: the tags that
    held yesterday and since when, so a tag that goes on holding keeps its date."""
    previous = previous or {}
    hits = []
    for tag in table:
        value = facts.value(tag.fact)
        if not tag.holds(value):
            continue
        values = {
            "value": _fmt(value),
            "threshold": _fmt(tag.threshold) if not isinstance(tag.threshold, bool) else "",
            "sources": "、".join(facts.report_sources) or "—",
        }
        hits.append(
            TagHit(
                tag=tag.id,
                value=value,
                since=previous.get(tag.id, today),
                evidence_zh=tag.evidence_zh.format(**values),
                evidence_en=tag.evidence_en.format(
                    **{**values, "sources": ", ".join(facts.report_sources) or "—"}
                ),
                weight=tag.weight,
            )
        )
    hits.sort(key=lambda h: (-h.weight, h.tag))
    return hits


def weight(hits: Sequence[TagHit]) -> int:
    """The order of the board: the sum of the tags' weights (shown with the tags)."""
    return sum(h.weight for h in hits)
