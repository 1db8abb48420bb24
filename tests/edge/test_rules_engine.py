"""The rule engine behind the pipeline: real adverts in, stored events out."""

from pathlib import Path

from contract import Event, EventKind, Severity, decode
from contract.rules import GatewayRules
from edge.decode.bthome import BTHomeDecoder
from edge.outbox import Outbox
from edge.pipeline import Pipeline
from edge.rules.config import BandBinding, RulesConfig
from edge.rules.engine import RuleEngine
from firmware_mocks.wristband import Button, MotionSummary
from tests.factories import KEY, MAC, advert_from, wristband


class Clock:
    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pipeline(tmp_path: Path, clock: Clock, name: str = "gw-01") -> Pipeline:
    rules = RuleEngine(name, RulesConfig.build(GatewayRules(), [], {MAC: BandBinding("r-1")}))
    return Pipeline(
        name, BTHomeDecoder({MAC: KEY}), Outbox(tmp_path / f"{name}.db"), clock=clock, rules=rules
    )


def stored(p: Pipeline) -> list[Event]:
    return [decode(e.payload, Event) for e in p.outbox.pending("event")]


def second(p: Pipeline, clock: Clock, band: object, motion: MotionSummary | None = None) -> None:
    clock.t += 1.0
    p.on_advert(advert_from(band, motion))  # type: ignore[arg-type]
    p.on_tick()


def test_the_bands_fall_flag_is_stored_as_one_critical_fall_after_the_window(tmp_path: Path):
    clock = Clock()
    p = pipeline(tmp_path, clock)
    band = wristband()
    band.flag_fall()
    for _ in range(29):
        second(p, clock, band)
    assert stored(p) == []  # the resident may still cancel
    for _ in range(5):
        second(p, clock, band)
    (fall,) = stored(p)
    assert fall.kind is EventKind.FALL
    assert fall.severity is Severity.CRITICAL


def test_a_short_press_in_the_window_stores_only_the_near_miss(tmp_path: Path):
    clock = Clock()
    p = pipeline(tmp_path, clock)
    band = wristband()
    band.flag_fall()
    for _ in range(10):
        second(p, clock, band)
    band.press(Button.SHORT)
    for _ in range(40):
        second(p, clock, band)
    assert [e.kind for e in stored(p)] == [EventKind.FALL_CANCELLED]


def test_a_fall_seen_by_two_gateways_is_one_id(tmp_path: Path):
    clock = Clock()
    near, far = pipeline(tmp_path, clock, "gw-01"), pipeline(tmp_path, clock, "gw-02")
    band = wristband()
    band.flag_fall()
    for i in range(35):
        clock.t += 1.0
        advert = advert_from(band)
        near.on_advert(advert)
        if i >= 2:  # the first two copies never reached gw-02
            far.on_advert(advert)
        near.on_tick()
        far.on_tick()
    (a,), (b,) = stored(near), stored(far)
    assert a.id == b.id
    assert a.kind is b.kind is EventKind.FALL


def test_out_of_order_adverts_are_refused_before_the_rules_see_them(tmp_path: Path):
    clock = Clock()
    p = pipeline(tmp_path, clock)
    band = wristband()
    band.flag_fall()
    first = advert_from(band)
    later = advert_from(band)
    p.on_advert(later)
    p.on_advert(first)  # arrives late through a slow path: refused as a replay
    assert p.rejects["replay"] == 1
    for _ in range(35):
        second(p, clock, band)
    assert [e.kind for e in stored(p)] == [EventKind.FALL]
