"""One recording through what happens in the field, end to end.

1. the band's firmware step (firmware_mocks.motion) at the band's own rate:
   resampling, the full-rate fall detector, one motion summary per advert interval;
2. the band's radio (firmware_mocks.wristband): encrypted BTHome adverts, the fall
   flag repeated with its age;
3. the gateway: the real decoder (bthome-ble plus our replay check), the wristband
   profile, and the rule engine's fall rule (flag or summaries) with the resident's
   fall settings.

The band's rate is the rate the recording was made at (by its own timestamps), held
to what a band can run at (12.5-100 Hz), unless the run names one.
"""

import math
from dataclasses import dataclass, field, replace

from contract.careplan import FallSensitivity
from contract.rules import FallSettings, GatewayRules
from edge.ble.advert import Advert
from edge.decode.bthome import BTHomeDecoder, Reject
from edge.decode.profile import interpret
from edge.rules.config import RulesConfig
from edge.rules.engine import RuleEngine
from edge.rules.fall_sensitivity import fall_settings_for
from firmware_mocks.fall_detector import FallEvidence
from firmware_mocks.fall_thresholds import FallThresholds
from firmware_mocks.motion import MotionFirmware
from firmware_mocks.resample import MAX_RATE_HZ, MIN_RATE_HZ
from firmware_mocks.wristband import Wristband
from silverguard.falls.dataset import Recording, Sample
from silverguard.falls.recording import RecordingData

_MAC = "C2:FA:11:00:00:01"
_KEY = bytes(range(16))
# Recordings start at t = 0; the rules run on Unix time.
_EPOCH = 1_790_000_000.0
# A flag up to this long before the recording's absolute peak still belongs to the
# fall: the band may judge an earlier, slightly smaller impact of the same fall.
EARLY_S = 1.0


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How every recording of a run is replayed."""

    advert_interval_s: float = 1.0
    summary_detection: bool = True
    sensitivity: FallSensitivity = FallSensitivity.STANDARD
    band_rate_hz: float | None = None  # None: the recording's own rate
    # Band thresholds instead of the sensitivity level's (a tuning run's choice).
    thresholds: FallThresholds | None = None

    def band_thresholds(self) -> FallThresholds:
        return self.thresholds or FallThresholds.for_sensitivity(self.sensitivity)


@dataclass(frozen=True, slots=True)
class Flag:
    t: float  # recording time when the rule flagged a fall
    source: str  # band (its fall flag) or summaries (the gateway's own detection)


@dataclass(slots=True)
class RecordingResult:
    file: str
    subject: str
    activity: str
    is_fall: bool
    duration_s: float
    peak_t: float
    peak_g: float
    data_rate_hz: float
    band_rate_hz: float
    flags: list[Flag] = field(default_factory=list)
    best_score: float | None = None  # highest band-detector score seen (diagnostics)
    warnings: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    @property
    def latency_s(self) -> float | None:
        if not self.is_fall:
            return None
        after = [f.t - self.peak_t for f in self.flags if f.t >= self.peak_t - EARLY_S]
        return min(after) if after else None


def band_rate_for(data_rate_hz: float, settings: RunSettings) -> float:
    """The run's band rate, or the recording's own to the nearest 0.5 Hz (timestamps
    jitter: 19.98 samples/s is a 20 Hz sensor), held to what a band runs at."""
    if settings.band_rate_hz is not None:
        return settings.band_rate_hz
    return min(MAX_RATE_HZ, max(MIN_RATE_HZ, round(data_rate_hz * 2) / 2))


def run_recording(
    recording: Recording, data: RecordingData, settings: RunSettings | None = None
) -> RecordingResult:
    """One recording through band firmware, radio format, decoder and fall rule."""
    settings = settings or RunSettings()
    samples = data.samples
    rate = band_rate_for(data.rate_hz, settings)
    peak_t, peak_g = peak_of(samples)
    band = Wristband(_MAC, _KEY, counter=1000, status_every=10)
    decoder = BTHomeDecoder({_MAC: _KEY})
    # A band resampling a slow recording to a faster grid gains no bandwidth: the
    # amplitude thresholds are those of the slower of the two.
    bandwidth = min(rate, data.rate_hz)
    fall = fall_settings_for(
        settings.sensitivity,
        FallSettings(summary_detection=settings.summary_detection),
        sensor_rate_hz=bandwidth,
    )
    engine = RuleEngine("gw-eval", RulesConfig(rules=GatewayRules(fall=fall)))
    firmware = MotionFirmware(
        settings.advert_interval_s,
        thresholds=settings.band_thresholds().for_sensor(bandwidth),
        sensor_rate_hz=rate,
    )
    result = RecordingResult(
        recording.file,
        recording.subject,
        recording.activity,
        recording.is_fall,
        duration_s=samples[-1][0] - samples[0][0],
        peak_t=peak_t,
        peak_g=peak_g,
        data_rate_hz=data.rate_hz,
        band_rate_hz=rate,
        warnings=list(data.warnings),
    )
    for t, ax, ay, az in samples:
        outputs = firmware.push(t, ax, ay, az)
        for output in outputs:
            if output.fall_flag:
                band.flag_fall()
            now = _EPOCH + output.t
            decoded = decoder.decode(Advert(_MAC, -60, band.next_service_data(output.summary), now))
            if isinstance(decoded, Reject):  # cannot happen: the band and key are ours
                raise RuntimeError(f"the gateway refused the band's own advert: {decoded}")
            engine.on_frame(interpret(decoded), now)
            engine.on_tick(now)
            for suspected in engine.take_suspected():
                result.flags.append(Flag(round(suspected.at - _EPOCH, 3), suspected.source))
    scores = [e.score for e in firmware.detector.evidence]
    result.best_score = round(max(scores), 3) if scores else None
    return result


def candidate_evidence(data: RecordingData, settings: RunSettings) -> list[FallEvidence]:
    """Every impact candidate of a recording with its features, none suppressed by an
    earlier flag: what a tuning run re-scores under each candidate threshold set."""
    rate = band_rate_for(data.rate_hz, settings)
    never = replace(settings.band_thresholds(), score_to_flag=math.inf)
    firmware = MotionFirmware(
        settings.advert_interval_s,
        thresholds=never.for_sensor(min(rate, data.rate_hz)),
        sensor_rate_hz=rate,
    )
    for t, ax, ay, az in data.samples:
        firmware.push(t, ax, ay, az)
    firmware.finish()
    return list(firmware.detector.evidence)


def peak_of(samples: list[Sample]) -> tuple[float, float]:
    """Time and magnitude of a recording's largest acceleration (taken as the impact)."""
    t, g = samples[0][0], 0.0
    for st, x, y, z in samples:
        m = math.sqrt(x * x + y * y + z * z)
        if m > g:
            t, g = st, m
    return t, g
