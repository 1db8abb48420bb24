"""Risk tags (pure): the table in fleet/risk/tags.toml, and the evaluator's tags with
evidence and since-dates."""

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from fleet.risk import tags
from fleet.risk.facts import FACTS, Facts

TABLE = tags.load()
DAY = date(2026, 11, 20)


def by_id(hits: list[tags.TagHit]) -> dict[str, tags.TagHit]:
    return {h.tag: h for h in hits}


def test_the_table_has_at_least_12_tags_from_every_source_in_both_languages():
    assert len(TABLE) >= 12
    assert {t.source for t in TABLE} == set(tags.SOURCES)
    for tag in TABLE:
        assert tag.fact in FACTS
        assert all((tag.name_zh, tag.name_en, tag.evidence_zh, tag.evidence_en)), tag.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in tag.name_zh), tag.id


def test_nothing_known_no_tags():
    assert tags.evaluate(TABLE, Facts(), DAY) == []


def test_each_tag_says_why_with_the_value():
    facts = Facts(
        falls_30d=2,
        activity_ratio_7d=0.55,
        missed_doses_7d=3,
        no_water_mornings_7d=2,
        lives_alone=True,
        age=84,
        conditions=1,
        dementia=False,
        reports_30d=1,
        report_sources=("hotline",),
    )
    hits = by_id(tags.evaluate(TABLE, facts, DAY))
    assert set(hits) == {
        "fell_recently",
        "activity_declining",
        "missed_doses",
        "no_water_mornings",
        "lives_alone",
        "aged_80_plus",
        "outside_concern",
    }
    assert hits["fell_recently"].evidence_zh == "近 30 天跌倒 2 次"
    assert hits["activity_declining"].evidence_en == (
        "last 7 days' daily steps are 55% of the resident's own baseline (threshold 60%)"
    )
    assert hits["aged_80_plus"].evidence_zh == "84 岁"
    assert hits["outside_concern"].evidence_en == "1 report(s) in 30 days (from: hotline)"
    assert all(h.since == DAY for h in hits.values())


def test_a_tag_that_goes_on_holding_keeps_its_date_and_a_new_one_starts_today():
    before = {"fell_recently": date(2026, 11, 2), "missed_doses": date(2026, 11, 1)}
    hits = by_id(tags.evaluate(TABLE, Facts(falls_30d=1, sos_30d=3), DAY, before))
    assert hits["fell_recently"].since == date(2026, 11, 2)
    assert hits["repeated_sos"].since == DAY
    assert "missed_doses" not in hits


@pytest.mark.parametrize(
    ("facts", "tag", "holds"),
    [
        (Facts(activity_ratio_7d=0.6), "activity_declining", True),
        (Facts(activity_ratio_7d=0.61), "activity_declining", False),
        (Facts(near_falls_30d=1), "near_falls", False),
        (Facts(near_falls_30d=2), "near_falls", True),
        (Facts(lives_alone=False), "lives_alone", False),
        (Facts(dementia=True), "dementia_noted", True),
        (Facts(age=79), "aged_80_plus", False),
    ],
)
def test_thresholds_are_inclusive(facts: Facts, tag: str, holds: bool):
    assert (tag in by_id(tags.evaluate(TABLE, facts, DAY))) is holds


def test_heaviest_first_and_the_weight_is_the_sum():
    hits = tags.evaluate(TABLE, Facts(falls_30d=1, lives_alone=True, missed_doses_7d=2), DAY)
    assert [h.tag for h in hits] == ["fell_recently", "missed_doses", "lives_alone"]
    assert tags.weight(hits) == 5 + 3 + 1


def test_a_broken_table_is_refused_with_the_tag_named(tmp_path: Path):
    good = (Path(tags.__file__).parent / "tags.toml").read_text(encoding="utf-8")
    bad = tmp_path / "tags.toml"
    bad.write_text(good.replace('fact = "falls_30d"', 'fact = "falls_per_fortnight"'), "utf-8")
    with pytest.raises(tags.TagTableError, match=r"fell_recently.*unknown fact"):
        tags.load(bad)
    bad.write_text(
        good.replace('op = "is"\nthreshold = true', 'op = "is"\nthreshold = 1', 1), "utf-8"
    )
    with pytest.raises(tags.TagTableError, match=r"lives_alone.*true/false"):
        tags.load(bad)
    bad.write_text(good.replace('id = "near_falls"', 'id = "fell_recently"'), "utf-8")
    with pytest.raises(tags.TagTableError, match="used twice"):
        tags.load(bad)


def test_facts_without_data_are_missing_not_fine():
    base = Facts(falls_30d=0)
    assert tags.evaluate(TABLE, replace(base, activity_ratio_7d=None), DAY) == []
