"""Synthetic wrist-accelerometer recordings of falls and daily activities.

Physically shaped, not learned from any dataset: a recording is a sequence of phases
(walking, sitting, a slip, a topple, an impact, lying, trying to get up), each giving
the gravity direction in the band and the dynamic acceleration on top of it. A
:class:`~firmware_mocks.sensor_model.SensorModel` samples it as a device would (any
rate, band-limited or aliased, clipped, turned, in g or m/s^2, with jitter, batches,
copies, losses and holes), and :func:`write_dataset` writes it in the layout
``silverguard falls evaluate`` reads, so the project's tests never need real data.

Falls: ``SF1`` tripping while walking, ``SF2`` toppling from a chair, ``SF3`` a trip
followed by attempts to get up. Daily activities: ``SA1`` walking, ``SA2`` sitting
down on a chair, ``SA3`` hitting a table while seated, ``SA4`` clapping (hands raised
from hanging), ``SA5`` jogging, ``SA6`` sitting still, ``SA7`` hopping, ``SA8`` lying
down on a bed.
"""

import csv
import random
from dataclasses import replace
from pathlib import Path

from firmware_mocks.motion_phases import Recorder, Vector, posture, slerp
from firmware_mocks.sensor_model import SensorModel

ACTIVITIES = {
    "SF1": "fall while walking (trip)",
    "SF2": "fall from a chair (topple)",
    "SF3": "fall while walking, then trying to get up",
    "SA1": "walking",
    "SA2": "sitting down on a chair",
    "SA3": "hitting a table while seated",
    "SA4": "clapping",
    "SA5": "jogging",
    "SA6": "sitting still",
    "SA7": "hopping",
    "SA8": "lying down on a bed",
}
FALLS = ("SF1", "SF2", "SF3")
ADLS = ("SA1", "SA2", "SA3", "SA4", "SA5", "SA6", "SA7", "SA8")

__all__ = ["ACTIVITIES", "ADLS", "FALLS", "Recorder", "SensorModel", "recording", "write_dataset"]


def _lying(rng: random.Random) -> Vector:
    # On the floor the forearm lies roughly flat, and the body has turned over: on its
    # side or back the wrist is rolled far from the face-up of a seated forearm.
    return posture(rng.uniform(-20, 25), rng.choice((-1, 1)) * rng.uniform(70, 180))


def _trip(r: Recorder, rng: random.Random) -> Vector:
    r.walk(rng.uniform(4, 6))
    lying = _lying(rng)
    r.rotate(rng.uniform(0.35, 0.5), slerp(r.last, lying, 0.7), magnitude_g=0.35)
    # The ground stops hand, knee and hip within 0.12-0.18 s (4.5-7 g at the wrist), then
    # the shoulder lands and the arm bounces.
    r.impact(
        rng.uniform(4.5, 7.0),
        rng.uniform(0.12, 0.18),
        lying,
        [(rng.uniform(0.1, 0.25), rng.uniform(2.2, 3.0)), (rng.uniform(0.3, 0.5), 1.8)],
    )
    return lying


def recording(activity: str, rng: random.Random) -> Recorder:
    """One recording of ``activity`` (a key of ACTIVITIES)."""
    r = Recorder(rng)
    seated = posture(rng.uniform(-15, 5), rng.uniform(-20, 20))
    if activity == "SF1":
        r.still(rng.uniform(6, 9), _trip(r, rng), tremor_g=0.02)
    elif activity == "SF2":
        r.still(rng.uniform(3, 5), seated)
        lying = _lying(rng)
        r.rotate(rng.uniform(0.8, 1.2), slerp(seated, lying, 0.5))
        r.rotate(0.3, slerp(seated, lying, 0.8), magnitude_g=0.4)
        # From seat height (0.5 m) the body lands at about 3 m/s: 4-6 g at the wrist.
        r.impact(
            rng.uniform(4.0, 6.0),
            rng.uniform(0.12, 0.18),
            lying,
            [(rng.uniform(0.1, 0.2), rng.uniform(2.2, 3.0)), (rng.uniform(0.3, 0.45), 1.8)],
        )
        r.still(rng.uniform(6, 9), lying, tremor_g=0.02)
    elif activity == "SF3":
        lying = _trip(r, rng)
        r.still(rng.uniform(0.6, 1.0), lying, tremor_g=0.02)
        r.struggle(rng.uniform(6, 9), lying)
    elif activity == "SA1":
        r.walk(rng.uniform(12, 18))
    elif activity == "SA2":
        r.walk(rng.uniform(4, 6))
        r.rotate(0.6, slerp(r.last, seated, 0.6), magnitude_g=0.85)
        r.impact(rng.uniform(1.5, 2.2), 0.15, seated, [])
        r.still(rng.uniform(6, 9), seated)
    elif activity == "SA3":
        r.still(rng.uniform(3, 5), seated)
        raised = posture(rng.uniform(30, 50), 0)
        r.rotate(0.4, raised, magnitude_g=1.3)
        r.rotate(0.15, seated, magnitude_g=1.8)  # the swing down is driven by muscles
        r.impact(rng.uniform(3.5, 5.0), 0.035, seated, [])
        r.still(rng.uniform(5, 8), seated)
    elif activity == "SA4":
        # Standing, arm hanging; the hands come up in front (a large change of posture,
        # as in a fall) and clap for a few seconds, then go down again.
        r.still(rng.uniform(2, 3), r.last)
        front = posture(rng.uniform(10, 30), rng.uniform(70, 110))
        r.rotate(0.5, front, magnitude_g=1.2)
        r.clap(rng.uniform(4, 6), front)  # applause lasts several seconds
        r.rotate(0.5, posture(-80, 0), magnitude_g=0.9)
        r.still(rng.uniform(2, 4), r.last)
    elif activity == "SA5":
        step = rng.uniform(2.6, 3.0)
        for _ in range(int(rng.uniform(12, 16) * step)):
            r.walk(1 / step - 0.03, step_hz=step, bounce_g=0.8)
            r.impact(rng.uniform(3.0, 4.2), 0.03, r.last, [])
    elif activity == "SA6":
        r.still(rng.uniform(12, 18), seated, tremor_g=0.015)
    elif activity == "SA7":
        hanging = posture(rng.uniform(-85, -65), rng.uniform(-30, 30))
        r.still(rng.uniform(2, 3), hanging)
        r.hop(rng.randrange(6, 12), hanging)
        r.still(rng.uniform(3, 5), hanging)
    elif activity == "SA8":
        # Sitting on the edge of the bed, then lying back: the forearm turns like in a
        # fall, but over a second or two, and the mattress takes the body softly.
        r.still(rng.uniform(3, 5), seated)
        lying = _lying(rng)
        r.rotate(rng.uniform(1.2, 2.0), slerp(seated, lying, 0.9), magnitude_g=0.9)
        # The trunk meets the mattress at about 1 m/s and sinks in over 0.2-0.3 s.
        r.impact(rng.uniform(1.6, 2.4), rng.uniform(0.2, 0.3), lying, [(0.1, 1.3)])
        r.still(rng.uniform(6, 9), lying, tremor_g=0.01)
    else:
        raise ValueError(f"unknown activity {activity!r}; use one of {', '.join(ACTIVITIES)}")
    return r


def write_dataset(
    directory: Path,
    *,
    per_activity: int = 5,
    rate_hz: float | None = None,
    seed: int = 1,
    jitter: float | None = None,
    sensor: SensorModel | None = None,
    activities: tuple[str, ...] = FALLS + ADLS,
) -> list[Path]:
    """Write a synthetic dataset (index.csv + data/*.csv); return the recordings' paths.

    ``sensor`` says how the recordings are sampled and delivered (``rate_hz`` and
    ``jitter`` override its rate and jitter). The index states the nominal rate.
    """
    sensor = sensor or SensorModel()
    if rate_hz is not None:
        sensor = replace(sensor, rate_hz=rate_hz)
    if jitter is not None:
        sensor = replace(sensor, jitter=jitter)
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    with (directory / "index.csv").open("w", newline="") as index:
        writer = csv.writer(index)
        writer.writerow(
            ["file", "subject", "activity", "activity_desc", "is_fall", "sample_rate_hz"]
        )
        for activity in activities:
            for trial in range(1, per_activity + 1):
                subject = f"S{rng.randrange(1, 6):02d}"
                name = f"data/{activity}_{subject}_R{trial:02d}.csv"
                samples = recording(activity, rng).record(sensor)
                with (directory / name).open("w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["t_s", "ax_g", "ay_g", "az_g"])
                    w.writerows(samples)
                writer.writerow(
                    [
                        name,
                        subject,
                        activity,
                        ACTIVITIES[activity],
                        int(activity in FALLS),
                        f"{sensor.rate_hz:g}",
                    ]
                )
                paths.append(directory / name)
    return paths
