"""The fall rule: flag or summaries -> confirmation window -> FALL or FALL_CANCELLED."""

from hypothesis import given, settings
from hypothesis import strategies as st

from contract import Event, EventKind, Severity, event_id
from contract.rules import FallSettings, GatewayRules
from edge.decode.profile import BandEventKind
from edge.rules.config import RulesConfig
from edge.rules.engine import RuleEngine
from tests.factories import MAC, event_frame, motion_frame

T0 = 1_790_000_000.0
FLAG = BandEventKind.FALL_FLAG
PRESS = BandEventKind.SHORT_PRESS


def engine(gateway: str = "gw-01", **fall: float | bool) -> RuleEngine:
    rules = GatewayRules(fall=FallSettings(**fall))  # type: ignore[arg-type]
    return RuleEngine(gateway, RulesConfig(rules=rules))


def kinds(events: list[Event]) -> list[EventKind]:
    return [e.kind for e in events]


class Run:
    """Feeds a band's adverts (one a second) and ticks to an engine."""

    def __init__(self, rules: RuleEngine, counter: int = 5000, t: float = T0) -> None:
        self.rules = rules
        self.counter = counter
        self.t = t
        self.events: list[Event] = []

    def advert(self, dt: float = 1.0, **frame: object) -> None:
        self.t += dt
        self.counter += 1
        self.events += self.rules.on_frame(motion_frame(self.counter, **frame), self.t)  # type: ignore[arg-type]

    def band_event(self, kind: BandEventKind, dt: float = 1.0, age: int = 0) -> int:
        self.t += dt
        self.counter += 1
        self.events += self.rules.on_frame(event_frame(self.counter, kind, age), self.t)
        return self.counter - age

    def tick(self, dt: float = 1.0) -> None:
        self.t += dt
        self.events += self.rules.on_tick(self.t)

    def idle(self, seconds: int, **frame: object) -> None:
        for _ in range(seconds):
            self.advert(**frame)
            self.events += self.rules.on_tick(self.t)


def test_a_fall_flag_becomes_a_critical_fall_when_nobody_cancels():
    run = Run(engine())
    run.idle(5)
    origin = run.band_event(FLAG)
    flagged_at = run.t
    run.idle(29)
    assert run.events == []  # the window is still open
    run.idle(2)
    (fall,) = run.events
    assert fall.kind is EventKind.FALL
    assert fall.severity is Severity.CRITICAL
    assert fall.id == event_id(MAC, EventKind.FALL, origin)
    assert fall.evidence["source"] == "band"
    assert fall.evidence["suspected_at"] == flagged_at
    assert fall.detected_at - flagged_at >= 30


def test_a_press_one_second_before_the_window_closes_cancels():
    run = Run(engine())
    run.idle(3)
    origin = run.band_event(FLAG)
    run.idle(28)  # 28 s after the flag
    run.band_event(PRESS)  # 29 s after the flag: one second left
    (cancelled,) = run.events
    assert cancelled.kind is EventKind.FALL_CANCELLED
    assert cancelled.severity is Severity.LOW
    assert cancelled.id == event_id(MAC, EventKind.FALL_CANCELLED, origin)
    run.idle(60)
    assert kinds(run.events) == [EventKind.FALL_CANCELLED]


def test_a_press_one_second_after_the_window_closed_is_too_late():
    run = Run(engine())
    run.idle(3)
    run.band_event(FLAG)
    run.advert(dt=31.0)  # no tick ran in between: the advert itself closes the window
    run.band_event(PRESS)
    assert kinds(run.events) == [EventKind.FALL]


def test_a_press_sent_before_the_fall_does_not_cancel_it():
    run = Run(engine())
    run.band_event(PRESS)
    run.band_event(FLAG)
    run.band_event(PRESS, age=3)  # a late copy of the earlier press: same origin
    run.idle(31)
    assert kinds(run.events) == [EventKind.FALL]


def test_copies_of_one_flag_open_one_window_and_a_later_fall_a_second():
    run = Run(engine())
    first = run.band_event(FLAG)
    for age in range(1, 5):
        run.band_event(FLAG, age=age)
    run.idle(40)
    second = run.band_event(FLAG)
    run.idle(40)
    assert [e.id for e in run.events] == [
        event_id(MAC, EventKind.FALL, first),
        event_id(MAC, EventKind.FALL, second),
    ]


def test_two_gateways_give_one_id_even_when_one_lost_the_first_copies():
    near, far = Run(engine("gw-01")), Run(engine("gw-02"))
    origin = near.band_event(FLAG)
    far.counter = near.counter + 2  # the first two copies never reached gw-02
    far.band_event(FLAG, age=3)
    near.idle(31)
    far.idle(31)
    (a,), (b,) = near.events, far.events
    assert a.id == b.id == event_id(MAC, EventKind.FALL, origin)
    assert a.gateway != b.gateway


def test_lost_adverts_during_the_window_change_nothing():
    run = Run(engine())
    run.band_event(FLAG)
    run.counter += 10  # ten adverts lost on the way
    run.advert(dt=10.0)
    run.tick(dt=21.0)
    assert kinds(run.events) == [EventKind.FALL]


def test_the_window_length_comes_from_config_and_changes_at_run_time():
    rules = engine(confirm_window_s=5)
    run = Run(rules)
    run.band_event(FLAG)
    run.idle(6)
    assert kinds(run.events) == [EventKind.FALL]
    rules.set_config(RulesConfig(rules=GatewayRules(fall=FallSettings(confirm_window_s=60))))
    run.band_event(FLAG)
    run.idle(30)
    assert kinds(run.events) == [EventKind.FALL]  # the new window is a minute long
    run.idle(31)
    assert kinds(run.events) == [EventKind.FALL, EventKind.FALL]


def test_a_clock_step_backwards_keeps_the_time_left_in_the_window():
    run = Run(engine())
    run.band_event(FLAG)
    run.idle(10)
    run.t -= 3600  # NTP stepped the clock back an hour
    run.idle(19)
    assert run.events == []
    run.idle(2)
    assert kinds(run.events) == [EventKind.FALL]


def test_a_clock_step_forwards_does_not_eat_the_residents_time_to_cancel():
    run = Run(engine())
    run.band_event(FLAG)
    run.idle(10)
    run.t += 10 * 365 * 86400  # a Pi without a real-time clock gets its first NTP answer
    run.idle(15)
    run.band_event(PRESS)
    assert kinds(run.events) == [EventKind.FALL_CANCELLED]


# -- the gateway's own detection from the summaries ----------------------------------


def test_an_impact_then_a_new_posture_held_still_is_a_fall():
    run = Run(engine())
    run.idle(5, tilt_deg=-70.0, moving=True, peak_g=1.4)  # walking, arm hanging
    run.advert(peak_g=4.2, moving=True, tilt_deg=-30.0)
    impact_counter = run.counter
    run.idle(2, moving=True, tilt_deg=5.0, roll_deg=120.0)  # rolling over
    run.idle(12, tilt_deg=5.0, roll_deg=120.0)  # lying still, on the side
    assert run.rules.take_suspected()[0].source == "summaries"
    run.idle(31, tilt_deg=5.0, roll_deg=120.0)
    (fall,) = run.events
    assert fall.kind is EventKind.FALL
    assert fall.id == event_id(MAC, EventKind.FALL, impact_counter)
    assert fall.evidence["posture_change_deg"] >= 45
    assert fall.occurred_at == fall.evidence["impact_at"]


def test_an_impact_then_the_same_posture_is_sitting_down_not_a_fall():
    run = Run(engine())
    run.idle(5, tilt_deg=-10.0, moving=True, peak_g=1.2)
    run.advert(peak_g=3.5, moving=True, tilt_deg=-10.0)
    run.idle(60, tilt_deg=-5.0)
    assert run.events == []


def test_an_impact_then_getting_up_and_walking_on_is_not_a_fall():
    run = Run(engine())
    run.idle(5, tilt_deg=-70.0, moving=True, peak_g=1.4)
    run.advert(peak_g=5.0, moving=True)
    run.idle(60, tilt_deg=-70.0, moving=True, peak_g=1.4)
    assert run.events == []


def test_summary_detection_can_be_switched_off():
    run = Run(engine(summary_detection=False))
    run.idle(5, tilt_deg=-70.0, moving=True, peak_g=1.4)
    run.advert(peak_g=4.2, moving=True)
    run.idle(60, tilt_deg=5.0, roll_deg=120.0)
    assert run.events == []


def test_a_flag_for_a_fall_the_summaries_saw_first_gives_the_flags_id():
    run = Run(engine(still_s=2.0))
    run.idle(5, tilt_deg=-70.0, moving=True, peak_g=1.4)
    run.advert(peak_g=4.2, moving=True)
    run.idle(3, tilt_deg=5.0, roll_deg=120.0)
    assert [s.source for s in run.rules.take_suspected()] == ["summaries"]
    origin = run.band_event(FLAG)
    run.idle(31)
    (fall,) = run.events
    assert fall.id == event_id(MAC, EventKind.FALL, origin)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["advert", "flag", "flag_copy", "press", "tick", "lost", "jump"]),
            st.floats(0.0, 20.0),
        ),
        max_size=80,
    )
)
def test_every_flag_ends_in_exactly_one_outcome_whatever_the_order(
    steps: list[tuple[str, float]],
):
    run = Run(engine())
    flags: set[int] = set()
    for step, dt in steps:
        if step == "advert":
            run.advert(dt=dt)
        elif step == "flag":
            flags.add(run.band_event(FLAG, dt=dt))
        elif step == "flag_copy" and flags:
            run.band_event(FLAG, dt=dt, age=run.counter + 1 - max(flags))
        elif step == "press":
            run.band_event(PRESS, dt=dt)
        elif step == "tick":
            run.tick(dt=dt)
        elif step == "lost":
            run.counter += int(dt)
        elif step == "jump":
            run.t += (dt - 10.0) * 1000  # the clock steps either way
    for _ in range(32):  # the window's 30 s, in ticks (a single call could be a clock step)
        run.tick(dt=1.0)
    outcomes = [e for e in run.events if e.kind in (EventKind.FALL, EventKind.FALL_CANCELLED)]
    assert len({e.id for e in outcomes}) == len(outcomes)  # nothing twice
    # A flag raised while a window was open joins it; every window ends exactly once.
    assert 1 <= len(outcomes) <= len(flags) or (not flags and not outcomes)
    assert not run.rules.fall.window_open(MAC)
