"""The risk board (pure): ranking, changes since last week, the visit lists."""

from datetime import date, timedelta

from fleet.risk import board
from fleet.risk.board import Span

DAY = date(2026, 11, 20)
WEEK_AGO = DAY - timedelta(days=7)


def span(resident: str, tag: str, weight: int, since_days: int, until_days: int | None = None):
    until = None if until_days is None else DAY - timedelta(days=until_days)
    return Span(resident, tag, DAY - timedelta(days=since_days), until, weight)


def test_ranked_by_weight_with_whats_new_and_whats_gone():
    spans = [
        span("r-1", "lives_alone", 1, 100),
        span("r-1", "missed_doses", 3, 2),  # new this week
        span("r-1", "near_falls", 3, 20, until_days=1),  # held a week ago, gone now
        span("r-2", "fell_recently", 5, 3),
        span("r-2", "no_water_mornings", 4, 10),
        span("r-3", "lives_alone", 1, 300),
    ]
    residents = {"r-1": "w-a", "r-2": "w-a", "r-3": "w-b", "r-4": "w-b"}
    built = board.build(spans, residents, {}, DAY)
    assert [e.resident_id for e in built.entries] == ["r-2", "r-1", "r-3"]  # r-4: no tags
    r1 = next(e for e in built.entries if e.resident_id == "r-1")
    assert (r1.weight, r1.tags, r1.new, r1.gone) == (
        4,
        ("missed_doses", "lives_alone"),
        ("missed_doses",),
        ("near_falls",),
    )
    r2 = built.entries[0]
    assert r2.new == ("fell_recently",)  # no_water began 10 days ago: not new


def test_the_visit_list_per_worker_leaves_out_the_visited_and_the_light():
    spans = [
        span("r-1", "fell_recently", 5, 3),  # one urgent tag: visit
        span("r-2", "missed_doses", 3, 5),
        span("r-2", "repeated_sos", 3, 5),  # weight 6: visit
        span("r-3", "lives_alone", 1, 300),  # light: no visit
        span("r-4", "no_water_mornings", 4, 1),  # urgent, but visited 3 days ago
        span("r-5", "fell_recently", 5, 1),  # no grid worker
    ]
    residents = {"r-1": "w-a", "r-2": "w-a", "r-3": "w-a", "r-4": "w-b", "r-5": None}
    visited = {"r-4": DAY - timedelta(days=3), "r-1": DAY - timedelta(days=8)}
    built = board.build(spans, residents, visited, DAY)
    assert built.visits == {"w-a": ("r-2", "r-1"), None: ("r-5",)}
    r4 = next(e for e in built.entries if e.resident_id == "r-4")
    assert (r4.needs_visit, r4.visited_on) == (False, DAY - timedelta(days=3))


def test_residents_of_other_communities_are_not_on_the_board():
    built = board.build([span("r-9", "fell_recently", 5, 1)], {"r-1": None}, {}, DAY)
    assert built.entries == ()
