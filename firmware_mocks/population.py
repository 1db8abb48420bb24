"""A community of simulated residents wearing wristbands, on the simulated air.

Each resident lives a daily routine (firmware_mocks.routine): asleep at night, about
the flat by day, sometimes out of the gateways' range. Their band advertises once per
interval (with the few milliseconds of random delay BLE adds to every advert), its
battery drains at the band's own rate (a few drain abnormally fast), and scripted
incidents — SOS, a fall, the band taken off — happen on cue.
"""

import asyncio
import heapq
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from firmware_mocks.air import Air
from firmware_mocks.routine import Activity, Routine
from firmware_mocks.wristband import Button, MotionSummary, Wristband

# Average band lasts about three months on a charge-free coin cell.
NORMAL_DRAIN_PCT_PER_DAY = 1.1
ABNORMAL_SHARE = 0.05  # bands with a fault (stuck radio, bad cell) that drain ~4x faster


class Incident(StrEnum):
    SOS = "sos"
    FALL = "fall"
    TAKE_OFF = "take_off"
    PUT_ON = "put_on"


def random_mac(rng: random.Random) -> str:
    # A locally administered unicast prefix, so simulated MACs never collide with vendors'.
    octets = [0xC2, *(rng.randrange(256) for _ in range(5))]
    return ":".join(f"{o:02X}" for o in octets)


def district_layout(
    bands: int, gateways: int, *, spacing_m: float = 18.0, seed: int = 1
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Gateways on a grid ``spacing_m`` apart, homes spread over the area they cover.

    With the default radio model a gateway hears a band up to about 20 m away, so at
    18 m spacing most homes are heard by two or more gateways: the overlaps the fleet's
    best-source selection has to handle.
    """
    rng = random.Random(seed)
    cols = max(1, math.ceil(math.sqrt(gateways)))
    rows = max(1, math.ceil(gateways / cols))
    gateway_positions = [((i % cols) * spacing_m, (i // cols) * spacing_m) for i in range(gateways)]
    width = max(spacing_m * 0.5, (cols - 1) * spacing_m)
    height = max(spacing_m * 0.5, (rows - 1) * spacing_m)
    homes = [(rng.uniform(-2, width + 2), rng.uniform(-2, height + 2)) for _ in range(bands)]
    return homes, gateway_positions


@dataclass
class SimulatedBand:
    """One resident and the band on their wrist."""

    band: Wristband
    x: float
    y: float
    rng: random.Random = field(default_factory=random.Random)
    routine: Routine | None = None
    drain_pct_per_day: float = NORMAL_DRAIN_PCT_PER_DAY
    battery_start: float = 100.0
    born: float = field(default_factory=time.time)
    worn: bool = True
    lying_since: float | None = None  # after a fall: on the floor, still
    forced: MotionSummary | None = None  # next summary to send (an impact)

    @property
    def home(self) -> tuple[float, float]:
        return self.x, self.y

    def activity(self, now: float) -> Activity:
        if self.lying_since is not None:
            return Activity.SITTING  # at home, not moving (see motion())
        return self.routine.activity_at(now) if self.routine else Activity.SITTING

    def motion(self, now: float | None = None) -> MotionSummary:
        now = time.time() if now is None else now
        if self.forced is not None:
            forced, self.forced = self.forced, None
            return forced
        if self.lying_since is not None or not self.worn:
            # On the floor, or on the bedside table: only sensor noise.
            return MotionSummary(peak_g=1.0 + self.rng.random() * 0.02, tilt_deg=2.0, moving=False)
        activity = self.activity(now)
        r = self.rng.random()
        if activity is Activity.SLEEP:
            moving = r < 0.03
            return MotionSummary(
                1.0 + (0.2 if moving else 0.02) * self.rng.random(),
                self.rng.uniform(-15, 15),
                moving,
            )
        if activity in (Activity.WALKING, Activity.BATHROOM):
            moving = r < 0.8
            # Arm swinging at the side while walking: 1.2-1.8 g peaks, forearm hanging.
            return MotionSummary(1.1 + self.rng.random() * 0.7, self.rng.uniform(-75, -35), moving)
        moving = r < 0.2
        return MotionSummary(
            1.0 + (0.4 if moving else 0.03) * self.rng.random(), self.rng.uniform(-35, 15), moving
        )

    def update(self, now: float) -> None:
        days = (now - self.born) / 86400
        self.band.battery = max(0, round(self.battery_start - self.drain_pct_per_day * days))
        self.band.worn = self.worn
        if self.worn and self.lying_since is None and self.activity(now) is Activity.WALKING:
            self.band.steps += self.rng.randrange(0, 3)

    def in_range(self, now: float) -> bool:
        return self.lying_since is not None or self.activity(now) is not Activity.OUT

    def advertise(self, air: Air, now: float | None = None) -> int:
        now = time.time() if now is None else now
        self.update(now)
        payload = self.band.next_advert(self.motion(now))
        if not self.in_range(now):
            return 0  # the band still counts its adverts; no gateway hears them
        return air.transmit(self.band.mac, self.x, self.y, payload)


class Population:
    def __init__(self, air: Air, bands: list[SimulatedBand], interval_s: float = 1.0) -> None:
        self.air = air
        self.bands = bands
        self.interval_s = interval_s
        self.by_mac = {b.band.mac: b for b in bands}
        self.adverts = 0
        self._script: list[tuple[float, int, str, Incident]] = []
        self._script_seq = 0
        self.clock: Callable[[], float] = time.time

    @classmethod
    def generate(
        cls,
        air: Air,
        count: int,
        *,
        area_m: tuple[float, float] = (60.0, 40.0),
        homes: list[tuple[float, float]] | None = None,
        seed: int = 1,
        interval_s: float = 1.0,
        routines: bool = True,
    ) -> "Population":
        """``count`` residents at random homes in ``area_m`` (or at the ``homes`` given)."""
        rng = random.Random(seed)
        bands = []
        for i in range(count):
            band = Wristband(random_mac(rng), rng.randbytes(16), counter=rng.randrange(1, 1000))
            abnormal = rng.random() < ABNORMAL_SHARE
            drain = rng.gauss(NORMAL_DRAIN_PCT_PER_DAY, 0.2) * (4.0 if abnormal else 1.0)
            x, y = homes[i] if homes else (rng.uniform(0, area_m[0]), rng.uniform(0, area_m[1]))
            bands.append(
                SimulatedBand(
                    band,
                    x,
                    y,
                    random.Random(seed * 7919 + i),
                    routine=Routine(seed * 7919 + i) if routines else None,
                    drain_pct_per_day=max(0.3, drain),
                    battery_start=rng.uniform(40, 100),
                )
            )
        return cls(air, bands, interval_s)

    # -- incidents ----------------------------------------------------------------------

    def press(self, mac: str, button: Button = Button.LONG) -> None:
        sim = self.by_mac[mac]
        sim.band.press(button)
        # A band sends an event at once rather than waiting for its next slot.
        sim.advertise(self.air, self.clock())
        self.adverts += 1

    def fall(self, mac: str, *, flag: bool = True) -> None:
        """The resident falls: an impact, then lying still; the band's detector may flag it."""
        sim = self.by_mac[mac]
        sim.forced = MotionSummary(peak_g=3.2, tilt_deg=-10.0, moving=True)
        sim.lying_since = self.clock()
        if flag:
            sim.band.flag_fall()
        sim.advertise(self.air, self.clock())
        self.adverts += 1

    def get_up(self, mac: str) -> None:
        self.by_mac[mac].lying_since = None

    def take_off(self, mac: str) -> None:
        self.by_mac[mac].worn = False

    def put_on(self, mac: str) -> None:
        self.by_mac[mac].worn = True

    def schedule(self, at: float, mac: str, incident: Incident) -> None:
        """Make ``incident`` happen to ``mac`` at ``at`` (population clock) while running."""
        self._script_seq += 1
        heapq.heappush(self._script, (at, self._script_seq, mac, incident))

    def _run_script(self, now: float) -> None:
        while self._script and self._script[0][0] <= now:
            _, _, mac, incident = heapq.heappop(self._script)
            if incident is Incident.SOS:
                self.press(mac, Button.LONG)
            elif incident is Incident.FALL:
                self.fall(mac)
            elif incident is Incident.TAKE_OFF:
                self.take_off(mac)
            else:
                self.put_on(mac)

    # -- running ------------------------------------------------------------------------

    async def run(self, tick_s: float = 0.02) -> None:
        """Advertise forever: each band once per interval, at its own phase, plus the
        0-10 ms random advDelay BLE adds to every advertising event."""
        rng = random.Random(len(self.bands))
        start = time.monotonic()
        due = [(start + rng.uniform(0, self.interval_s), i) for i in range(len(self.bands))]
        heapq.heapify(due)
        while True:
            now_mono = time.monotonic()
            now = self.clock()
            self._run_script(now)
            while due and due[0][0] <= now_mono:
                slot, i = heapq.heappop(due)
                self.bands[i].advertise(self.air, now)
                self.adverts += 1
                heapq.heappush(due, (slot + self.interval_s + rng.uniform(0, 0.01), i))
            await asyncio.sleep(tick_s)
