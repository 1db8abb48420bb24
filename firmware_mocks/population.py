"""Many simulated wristbands on the simulated air, each advertising once per interval.

The skeleton's residents potter about at random; docs/wristband-profile.md and the
daily-routine model build on this.
"""

import asyncio
import random
import secrets
from dataclasses import dataclass, field

from firmware_mocks.air import Air
from firmware_mocks.wristband import Button, MotionSummary, Wristband


def random_mac(rng: random.Random) -> str:
    # A locally administered unicast prefix, so simulated MACs never collide with vendors'.
    octets = [0xC2, *(rng.randrange(256) for _ in range(5))]
    return ":".join(f"{o:02X}" for o in octets)


@dataclass
class SimulatedBand:
    band: Wristband
    x: float
    y: float
    rng: random.Random = field(default_factory=random.Random)

    def motion(self) -> MotionSummary:
        moving = self.rng.random() < 0.3
        peak = 1.0 + (self.rng.random() * 0.8 if moving else self.rng.random() * 0.05)
        return MotionSummary(peak_g=peak, tilt_deg=self.rng.uniform(-60, 30), moving=moving)

    def advertise(self, air: Air) -> int:
        if self.rng.random() < 0.001:
            self.band.battery = max(0, self.band.battery - 1)
        if self.rng.random() < 0.3:
            self.band.steps += self.rng.randrange(1, 6)
        return air.transmit(self.band.mac, self.x, self.y, self.band.next_advert(self.motion()))


class Population:
    def __init__(self, air: Air, bands: list[SimulatedBand], interval_s: float = 1.0) -> None:
        self.air = air
        self.bands = bands
        self.interval_s = interval_s
        self.by_mac = {b.band.mac: b for b in bands}
        self.adverts = 0

    @classmethod
    def generate(
        cls,
        air: Air,
        count: int,
        *,
        area_m: tuple[float, float] = (60.0, 40.0),
        seed: int = 1,
        interval_s: float = 1.0,
    ) -> "Population":
        rng = random.Random(seed)
        bands = []
        for i in range(count):
            band = Wristband(
                random_mac(rng), secrets.token_bytes(16), counter=rng.randrange(1, 1000)
            )
            band.battery = rng.randrange(40, 101)
            bands.append(
                SimulatedBand(
                    band,
                    rng.uniform(0, area_m[0]),
                    rng.uniform(0, area_m[1]),
                    random.Random(seed * 7919 + i),
                )
            )
        return cls(air, bands, interval_s)

    def press(self, mac: str, button: Button = Button.LONG) -> None:
        sim = self.by_mac[mac]
        sim.band.press(button)
        # A band sends an event at once rather than waiting for its next slot.
        sim.advertise(self.air)
        self.adverts += 1

    async def run(self) -> None:
        """Advertise forever, spreading the bands evenly over each interval."""
        if not self.bands:
            await asyncio.Event().wait()
        gap = self.interval_s / len(self.bands)
        while True:
            for sim in self.bands:
                sim.advertise(self.air)
                self.adverts += 1
                await asyncio.sleep(gap)
